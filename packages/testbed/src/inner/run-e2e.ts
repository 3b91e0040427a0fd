#!/usr/bin/env node
// Runs inside the arm64 host (started by test-e2e): runs the given end-to-end test files with
// node:test, one file at a time, prints the spec report, and writes the counts as JSON.
// usage: node run-e2e.js --results <file.json> [--timeout <ms>] <test files...>
import { writeFileSync } from 'node:fs';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { parseArgs } from 'node:util';

/** Counts written to the results file. */
export interface E2eCounts {
  passed: number;
  failed: number;
  skipped: number;
  failures: string[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { results: { type: 'string' }, timeout: { type: 'string' } },
});
const counts: E2eCounts = { passed: 0, failed: 0, skipped: 0, failures: [] };
const timeout = Number(values.timeout ?? 300_000);

interface TestEventData {
  name: string;
  nesting: number;
  skip?: string | boolean;
  todo?: string | boolean;
  file?: string;
  details?: { type?: string; error?: unknown };
}

const stream = run({ files: positionals, concurrency: 1, timeout });
stream.on('test:pass', (d: TestEventData) => {
  if (d.details?.type === 'suite') return;
  if (d.skip !== undefined && d.skip !== false) counts.skipped++;
  else counts.passed++;
});
stream.on('test:fail', (d: TestEventData) => {
  if (d.details?.type === 'suite') return;
  counts.failed++;
  counts.failures.push(`${d.file ?? ''} > ${d.name}`);
});
stream.compose(new spec()).pipe(process.stdout);
stream.on('end', () => {
  if (values.results !== undefined) writeFileSync(values.results, JSON.stringify(counts) + '\n');
  process.exitCode = counts.failed > 0 || counts.passed === 0 ? 1 : 0;
});
