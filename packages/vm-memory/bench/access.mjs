// Micro-benchmark of the access hot path: 4-byte reads at random aligned addresses.
//   ours:      GuestMemory.readU32 (address check, region lookup, host-access check, bounds check)
//   baseline:  DataView.getUint32 on a buffer of the same size, from the same bigint addresses,
//              without any check (Number(addr) - base as the offset)
import { performance } from 'node:perf_hooks';
import { GuestMemory, guestAddress } from '../dist/index.js';

const SIZE = 16 * 1024 * 1024;
const N = 2_000_000;
const mem = GuestMemory.fromBuffers([
  { start: 0x8000_0000n, size: SIZE / 2 },
  { start: 0x8000_0000n + BigInt(SIZE / 2), size: SIZE / 2, mode: 'lent' },
]);
const dv = new DataView(new ArrayBuffer(SIZE));
const offs = new Uint32Array(N);
let x = 7;
for (let i = 0; i < N; i++) {
  x = (x * 1103515245 + 12345) >>> 0;
  offs[i] = (x % (SIZE / 4)) * 4;
}
const addrs = Array.from(offs, (o) => guestAddress(0x8000_0000n + BigInt(o)));
function ours() {
  let s = 0;
  for (let i = 0; i < N; i++) s += mem.readU32(addrs[i]);
  return s;
}
function baseline() {
  let s = 0;
  for (let i = 0; i < N; i++) s += dv.getUint32(Number(addrs[i]) - 0x8000_0000, true);
  return s;
}
const time = (fn) => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};
for (let i = 0; i < 3; i++) {
  ours();
  baseline();
}
const a = [];
const b = [];
for (let i = 0; i < 5; i++) {
  a.push(time(ours));
  b.push(time(baseline));
}
const med = (xs) => [...xs].sort((p, q) => p - q)[2];
const mo = med(a);
const mb = med(b);
console.log(`readU32 at ${N} random addresses over 2 regions (5 rounds, median)`);
console.log(`  ours     GuestMemory.readU32   ${((mo * 1e6) / N).toFixed(0)} ns/op`);
console.log(`  baseline DataView.getUint32    ${((mb * 1e6) / N).toFixed(1)} ns/op (unchecked)`);
console.log(`  ratio ours/baseline: ${(mo / mb).toFixed(1)}x slower (the price of checked access)`);
