import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'vmm-sample',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    restoreMocks: true,
    // The fake boots allocate guest RAM (64–256 MiB); on a loaded 2-core machine that can take seconds.
    testTimeout: 30_000,
  },
});
