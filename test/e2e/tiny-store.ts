/**
 * TEMPORARY (branch ui): the owner's main has its own test/e2e/tiny-store.ts with this signature;
 * keep main's. This stand-in builds pipelines/tiny.yaml once into test/.tmp/shared-tiny-store and
 * reuses it while `pipe status` says it is fresh, so repeated runs of the ui tests do not retrain.
 * Treat the result as READ-ONLY: copy it before changing anything.
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, ROOT } from './rig.js';

let shared: Promise<{ dir: string; store: string; pipeline: string }> | undefined;

function pipe(dir: string, args: readonly string[]): { code: number | null; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, PIPE_JOBS: '2' };
  for (const key of Object.keys(env)) if (key.startsWith('PIPE_') && key !== 'PIPE_JOBS') delete env[key];
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, env, encoding: 'utf8' });
  return { code: result.status, stderr: result.stderr };
}

export function sharedTinyStore(): Promise<{ dir: string; store: string; pipeline: string }> {
  shared ??= (async () => {
    const dir = join(ROOT, 'test', '.tmp', 'shared-tiny-store');
    await mkdir(dir, { recursive: true });
    const pipeline = join(dir, 'tiny.yaml');
    const store = join(dir, 'store');
    await copyFile(join(ROOT, 'pipelines', 'tiny.yaml'), pipeline);
    if (pipe(dir, ['status', 'tiny.yaml', '--store', store]).code !== 0) {
      const run = pipe(dir, ['run', 'tiny.yaml', '--store', store]);
      if (run.code !== 0) throw new Error(`building the shared tiny store failed (exit ${run.code}): ${run.stderr.slice(-2000)}`);
    }
    return { dir, store, pipeline };
  })();
  return shared;
}
