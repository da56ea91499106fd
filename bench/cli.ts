/** Runs the real `pipe` CLI in a scratch directory and collects its NDJSON events (for benchmarks). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliRun {
  readonly code: number | null;
  readonly seconds: number;
  readonly events: Array<Record<string, unknown> & { type: string }>;
  readonly stderr: string;
}

export function scratch(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `pipe-bench-${prefix}-`));
}

export function runPipe(dir: string, args: readonly string[]): CliRun {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'pipe.js'), ...args, '--json'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const events = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { type: string });
  return { code: result.status, seconds, events, stderr: result.stderr };
}

export function writePipeline(dir: string, name: string, yaml: string): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/** Runs a `pipe` command whose --json output is one JSON document (show, ls, compare). */
export function pipeJson<T>(dir: string, args: readonly string[]): T {
  const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'pipe.js'), ...args, '--json'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`pipe ${args.join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** Stages a run executed (not cached) and the sum of their durations; `only` narrows to those stages. */
export function ranStages(events: CliRun['events'], only?: readonly string[]): { count: number; seconds: number } {
  const done = events.filter((e) => e.type === 'stage-done' && (!only || only.includes(String(e['stage']))));
  return { count: done.length, seconds: done.reduce((a, e) => a + Number(e['seconds']), 0) };
}
