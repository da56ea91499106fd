import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests drive the compiled CLI (worker threads need compiled JS): build once first.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two files at a time: most e2e time is spent waiting on child processes (the CLI, workers,
    // redis, s3rver, a browser), so two files keep both cores busy. Tests wait for conditions,
    // never for a time, so a slower neighbour cannot reorder them.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
