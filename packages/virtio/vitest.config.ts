import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'virtio',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    restoreMocks: true,
  },
});
