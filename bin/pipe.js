#!/usr/bin/env node
// Entry point: the TypeScript sources are compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { main } from '../dist/runner/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
