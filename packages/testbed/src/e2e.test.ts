import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { discoverE2eFiles, parseCounts, summaryLine } from './e2e.js';

const dir = mkdtempSync(join(tmpdir(), 'testbed-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('discoverE2eFiles', () => {
  it('finds packages/*/test/e2e/*.test.{mjs,cjs,js}, sorted, and reports TypeScript ones', () => {
    const put = (p: string): void => {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), '');
    };
    put('packages/b/test/e2e/z.test.mjs');
    put('packages/b/test/e2e/a.test.js');
    put('packages/a/test/e2e/x.test.cjs');
    put('packages/a/test/e2e/helper.mjs');
    put('packages/a/test/e2e/.hidden.test.mjs');
    put('packages/a/test/e2e/typed.test.ts');
    put('packages/a/test/native/n.test.mjs');
    put('packages/c/src/s.test.mjs');
    const r = discoverE2eFiles(dir);
    expect(r.files).toEqual(['packages/a/test/e2e/x.test.cjs', 'packages/b/test/e2e/a.test.js', 'packages/b/test/e2e/z.test.mjs'].map((p) => join(dir, p)));
    expect(r.ignored).toEqual([join(dir, 'packages/a/test/e2e/typed.test.ts')]);
  });

  it('returns nothing for a tree without packages', () => {
    expect(discoverE2eFiles(join(dir, 'nothing'))).toEqual({ files: [], ignored: [] });
  });

  it('finds this package’s own e2e test', () => {
    const repo = join(import.meta.dirname, '..', '..', '..');
    expect(discoverE2eFiles(repo).files.some((f) => f.endsWith('packages/testbed/test/e2e/kvm.test.mjs'))).toBe(true);
  });
});

describe('parseCounts / summaryLine', () => {
  it('reads the runner output and formats the closing line', () => {
    const c = parseCounts('{"passed":6,"failed":1,"skipped":2,"failures":["f > t"]}');
    expect(c).toEqual({ passed: 6, failed: 1, skipped: 2, failures: ['f > t'] });
    expect(summaryLine({ passed: 6, failed: 1, skipped: 2 })).toBe('e2e: 6 passed, 1 failed, 2 skipped');
  });

  it.each(['', '{', 'null', '[]', '{"passed":1,"failed":0}', '{"passed":-1,"failed":0,"skipped":0}', '{"passed":1.5,"failed":0,"skipped":0}'])('rejects %j', (t) => {
    expect(parseCounts(t)).toBeUndefined();
  });

  it('property: never throws', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v))), (t) => {
      const c = parseCounts(t);
      if (c !== undefined) expect(Number.isInteger(c.passed + c.failed + c.skipped)).toBe(true);
    }));
  });
});
