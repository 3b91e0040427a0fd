import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*'],
    pool: 'forks',
    maxWorkers: 2,
    restoreMocks: true,
  },
});
