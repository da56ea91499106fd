#!/usr/bin/env node
// Entry point: the TypeScript sources are compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { main } from '../dist/runner/cli/main.js';

// `pipe ls | head`: the reader left, so there is nobody to tell; stop quietly, as cat does.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
