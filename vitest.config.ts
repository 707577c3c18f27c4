import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration and e2e tests bind loopback ports and spawn processes; keep files isolated.
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
