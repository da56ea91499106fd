import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests drive the compiled CLI (worker threads need compiled JS): build once first.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: files run one at a time so timing-sensitive e2e tests do not starve each other.
    fileParallelism: false,
  },
});
