/**
 * Test rig: a temp project dir, pipeline files written from strings, the real CLI run as a child
 * process with a scrubbed environment, and helpers to read its NDJSON events.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'bin', 'pipe.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Rig {
  dir: string;
  write(file: string, text: string): Promise<string>;
  pipe(args: readonly string[], options?: { env?: Record<string, string> }): Promise<CliResult>;
  spawnPipe(args: readonly string[], env?: Record<string, string>): ChildProcess;
  events(result: CliResult): Array<Record<string, unknown> & { type: string }>;
  cleanup(): Promise<void>;
}

function scrubbedEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PIPE_JOBS: '2', ...extra };
  for (const key of Object.keys(env)) if (key.startsWith('PIPE_') && !(key in extra) && key !== 'PIPE_JOBS') delete env[key];
  delete env['CI'];
  delete env['FASHION_MNIST_DIR'];
  return env;
}

export async function makeRig(): Promise<Rig> {
  const base = join(ROOT, 'test', '.tmp');
  await mkdir(base, { recursive: true });
  return rigAt(await mkdtemp(join(base, 'rig-')));
}

/** A rig over an existing directory (cleanup removes it). */
export function rigAt(dir: string): Rig {
  return {
    dir,
    async write(file, text) {
      const path = join(dir, file);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, text);
      return path;
    },
    pipe(args, options) {
      return new Promise((done) => {
        const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: scrubbedEnv(options?.env), stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => done({ code, stdout, stderr }));
      });
    },
    spawnPipe(args, env) {
      return spawn(process.execPath, [CLI, ...args], { cwd: dir, env: scrubbedEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    },
    events(result) {
      return result.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown> & { type: string });
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Stage names that ran / were cached, from a --json run. */
export function byStatus(events: ReadonlyArray<{ type: string; stage?: unknown }>, type: 'stage-done' | 'stage-cached' | 'stage-failed' | 'stage-skipped'): string[] {
  return events.filter((e) => e.type === type).map((e) => String(e.stage)).sort();
}
