import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'virtio',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    restoreMocks: true,
    // Under `npm test` two packages' suites share two cores; the property and worker tests need room.
    testTimeout: 30_000,
  },
});
