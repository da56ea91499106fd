/**
 * Renders run events. TTY: one line per stage transition plus a live status line with progress bars
 * for running stages. Plain (CI, pipes): the same lines, progress at most every 10%. JSON: NDJSON.
 */
import { formatReason } from '../../artifacts/key.js';
import { assertNever } from '../../stages/errors.js';
import type { RunEvent, StageSummary } from '../execute/events.js';
import { bar, seconds, table } from './format.js';

export type Output = (text: string) => void;

export interface RunLogger {
  handle(event: RunEvent): void;
}

export function jsonLogger(write: Output): RunLogger {
  return { handle: (event) => write(`${JSON.stringify(event)}\n`) };
}

export function summaryTable(stages: readonly StageSummary[]): string {
  const rows = stages.map((s) => [s.stage, s.status, s.seconds !== undefined ? seconds(s.seconds) : '', s.key?.slice(0, 12) ?? '', s.status === 'ran' ? (s.reasons ?? []).map(formatReason).join('; ') : (s.detail ?? '')]);
  return table(['stage', 'status', 'time', 'artifact', 'why'], rows);
}

export function textLogger(write: Output, options: { tty: boolean; debug: boolean }): RunLogger {
  const running = new Map<string, { done: number; total: number; label?: string; lastPrinted: number }>();
  let nameWidth = 12;
  let statusShown = false;
  const clearStatus = (): void => {
    if (options.tty && statusShown) write('\r\x1b[2K');
    statusShown = false;
  };
  const drawStatus = (): void => {
    if (!options.tty || running.size === 0) return;
    const parts = [...running].map(([stage, p]) => (p.total > 0 ? `${stage} ${bar(p.done / p.total, 12)} ${p.label ?? `${p.done}/${p.total}`}` : `${stage} …`));
    const width = process.stdout.columns ?? 120;
    write(`\r\x1b[2K${parts.join('  |  ').slice(0, width - 1)}`);
    statusShown = true;
  };
  const line = (text: string): void => {
    clearStatus();
    write(`${text}\n`);
    drawStatus();
  };
  const name = (stage: string): string => stage.padEnd(nameWidth);

  return {
    handle(event) {
      switch (event.type) {
        case 'run-start':
          nameWidth = Math.max(8, ...event.stages.map((s) => s.length));
          line(`pipe: ${event.pipeline}: ${event.stages.length} stages, ${event.jobs} parallel, store ${event.store}`);
          break;
        case 'stage-cached':
          line(`  cached  ${name(event.stage)}${event.origin === 'remote' ? ' (from the remote cache)' : ''}`);
          break;
        case 'stage-waiting':
          line(`  waiting ${name(event.stage)} another run is computing it: ${event.holder}`);
          break;
        case 'stage-start':
          running.set(event.stage, { done: 0, total: 0, lastPrinted: -1 });
          line(`  start   ${name(event.stage)} (${event.reasons.map(formatReason).join('; ')})${event.threads !== undefined && event.threads > 1 ? ` on ${event.threads} threads` : ''}`);
          break;
        case 'stage-threads':
          // Only while it runs: a grant resized before the start shows in the start line.
          if (running.has(event.stage)) line(`  threads ${name(event.stage)} now ${event.threads} (cores ${event.threads > 1 ? 'lent by' : 'given back to'} the scheduler)`);
          break;
        case 'stage-queued':
          // Shown by the status line once the stage starts; NDJSON consumers see the event.
          break;
        case 'stage-assigned':
          line(`  worker  ${name(event.stage)} on ${event.worker}`);
          break;
        case 'stage-progress': {
          const state = running.get(event.stage);
          if (!state) break;
          state.done = event.done;
          state.total = event.total;
          if (event.label !== undefined) state.label = event.label;
          if (options.tty) {
            clearStatus();
            drawStatus();
          } else {
            const decile = Math.floor((10 * event.done) / Math.max(1, event.total));
            if (decile > state.lastPrinted) {
              state.lastPrinted = decile;
              line(`          ${name(event.stage)} ${bar(event.done / Math.max(1, event.total))} ${event.label ?? `${event.done}/${event.total}`}`);
            }
          }
          break;
        }
        case 'stage-log':
          line(`          ${name(event.stage)} ${event.message}`);
          break;
        case 'stage-done':
          running.delete(event.stage);
          line(`  done    ${name(event.stage)} ${seconds(event.seconds)}${event.backend ? ` [${event.backend}]` : ''}${event.worker ? ` on ${event.worker}` : ''}`);
          break;
        case 'stage-failed':
          running.delete(event.stage);
          line(`  FAILED  ${name(event.stage)} ${event.error.message}`);
          if (options.debug && event.error.stack) line(event.error.stack);
          else if (event.error.reason === 'internal') line('          (an internal error: rerun with --debug for the stack trace, and please report it)');
          break;
        case 'stage-skipped':
          line(`  skipped ${name(event.stage)} ${event.because}`);
          break;
        case 'artifact-repaired':
          line(`  repair  ${name(event.stage)} cached artifact is damaged (${event.detail}); rebuilding`);
          break;
        case 'notice':
          line(`pipe: ${event.message}`);
          break;
        case 'run-end': {
          running.clear();
          const count = (status: string): number => event.stages.filter((s) => s.status === status).length;
          line(`\n${summaryTable(event.stages)}\n`);
          line(`${count('ran')} ran, ${count('cached')} cached, ${count('failed')} failed, ${count('skipped')} skipped in ${seconds(event.seconds)}${event.interrupted ? ' (interrupted)' : ''}`);
          break;
        }
        default:
          assertNever(event);
      }
    },
  };
}
