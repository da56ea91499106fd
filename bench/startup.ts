/**
 * `npm run bench -- --only cli`: how fast the command line answers, as whole processes (node
 * bin/pipe.js, what a user waits for): `pipe --help`, `pipe status` of full-comparison.yaml on a
 * warm store, and a no-op `pipe run` of it (everything cached). Median of 10 each.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './cli.js';

const RUNS = 10;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Seconds one `pipe …` process takes, `RUNS` times; fails unless it exits with one of `codes`. */
function timed(dir: string, args: readonly string[], codes: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'pipe.js'), ...args], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 26 });
    out.push(Number(process.hrtime.bigint() - started) / 1e9);
    if (!codes.includes(result.status ?? -1)) throw new Error(`pipe ${args.join(' ')} exited ${String(result.status)}: ${result.stderr.slice(-1000)}`);
  }
  return out;
}

const round3 = (v: number): number => Number(v.toFixed(3));

/**
 * `store` must hold every stage of full-comparison.yaml (a finished `--only full` run, or any
 * store the pipeline ran in): then status exits 0 and the run executes nothing.
 */
export function benchStartup(store: string): Record<string, number | string> {
  const file = join(ROOT, 'pipelines', 'full-comparison.yaml');
  // One untimed pass warms the OS file cache, as a user's second command would find it.
  timed(ROOT, ['status', file, '--store', store], [0]);
  const help = timed(ROOT, ['--help'], [0]);
  const status = timed(ROOT, ['status', file, '--store', store], [0]);
  const noop = timed(ROOT, ['run', file, '--store', store], [0]);
  return {
    runs: RUNS,
    help_median_s: round3(median(help)),
    status_full_comparison_warm_median_s: round3(median(status)),
    noop_run_full_comparison_median_s: round3(median(noop)),
    help_min_max_s: `${round3(Math.min(...help))}–${round3(Math.max(...help))}`,
    status_min_max_s: `${round3(Math.min(...status))}–${round3(Math.max(...status))}`,
    noop_run_min_max_s: `${round3(Math.min(...noop))}–${round3(Math.max(...noop))}`,
  };
}
