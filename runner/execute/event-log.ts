/**
 * The run's event log: every RunEvent of a `pipe run`, one JSON object per line, appended to
 * `<store>/runs/<run id>.events.ndjson`, so another process (`pipe ui`) can follow a run live by
 * reading the file. The run record (<run id>.json) stays the summary; this is the blow-by-blow.
 *
 * The run's hot path stays cheap: events are buffered and appended at most every FLUSH_MS (and at
 * once for the events that change a stage's state), and progress events are throttled per stage,
 * keeping the latest, so a tight training loop reporting each batch costs a string push, not a write.
 */
import { appendFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunEvent } from './events.js';

export const EVENT_LOG_SUFFIX = '.events.ndjson';
const FLUSH_MS = 200;
const PROGRESS_MS = 250;

export function eventLogPath(storeRoot: string, runId: string): string {
  return join(storeRoot, 'runs', `${runId}${EVENT_LOG_SUFFIX}`);
}

/** The run id a log file belongs to, or undefined for any other file name. */
export function runIdOfEventLog(name: string): string | undefined {
  return name.endsWith(EVENT_LOG_SUFFIX) ? name.slice(0, -EVENT_LOG_SUFFIX.length) : undefined;
}

export interface EventLog {
  handle(event: RunEvent): void;
  /** Writes what is buffered; resolves when it is on disk. Further events are dropped. */
  close(): Promise<void>;
}

/**
 * A sink that never throws into the run: a full disk or a read-only store loses the live view,
 * never the run (the first failure is reported once through `warn`).
 */
export function eventLog(file: string, warn: (message: string) => void): EventLog {
  let lines: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let failed = false;
  let closed = false;
  const fail = (error: unknown): void => {
    if (failed) return;
    failed = true;
    warn(`could not write the run's event log ${file} (pipe ui will not show this run live): ${(error as Error).message}`);
  };
  // Settled by fail, never rejected: a failure here must not become an unhandled rejection.
  let writing: Promise<void> = mkdir(join(file, '..'), { recursive: true }).then(() => undefined, fail);
  // Per stage: when its last progress event was written, and the one held back since.
  const lastProgress = new Map<string, number>();
  const heldProgress = new Map<string, RunEvent>();

  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!lines.length) return;
    const text = lines.join('');
    lines = [];
    writing = writing.then(() => (failed ? undefined : appendFile(file, text))).catch(fail);
  };
  const push = (event: RunEvent): void => {
    lines.push(`${JSON.stringify({ ...event, t: Date.now() })}\n`);
  };
  const releaseHeld = (stage: string): void => {
    const held = heldProgress.get(stage);
    if (held) push(held);
    heldProgress.delete(stage);
  };

  return {
    handle(event) {
      if (closed) return;
      if (event.type === 'stage-progress') {
        const now = Date.now();
        if (now - (lastProgress.get(event.stage) ?? 0) < PROGRESS_MS) {
          heldProgress.set(event.stage, event);
          return;
        }
        lastProgress.set(event.stage, now);
        heldProgress.delete(event.stage);
        push(event);
      } else {
        if ('stage' in event) releaseHeld(event.stage);
        push(event);
      }
      // A stage changing state is what a viewer waits for: write it now. The rest can wait a beat.
      const urgent = event.type !== 'stage-progress' && event.type !== 'stage-log' && event.type !== 'stage-threads';
      if (urgent) flush();
      else if (!timer) {
        timer = setTimeout(flush, FLUSH_MS);
        timer.unref();
      }
    },
    async close() {
      if (closed) return writing;
      for (const stage of [...heldProgress.keys()]) releaseHeld(stage);
      closed = true;
      flush();
      return writing;
    },
  };
}

/**
 * Event logs of finished runs (those whose run record, `<run id>.json`, exists): only a live run's
 * log has a reader (`pipe ui` follows runs while they go; afterwards the run record is the summary),
 * so `pipe gc` removes the others instead of letting one file per run pile up.
 */
export async function finishedEventLogs(storeRoot: string): Promise<string[]> {
  const dir = join(storeRoot, 'runs');
  const names = new Set(await readdir(dir).catch(() => [] as string[]));
  return [...names].filter((name) => {
    const runId = runIdOfEventLog(name);
    return runId !== undefined && names.has(`${runId}.json`);
  }).map((name) => join(dir, name));
}
