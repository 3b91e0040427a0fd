#!/usr/bin/env node
// Sums the vitest JSON reports of every package (packages/*/reports/*.json; the testbed writes its
// end-to-end counts there in the same shape) and prints the closing
// line CI reads: `vitest: N passed, N failed, N skipped`. Exits 1 on any failure, on a missing or
// unreadable report, or when no test ran at all.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const expect = process.argv.includes('--expect-all');
let passed = 0, failed = 0, skipped = 0, problems = 0;
const rows = [];
for (const pkg of readdirSync(join(root, 'packages')).sort()) {
  const dir = join(root, 'packages', pkg, 'reports');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
  if (files.length === 0) {
    if (expect && existsSync(join(root, 'packages', pkg, 'vitest.config.ts'))) {
      rows.push(`  ${pkg}: no report (did its tests run?)`);
      problems++;
    }
    continue;
  }
  for (const f of files) {
    try {
      const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      const p = r.numPassedTests ?? 0, fl = r.numFailedTests ?? 0;
      const s = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
      // A suite that failed to load (syntax error, import failure) has failed test files but no tests.
      const brokenFiles = (r.testResults ?? []).filter((t) => t.status === 'failed' && (t.assertionResults ?? []).length === 0).length;
      passed += p; failed += fl + brokenFiles; skipped += s;
      rows.push(`  ${pkg}/${f}: ${p} passed, ${fl + brokenFiles} failed, ${s} skipped`);
    } catch (e) {
      rows.push(`  ${pkg}/${f}: unreadable report (${e.message})`);
      problems++;
    }
  }
}
console.log('Test reports:');
for (const r of rows) console.log(r);
console.log(`vitest: ${passed} passed, ${failed + problems} failed, ${skipped} skipped`);
process.exit(failed + problems > 0 || passed === 0 ? 1 : 0);
