/**
 * Follows the event logs of live runs (<store>/runs/<run id>.events.ndjson, written by
 * runner/execute/event-log.ts) and turns their events into the board's live states. Polls the
 * directory: fs.watch misses appends on some filesystems (NFS, overlay), and a poll every few
 * hundred milliseconds costs a readdir and a stat per log.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { processAlive } from '../../artifacts/lease.js';
import type { RunEvent } from '../execute/events.js';
import { runIdOfEventLog } from '../execute/event-log.js';
import type { Board } from './board.js';
import type { UiProgress } from './api-types.js';

const POLL_MS = 250;

interface Tailed {
  offset: number;
  partial: string;
  pipeline?: string;
  ended: boolean;
}

export interface TailHandlers {
  /** A stage's progress moved (no status change). */
  readonly onProgress: (pipeline: string, stage: string, progress: UiProgress) => void;
  /** A run started or ended: the run history changed. */
  readonly onRuns: () => void;
}

/** The process id a run id ends with (newRunId: `<time>-<pid>`). */
function pidOf(runId: string): number | undefined {
  const pid = Number(/-(\d+)$/.exec(runId)?.[1]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export class RunTail {
  private readonly logs = new Map<string, Tailed>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();

  constructor(
    private readonly root: string,
    private readonly board: Board,
    private readonly handlers: TailHandlers,
  ) {}

  /** Reads every log once (runs still alive are replayed from their start), then polls. */
  async start(): Promise<void> {
    await this.poll(true);
    let busy = false;
    this.timer = setInterval(() => {
      // A poll slower than the interval (a loaded machine) is not queued behind: the next tick skips.
      if (busy) return;
      busy = true;
      this.polling = this.poll(false)
        .catch(() => undefined)
        .finally(() => {
          busy = false;
        });
    }, POLL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.polling;
  }

  private async poll(first: boolean): Promise<void> {
    const dir = join(this.root, 'runs');
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const runId = runIdOfEventLog(name);
      if (runId === undefined) continue;
      let tailed = this.logs.get(runId);
      if (!tailed) {
        tailed = { offset: 0, partial: '', ended: false };
        this.logs.set(runId, tailed);
        // A log found at start-up whose process is gone is history, not a live run: skip it.
        if (first && !this.alive(runId)) {
          tailed.ended = true;
          continue;
        }
      }
      if (tailed.ended) continue;
      await this.readNew(join(dir, name), runId, tailed);
      if (!tailed.ended && !this.alive(runId)) this.end(runId, tailed);
    }
  }

  private alive(runId: string): boolean {
    const pid = pidOf(runId);
    return pid !== undefined && processAlive(pid);
  }

  private async readNew(path: string, runId: string, tailed: Tailed): Promise<void> {
    const size = (await stat(path).catch(() => undefined))?.size ?? 0;
    if (size <= tailed.offset) return;
    const handle = await open(path, 'r');
    let text: string;
    try {
      const buffer = Buffer.alloc(size - tailed.offset);
      await handle.read(buffer, 0, buffer.length, tailed.offset);
      text = tailed.partial + buffer.toString('utf8');
      tailed.offset = size;
    } finally {
      await handle.close();
    }
    const lines = text.split('\n');
    tailed.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      let event: RunEvent;
      try {
        event = JSON.parse(line) as RunEvent;
      } catch {
        continue; // a damaged line costs one event of the live view, nothing more
      }
      this.apply(runId, tailed, event);
    }
  }

  private end(runId: string, tailed: Tailed): void {
    tailed.ended = true;
    if (tailed.pipeline === undefined) return;
    this.board.runEnded(tailed.pipeline, runId);
    for (const file of this.board.filesOf(tailed.pipeline)) void this.board.refresh(file);
    this.handlers.onRuns();
  }

  private apply(runId: string, tailed: Tailed, event: RunEvent): void {
    if (event.type === 'run-start') {
      tailed.pipeline = event.pipeline;
      this.board.runStarted(event.pipeline, runId);
      this.handlers.onRuns();
      return;
    }
    const pipeline = tailed.pipeline;
    if (pipeline === undefined) return;
    const refresh = (): void => {
      for (const file of this.board.filesOf(pipeline)) void this.board.refresh(file);
    };
    switch (event.type) {
      case 'stage-queued':
      case 'stage-waiting':
        this.board.setLive(pipeline, runId, event.stage, { state: 'queued' });
        break;
      case 'stage-start':
      case 'stage-assigned':
        this.board.setLive(pipeline, runId, event.stage, { state: 'running' });
        break;
      case 'stage-progress': {
        const progress = { done: event.done, total: event.total, ...(event.label !== undefined ? { label: event.label } : {}) };
        this.board.setProgress(pipeline, event.stage, progress);
        this.handlers.onProgress(pipeline, event.stage, progress);
        break;
      }
      case 'stage-done':
      case 'stage-cached':
      case 'stage-skipped':
        this.board.setLive(pipeline, runId, event.stage, undefined);
        refresh();
        break;
      case 'stage-failed':
        this.board.setLive(pipeline, runId, event.stage, { state: 'failed', error: event.error.message });
        refresh();
        break;
      case 'run-end':
        this.end(runId, tailed);
        break;
      case 'stage-threads':
      case 'stage-log':
      case 'artifact-repaired':
      case 'notice':
        break;
    }
  }
}
