// Real-world corpus: every .dtb of Debian's arm64 kernel package (see scripts/fetch-dtb-corpus.mjs
// for where they come from). Parse, re-serialize, and compare dtc's decompilation of both.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { locateCorpus } from '../scripts/fetch-dtb-corpus.mjs';
import { parseDtb, serializeDtb, toDts, validateGunyahVmDt } from '../src/index.js';
import { NO_DTC, compile, decompile, hasDtc } from './dtc.js';

const corpus = hasDtc ? locateCorpus({ log: (s) => console.warn(`dtb corpus: ${s}`) }) : { dir: null, files: [], reason: NO_DTC };
if (corpus.dir === null) console.warn(`real-world DTB corpus test skipped: ${corpus.reason ?? 'unknown reason'}`);

describe.skipIf(corpus.dir === null)(`real-world corpus (${corpus.files.length} DTBs from ${corpus.source ?? 'nowhere'})`, () => {
  it('every DTB parses, re-serializes, and decompiles identically with dtc', { timeout: 600_000 }, () => {
    const failures: string[] = [];
    let identical = 0;
    for (const f of corpus.files) {
      const name = relative(corpus.dir ?? '', f);
      try {
        const orig = new Uint8Array(readFileSync(f));
        const tree = parseDtb(orig);
        const ours = serializeDtb(tree);
        if (ours.length === orig.length && ours.every((b, i) => b === orig[i])) identical++;
        if (decompile(ours) !== decompile(orig)) failures.push(`${name}: decompilation differs`);
        // Whatever the tree, the validator reports instead of throwing.
        validateGunyahVmDt(tree);
      } catch (e) {
        failures.push(`${name}: ${e instanceof Error ? `${e.name} ${(e as { code?: string }).code ?? ''} ${e.message}` : String(e)}`);
      }
    }
    console.info(`corpus: ${corpus.files.length} DTBs, ${identical} byte-identical after rewrite, ${failures.length} failures`);
    expect(failures).toEqual([]);
    expect(corpus.files.length).toBeGreaterThan(0);
  });

  it('our DTS printer output compiles back with dtc to the same tree (every 8th DTB)', { timeout: 600_000 }, () => {
    const failures: string[] = [];
    corpus.files.forEach((f, i) => {
      if (i % 8 !== 0) return;
      const orig = new Uint8Array(readFileSync(f));
      const tree = parseDtb(orig);
      const back = compile(toDts(tree), ['-b', String(tree.bootCpuid)]);
      if (decompile(back) !== decompile(orig)) failures.push(relative(corpus.dir ?? '', f));
    });
    expect(failures).toEqual([]);
  });
});
