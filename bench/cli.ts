/** Runs the real `pipe` CLI in a scratch directory and collects its NDJSON events (for benchmarks). */
import { spawn, spawnSync } from 'node:child_process';
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

/** Like runPipe, without blocking the event loop (the workers bench keeps child processes going). */
export function runPipeAsync(dir: string, args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'pipe.js'), ...args, '--json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const events = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown> & { type: string });
      resolve({ code, seconds, events, stderr });
    });
  });
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
