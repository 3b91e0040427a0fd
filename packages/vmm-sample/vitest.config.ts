import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'vmm-sample',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    restoreMocks: true,
  },
});
