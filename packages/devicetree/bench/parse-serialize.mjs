#!/usr/bin/env node
// Benchmark: parse + re-serialize a corpus of real DTBs (Debian's arm64 kernel DTBs, see
// scripts/fetch-dtb-corpus.mjs) and compare with `dtc -I dtb -O dtb` on the same files in
// the same run. Needs the package built (npm run bench does that) and dtc installed.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDtb, serializeDtb } from '../dist/index.js';
import { locateCorpus } from '../scripts/fetch-dtb-corpus.mjs';

const corpus = locateCorpus({ log: (s) => console.error(`dtb corpus: ${s}`) });
if (corpus.dir === null) {
  console.error(`bench: no corpus: ${corpus.reason}`);
  process.exit(1);
}
if (spawnSync('dtc', ['--version']).error !== undefined) {
  console.error('bench: dtc not installed (apt-get install device-tree-compiler)');
  process.exit(1);
}
const files = corpus.files;
const blobs = files.map((f) => new Uint8Array(readFileSync(f)));
const bytes = blobs.reduce((n, b) => n + b.length, 0);
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

// 1. In-process: parse + serialize every DTB; best of 5 rounds after a warm-up.
const round = (fn) => {
  const t0 = process.hrtime.bigint();
  for (const b of blobs) fn(b);
  return ms(t0);
};
const both = (b) => serializeDtb(parseDtb(b));
round(both);
const best = (fn) => Math.min(...Array.from({ length: 5 }, () => round(fn)));
const tBoth = best(both);
const tParse = best((b) => parseDtb(b));
const trees = blobs.map((b) => parseDtb(b));
const tSer = (() => {
  let m = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (const t of trees) serializeDtb(t);
    m = Math.min(m, ms(t0));
  }
  return m;
})();

// 2. dtc: one process per file (its only mode), same files.
let t0 = process.hrtime.bigint();
for (const f of files) {
  const r = spawnSync('dtc', ['-q', '-I', 'dtb', '-O', 'dtb', '-o', '/dev/null', f]);
  if (r.status !== 0) throw new Error(`dtc failed on ${f}`);
}
const tDtc = ms(t0);

// 3. Process against process on a sample: our CLI (`gunyah-fdt rewrite`) vs dtc.
const cli = fileURLToPath(new URL('../dist/bin/gunyah-fdt.js', import.meta.url));
const sample = files.filter((_, i) => i % 12 === 0);
t0 = process.hrtime.bigint();
for (const f of sample) {
  const r = spawnSync(process.execPath, [cli, 'rewrite', f, '/dev/null']);
  if (r.status !== 0) throw new Error(`gunyah-fdt failed on ${f}: ${r.stderr}`);
}
const tCli = ms(t0);
t0 = process.hrtime.bigint();
for (const f of sample) spawnSync('dtc', ['-q', '-I', 'dtb', '-O', 'dtb', '-o', '/dev/null', f]);
const tDtcSample = ms(t0);

const mb = bytes / 1e6;
const row = (what, t, n = files.length, ref = undefined) =>
  `| ${what} | ${t.toFixed(1)} ms | ${((t * 1000) / n).toFixed(1)} µs | ${ref === undefined ? '' : `${(ref / t).toFixed(2)}×`} |`;
console.log(`corpus: ${files.length} DTBs, ${mb.toFixed(1)} MB (${corpus.source}); node ${process.version}`);
console.log('');
console.log('| what | total | per DTB | dtc time ÷ this |');
console.log('| --- | --- | --- | --- |');
console.log(row('parseDtb + serializeDtb (in process)', tBoth, files.length, tDtc));
console.log(row('parseDtb only', tParse, files.length, tDtc));
console.log(row('serializeDtb only', tSer, files.length, tDtc));
console.log(row('dtc -I dtb -O dtb (one process per DTB)', tDtc, files.length, tDtc));
console.log(row(`gunyah-fdt rewrite (one process per DTB, ${sample.length} DTBs)`, tCli, sample.length, tDtcSample));
console.log(row(`dtc -I dtb -O dtb (same ${sample.length} DTBs)`, tDtcSample, sample.length, tDtcSample));
console.log('');
console.log(`in-process throughput: ${(mb / (tBoth / 1000)).toFixed(1)} MB/s parse+serialize`);
