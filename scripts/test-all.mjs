#!/usr/bin/env node
// `npm test`: everything a fresh machine needs to set up and test gunyah-ts, in order:
// Debian packages (as root), npm dependencies, build (TypeScript + native addon), type-check, unit and
// native tests, API docs (zero warnings), end-to-end tests in the arm64 testbed, and the closing line
// `vitest: N passed, N failed, N skipped`. Steps after a failed build are skipped; a failure in any
// later step still lets the others run, and makes the exit code non-zero.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' };
const skip = new Set((process.env.GUNYAH_TEST_SKIP ?? '').split(',').filter(Boolean));
const failures = [];
const t0 = Date.now();

function step(name, cmd, args, { fatal = false, timeoutMin = 30 } = {}) {
  if (skip.has(name)) {
    console.log(`\n=== ${name}: skipped (GUNYAH_TEST_SKIP)`);
    return true;
  }
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
  const start = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', env, timeout: timeoutMin * 60_000, killSignal: 'SIGTERM' });
  const secs = ((Date.now() - start) / 1000).toFixed(1);
  const ok = r.status === 0;
  console.log(`=== ${name}: ${ok ? 'ok' : r.error?.code === 'ETIMEDOUT' ? `TIMED OUT after ${timeoutMin} min` : `FAILED (exit ${r.status ?? r.signal})`} in ${secs}s`);
  if (!ok) {
    failures.push(name);
    if (fatal) finish();
  }
  return ok;
}

function finish() {
  step('summary', process.execPath, ['scripts/summarize-vitest.mjs', '--expect-all']);
  const mins = ((Date.now() - t0) / 60_000).toFixed(1);
  if (failures.length) console.log(`\nnpm test: FAILED steps: ${failures.join(', ')} (${mins} min)`);
  else console.log(`\nnpm test: all steps passed (${mins} min)`);
  process.exit(failures.length ? 1 : 0);
}

function installNeeded() {
  const lock = join(root, 'package-lock.json');
  const stamp = join(root, 'node_modules', '.package-lock.json');
  return !existsSync(stamp) || statSync(lock).mtimeMs > statSync(stamp).mtimeMs;
}

step('system packages', 'bash', ['scripts/setup-system.sh'], { fatal: true, timeoutMin: 20 });
if (installNeeded()) step('npm ci', 'npm', ['ci', '--no-audit', '--no-fund'], { fatal: true, timeoutMin: 15 });
else console.log('\n=== npm ci: node_modules is up to date');

// Fresh reports only: a stale report must never count.
for (const pkg of readdirSync(join(root, 'packages'))) rmSync(join(root, 'packages', pkg, 'reports'), { recursive: true, force: true });

const turbo = join(root, 'node_modules', '.bin', 'turbo');
step('build', turbo, ['run', 'build', 'build:native', '--concurrency=2', '--output-logs=errors-only'], { fatal: true });
const haveTestbed = existsSync(join(root, 'packages', 'testbed', 'package.json'));
// The testbed cache also holds a real Debian arm64 kernel that unit tests use when present.
if (haveTestbed) step('prepare arm64 testbed', 'npm', ['run', 'prepare-testbed', '-w', '@gunyah-ts/testbed'], { timeoutMin: 20 });
step('typecheck', turbo, ['run', 'typecheck', '--concurrency=2', '--output-logs=errors-only']);
step('unit and native tests', turbo, ['run', 'test', '--concurrency=2', '--continue']);
step('api docs', join(root, 'node_modules', '.bin', 'typedoc'), []);
if (haveTestbed) {
  step('end-to-end tests (arm64 testbed)', 'npm', ['run', 'test:e2e'], { timeoutMin: 40 });
}
finish();
