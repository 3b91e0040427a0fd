import { defineProject } from 'vitest/config';

// Only the pure tests of the tooling run here (on the x86 machine). The end-to-end tests in
// test/e2e/*.test.mjs run inside the arm64 testbed through `npm run test:e2e`, under node:test.
export default defineProject({
  test: {
    name: 'testbed',
    include: ['src/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    restoreMocks: true,
  },
});
