import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'rm-proto',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    restoreMocks: true,
    // fast-check suites run hundreds of cases; CI shares 2 cores between jobs
    testTimeout: 20_000,
  },
});
