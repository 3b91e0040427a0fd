// Benchmark: load a 64 MiB file into memfd-backed (mmapped) guest memory.
//   ours:      GuestMemory.loadFile — read(2) straight into the mapping, no staging buffer
//   baseline:  fs.readFileSync (whole file in a JS Buffer) + Uint8Array.set into the same mapping
// Both run in this process, interleaved, after a warm-up; the file stays in the page cache.
// Run with `npm run bench` (builds first). Prints medians and the baseline/ours ratio.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { GuestMemory, guestAddress } from '../dist/index.js';

const SIZE = 64 * 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'vm-memory-bench-'));
const path = join(dir, 'blob.bin');
const data = new Uint8Array(SIZE);
for (let i = 0; i < SIZE; i += 4096) data[i] = (i >>> 12) & 0xff;
writeFileSync(path, data);

const mem = GuestMemory.createMemfd([{ start: 0x8000_0000n, size: SIZE }]);
const base = guestAddress(0x8000_0000n);
const view = mem.hostView(base, SIZE);

function ours() {
  const before = process.memoryUsage().arrayBuffers;
  const n = mem.loadFile(path, base);
  const staged = process.memoryUsage().arrayBuffers - before;
  if (n !== SIZE) throw new Error('short load');
  return staged;
}
function baseline() {
  const before = process.memoryUsage().arrayBuffers;
  const buf = readFileSync(path);
  view.set(buf);
  const staged = process.memoryUsage().arrayBuffers - before;
  return staged;
}
function time(fn) {
  globalThis.gc?.();
  const t0 = performance.now();
  const staged = fn();
  return { ms: performance.now() - t0, staged };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (let i = 0; i < 2; i++) {
  ours();
  baseline();
}
const a = [];
const b = [];
let stagedOurs = 0;
let stagedBase = 0;
for (let i = 0; i < ROUNDS; i++) {
  const x = time(ours);
  const y = time(baseline);
  a.push(x.ms);
  b.push(y.ms);
  stagedOurs = Math.max(stagedOurs, x.staged);
  stagedBase = Math.max(stagedBase, y.staged);
}
// Check the bytes really landed.
if (mem.readU8(guestAddress(0x8000_0000n + 4096n * 5n)) !== 5) throw new Error('bad contents');
const mo = median(a);
const mb = median(b);
const MiB = 1024 * 1024;
console.log(`load 64 MiB file into mmapped guest memory (${ROUNDS} rounds, median)`);
console.log(`  ours     GuestMemory.loadFile      ${mo.toFixed(1)} ms  ${(SIZE / MiB / (mo / 1000)).toFixed(0)} MiB/s  staging ${(stagedOurs / MiB).toFixed(1)} MiB`);
console.log(`  baseline readFileSync + set        ${mb.toFixed(1)} ms  ${(SIZE / MiB / (mb / 1000)).toFixed(0)} MiB/s  staging ${(stagedBase / MiB).toFixed(1)} MiB`);
console.log(`  ratio baseline/ours: ${(mb / mo).toFixed(2)}x (>= 1 means ours is not slower)`);
mem.close();
rmSync(dir, { recursive: true, force: true });
