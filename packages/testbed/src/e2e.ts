import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** File names the e2e runner picks up in `packages/<pkg>/test/e2e/`. */
export const E2E_FILE = /^[^.].*\.test\.(mjs|cjs|js)$/;

/**
 * Lists the end-to-end test files of every package: `packages/*\/test/e2e/*.test.{mjs,cjs,js}`,
 * sorted. TypeScript files there are reported in `ignored` (Node 20 in the host cannot run them).
 */
export function discoverE2eFiles(repo: string): { files: string[]; ignored: string[] } {
  const files: string[] = [];
  const ignored: string[] = [];
  const packages = join(repo, 'packages');
  if (!existsSync(packages)) return { files, ignored };
  for (const pkg of readdirSync(packages).sort()) {
    const dir = join(packages, pkg, 'test', 'e2e');
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (E2E_FILE.test(name)) files.push(join(dir, name));
      else if (/\.test\.[cm]?tsx?$/.test(name)) ignored.push(join(dir, name));
    }
  }
  return { files, ignored };
}

/** Counts of one e2e run. */
export interface E2eSummary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

/** The closing line CI reads: `e2e: N passed, N failed, N skipped`. */
export function summaryLine(s: E2eSummary): string {
  return `e2e: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`;
}

/** Reads the counts JSON written by the in-host runner; undefined when it is missing or malformed. */
export function parseCounts(text: string): (E2eSummary & { failures: string[] }) | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const n = (k: string): number | undefined => (typeof o[k] === 'number' && Number.isInteger(o[k]) && (o[k] as number) >= 0 ? (o[k] as number) : undefined);
  const passed = n('passed');
  const failed = n('failed');
  const skipped = n('skipped');
  if (passed === undefined || failed === undefined || skipped === undefined) return undefined;
  const failures = Array.isArray(o['failures']) ? o['failures'].filter((x): x is string => typeof x === 'string') : [];
  return { passed, failed, skipped, failures };
}
