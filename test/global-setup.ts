import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';

/**
 * Compiles the project once (end-to-end tests drive the compiled CLI; worker threads need JS) and
 * makes a directory that lives as long as the session, for what test files share (tiny-store.ts).
 */
export default function setup(project: TestProject): () => void {
  if (process.env['PIPE_TEST_SKIP_BUILD'] !== '1') {
    // Incremental, with its record inside dist/ (removing dist/ removes it too): an edit-loop rerun
    // recompiles only what changed, seconds instead of ~20 s.
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo'], { stdio: 'inherit' });
    // As `npm run build` does: the CLI then validates with precompiled schemas (the sources, which
    // unit tests import, compile them at first use), so the suite covers both paths.
    execFileSync(process.execPath, ['dist/runner/config/precompile-schemas.js'], { stdio: 'inherit' });
  }
  const base = resolve('test', '.tmp');
  mkdirSync(base, { recursive: true });
  const sessionDir = mkdtempSync(join(base, 'session-'));
  project.provide('sessionDir', sessionDir);
  return () => rmSync(sessionDir, { recursive: true, force: true });
}
