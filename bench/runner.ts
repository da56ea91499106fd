/**
 * Runner benchmarks: cold and no-op runs of pipelines/quick.yaml, and two independent CPU-heavy
 * stages run with --jobs 2 versus --jobs 1 (wall time versus the sum of the stages' durations).
 */
import { join } from 'node:path';
import { ranStages, ROOT, runPipe, scratch, writePipeline } from './cli.js';

// Two `inspect` stages on float data: each sorts 47M values for the median (CPU-bound, ~seconds).
const PARALLEL = `name: parallel-bench
stages:
  load: { kind: load }
  normalize: { kind: normalize, inputs: { data: load } }
  inspect-a: { kind: inspect, inputs: { data: normalize } }
  inspect-b: { kind: inspect, inputs: { data: normalize }, params: { samples_per_class: 5 } }
`;

export async function benchRunner(): Promise<Record<string, number | string>> {
  const quick = join(ROOT, 'pipelines', 'quick.yaml');
  const dir = scratch('quick');
  const cold = runPipe(dir, ['run', quick]);
  if (cold.code !== 0) throw new Error(`quick pipeline failed: ${cold.stderr}`);
  const noop = runPipe(dir, ['run', quick]);
  const results: Record<string, number | string> = { quick_cold_s: round(cold.seconds), quick_noop_s: round(noop.seconds) };

  for (const jobs of [2, 1]) {
    const pdir = scratch(`parallel${jobs}`);
    const file = writePipeline(pdir, 'p.yaml', PARALLEL);
    const prep = runPipe(pdir, ['run', file, '--stage', 'normalize']);
    if (prep.code !== 0) throw new Error(`parallel bench failed: ${prep.stderr}`);
    const started = Date.now();
    const run = runPipe(pdir, ['run', file, '--jobs', String(jobs)]);
    const wall = (Date.now() - started) / 1000;
    const sum = ranStages(run.events, ['inspect-a', 'inspect-b']).seconds;
    results[`two_inspects_jobs${jobs}_wall_s`] = round(wall);
    results[`two_inspects_jobs${jobs}_sum_of_stage_s`] = round(sum);
  }
  return results;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
