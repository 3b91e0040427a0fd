// Micro-benchmark of the hypercall ABI lookups (the emulator's hot path): function ID → hypercall and
// answer, against a plain linear scan of the same table measured in the same run (the reference).
// Run: npm run bench -w @gunyah-ts/sys (after a build).
import { HYPERCALL_LIST, findHypercallBySmcccId, answerGunyahSmcccCall, DEFAULT_IDENTIFY_RESULT, decodeHypercallResult, decodeIdentifyResult } from '../dist/hypercall/index.js';

const ids = HYPERCALL_LIST.filter((d) => d.smcccFunctionId !== undefined).map((d) => d.smcccFunctionId);
const mixed = [...ids, 0x8600ff01, 0x8500ff01, 0x8600ff03, 0xc6008016, 0x84000000, 0xc6009fff];
// Reference: the obvious implementation, a linear scan over the table comparing function IDs.
const linear = (id) => HYPERCALL_LIST.find((d) => d.smcccFunctionId === id);
const identity = { identify: DEFAULT_IDENTIFY_RESULT };

function bench(name, fn, list) {
  const N = 1_000_000;
  let sink = 0;
  for (let i = 0; i < 100_000; i++) sink ^= fn(list[i % list.length]) === undefined ? 1 : 0; // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink ^= fn(list[i % list.length]) === undefined ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - t0) / N;
  return { name, nsPerOp: ns, sink };
}
const runs = [];
for (let r = 0; r < 5; r++) {
  runs.push([
    bench('findHypercallBySmcccId', findHypercallBySmcccId, ids),
    bench('linear scan (reference)', linear, ids),
    bench('answerGunyahSmcccCall (mixed IDs)', (id) => answerGunyahSmcccCall(id, identity), mixed),
    bench('decodeIdentifyResult', () => decodeIdentifyResult([0x4800_0000_0000_8001n, 0x1000_0fffn, 0n, 0n]), [0]),
    bench('decodeHypercallResult(vcpu_run)', () => decodeHypercallResult('vcpu_run', [0n, 4n, 0x9000_0000n, 4n, 0n]), [0]),
  ]);
}
const med = (k) => { const xs = runs.map((r) => r[k].nsPerOp).sort((a, b) => a - b); return xs[2]; };
runs[0].forEach((x, k) => console.log(`${x.name.padEnd(36)} ${med(k).toFixed(1).padStart(7)} ns/op  ${(1e3 / med(k)).toFixed(2)} M ops/s`));
console.log(`ratio linear-scan / findHypercallBySmcccId: ${(med(1) / med(0)).toFixed(2)}x`);
console.log(process.version, process.arch);
