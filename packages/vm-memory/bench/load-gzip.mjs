// Benchmark: load a gzip-compressed 64 MiB arm64 Image into memfd-backed guest memory.
//   ours:      loadKernel — streaming inflate, each output chunk copied into the mapping
//   baseline:  readFileSync + zlib.gunzipSync (whole image in a JS Buffer) + Uint8Array.set
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GuestMemory, guestAddress } from '../dist/index.js';
import { loadKernel, planLayout } from '../dist/loader/index.js';

const SIZE = 64 * 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'vm-memory-bench-'));
const path = join(dir, 'Image.gz');
// A synthetic Image: valid header, then a mix of text-like and random bytes (compresses ~3:1).
const img = new Uint8Array(SIZE);
const v = new DataView(img.buffer);
v.setBigUint64(16, BigInt(SIZE + 0x100000), true);
v.setBigUint64(24, 0b1010n, true);
v.setUint32(56, 0x644d5241, true);
let x = 1;
for (let i = 64; i < SIZE; i++) {
  x = (x * 1103515245 + 12345) >>> 0;
  img[i] = i % 4 === 0 ? x >>> 24 : (i >>> 6) & 0x3f;
}
writeFileSync(path, gzipSync(img, { level: 6 }));

const mem = GuestMemory.createMemfd([{ start: 0x8000_0000n, size: 128 * 1024 * 1024 }]);
const plan = planLayout({ memSize: 128 * 1024 * 1024, kernel: { textOffset: 0, imageSize: SIZE + 0x100000 } });
const view = mem.hostView(guestAddress(0x8000_0000n), SIZE);

async function ours() {
  const r = await loadKernel(mem, plan, path);
  if (r.size !== SIZE) throw new Error('short load');
}
async function baseline() {
  const out = gunzipSync(readFileSync(path));
  view.set(out);
}
async function time(fn) {
  globalThis.gc?.();
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
await ours();
await baseline();
const a = [];
const b = [];
for (let i = 0; i < ROUNDS; i++) {
  a.push(await time(ours));
  b.push(await time(baseline));
}
const mo = median(a);
const mb = median(b);
console.log(`load a gzip 64 MiB Image into mmapped guest memory (${ROUNDS} rounds, median)`);
console.log(`  ours     loadKernel (streaming inflate)   ${mo.toFixed(1)} ms`);
console.log(`  baseline gunzipSync + set                 ${mb.toFixed(1)} ms`);
console.log(`  ratio baseline/ours: ${(mb / mo).toFixed(2)}x`);
mem.close();
rmSync(dir, { recursive: true, force: true });
