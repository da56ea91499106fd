/**
 * One store of pipelines/tiny.yaml per test session, shared READ-ONLY by the test files that only
 * read it (the tiny checks, the report's browser test, the queue's comparison with a local run).
 * tiny trains seven models and scores seven robustness sets: about a minute here, which five files
 * used to pay each. Whichever file asks first builds it (the others wait for its result file); a
 * test that changes the store works on a copy (`copySharedTiny`).
 */
import { cp, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inject } from 'vitest';
import { rigAt, ROOT, type CliResult } from './rig.js';

export const TINY = join(ROOT, 'pipelines', 'tiny.yaml');

export interface SharedTiny {
  /** The run's working directory: the store is `dir/.pipe`, the published report `dir/reports/tiny.html`. */
  readonly dir: string;
  readonly store: string;
  readonly pipeline: string;
  /** The building run (`pipe run tiny.yaml --json`): its exit code, NDJSON stdout and stderr. */
  readonly build: CliResult;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** A directory that lives as long as the test session (test/global-setup.ts). */
    sessionDir: string;
  }
}

let shared: Promise<SharedTiny> | undefined;

async function waitForFile(path: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await readFile(path, 'utf8');
    } catch {
      if (Date.now() > deadline) throw new Error(`the shared tiny store was not built within ${timeoutMs / 1000} s (${path} missing)`);
      // Another test process is building it: look again shortly (a condition, not an ordering sleep).
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

async function build(): Promise<SharedTiny> {
  const dir = join(inject('sessionDir'), 'tiny');
  const result = join(inject('sessionDir'), 'tiny-build.json');
  let builder = true;
  try {
    // mkdir is atomic: exactly one process of the session builds.
    await mkdir(dir);
  } catch {
    builder = false;
  }
  let run: CliResult;
  if (builder) {
    run = await rigAt(dir).pipe(['run', TINY, '--json']);
    await writeFile(`${result}.tmp`, JSON.stringify(run));
    await rename(`${result}.tmp`, result);
  } else {
    run = JSON.parse(await waitForFile(result, 600_000)) as CliResult;
  }
  if (run.code !== 0) throw new Error(`building the shared tiny store failed (exit ${run.code}):\n${run.stderr.slice(-3000)}`);
  return { dir, store: join(dir, '.pipe'), pipeline: TINY, build: run };
}

/** The session's tiny.yaml store, built on first use. Treat it as read-only. */
export function sharedTinyStore(): Promise<SharedTiny> {
  shared ??= build();
  return shared;
}

/** Copies the shared store to `into/.pipe`, for tests that add to or change it. */
export async function copySharedTiny(into: string): Promise<void> {
  const tiny = await sharedTinyStore();
  await cp(tiny.store, join(into, '.pipe'), { recursive: true });
}
