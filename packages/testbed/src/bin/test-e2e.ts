#!/usr/bin/env node
// npm run test:e2e: prepare the testbed, check the guest payload under QEMU, run every
// packages/*/test/e2e/*.test.mjs inside the arm64 host, and print `e2e: N passed, N failed, N skipped`.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { discoverE2eFiles, parseCounts, summaryLine } from '../e2e.js';
import { TestbedError } from '../errors.js';
import { execBounded } from '../exec.js';
import { cacheDir, packageDir, repoRoot } from '../paths.js';
import { prepare } from '../prepare.js';
import { checkGuestPayload, runInHost } from '../qemu.js';

const USAGE = `usage: test-e2e [--no-build] [--timeout <s>] [files...]
  --no-build   do not run \`tsc -b\` at the repository root first
  --timeout    time limit for the tests inside the host (default 600)
  files        e2e test files (default: packages/*/test/e2e/*.test.{mjs,cjs,js})`;

const log = (l: string): void => {
  process.stderr.write(`testbed: ${l}\n`);
};
const t0 = Date.now();
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'no-build': { type: 'boolean' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const timeoutS = Number(values.timeout ?? 600);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new TestbedError('BAD_ARGS', '--timeout needs seconds');

  if (values['no-build'] !== true) {
    log('building the TypeScript packages (tsc -b at the repository root)');
    await execBounded(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-b'], { cwd: repoRoot, timeoutMs: 300_000, what: 'tsc -b' });
  }
  const manifest = await prepare({ log });

  // 1. the guest payload boots under QEMU directly (sanity check of what later tests boot nested)
  try {
    const g = await checkGuestPayload(manifest);
    passed++;
    log(`ok: guest payload boots under QEMU in ${(g.ms / 1000).toFixed(1)} s (${g.checkLine})`);
  } catch (err) {
    failed++;
    log(`FAIL: guest payload: ${err instanceof Error ? err.message : String(err)}`);
  }

  // 2. the e2e files, inside the arm64 host
  const found = discoverE2eFiles(repoRoot);
  for (const f of found.ignored) log(`warning: ${relative(repoRoot, f)} ignored: e2e files run under Node 20 in the host and must be .mjs/.js`);
  const files = positionals.length > 0 ? positionals.map((p) => resolve(p)) : found.files;
  for (const f of files) if (!existsSync(f)) throw new TestbedError('BAD_ARGS', `no such test file: ${f}`);
  if (files.length === 0) {
    log('warning: no e2e test files found');
  } else {
    log(`running ${files.length} e2e file(s) in the host: ${files.map((f) => relative(repoRoot, f)).join(', ')}`);
    const results = join(cacheDir(), `e2e-results-${randomBytes(4).toString('hex')}.json`);
    try {
      const r = await runInHost(manifest, {
        command: ['node', join(packageDir, 'dist', 'inner', 'run-e2e.js'), '--results', results, '--timeout', String(timeoutS * 1000), ...files],
        commandTimeoutMs: (timeoutS + 30) * 1000,
        log,
      });
      const counts = existsSync(results) ? parseCounts(readFileSync(results, 'utf8')) : undefined;
      if (counts === undefined) {
        failed++;
        log(`FAIL: the in-host runner exited ${r.exitCode} without results (serial log ${r.serialLog})`);
      } else {
        passed += counts.passed;
        failed += counts.failed;
        skipped += counts.skipped;
        for (const f of counts.failures) log(`FAIL: ${f}`);
      }
      log(`host: boot ${(r.bootMs / 1000).toFixed(1)} s, tests ${(r.commandMs / 1000).toFixed(1)} s; serial log ${r.serialLog}`);
    } finally {
      rmSync(results, { force: true });
    }
  }
} catch (err) {
  failed++;
  process.stderr.write(`testbed test:e2e failed: ${err instanceof TestbedError ? `[${err.code}] ${err.message}` : String(err)}\n`);
}
log(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.stdout.write(`${summaryLine({ passed, failed, skipped })}\n`);
// The repository's closing line (scripts/summarize-vitest.mjs) adds these counts to the unit tests'.
mkdirSync(join(packageDir, 'reports'), { recursive: true });
writeFileSync(
  join(packageDir, 'reports', 'e2e.json'),
  JSON.stringify({ numPassedTests: passed, numFailedTests: failed, numPendingTests: skipped, numTodoTests: 0, testResults: [] }) + '\n',
);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
