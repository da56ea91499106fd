import { execFileSync } from 'node:child_process';

/** Compiles the project once: end-to-end tests drive the compiled CLI (worker threads need JS). */
export default function setup(): void {
  if (process.env['PIPE_TEST_SKIP_BUILD'] === '1') return;
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  // As `npm run build` does: the CLI then validates with precompiled schemas (the sources, which
  // unit tests import, compile them at first use), so the suite covers both paths.
  execFileSync(process.execPath, ['dist/runner/config/precompile-schemas.js'], { stdio: 'inherit' });
}
