// Benchmark: encode + decode of RM messages, in messages per second, with a reference workload
// measured in the same run so the ratio is comparable across machines.
// Run with `npm run bench` (builds first). Plain JS on the built package: no TS loader needed.
import { RM_NOTIFICATIONS, RM_REQUESTS, RmReassembler, encodeMessage } from '../dist/index.js';

const TIME_MS = Number(process.env.BENCH_MS ?? 400);
const ROUNDS = 5;

/** Median ops/s of `fn` over ROUNDS timed rounds. */
function measure(fn) {
  for (let i = 0; i < 200; i++) fn(); // warm-up
  const rates = [];
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(TIME_MS) * 1_000_000n;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 16; i++) fn();
      n += 16;
      now = process.hrtime.bigint();
    }
    rates.push((n * 1e9) / Number(now - start));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(ROUNDS / 2)];
}

/** Reference: the same bytes through a JSON round trip (array of numbers), per fragment. */
function jsonRoundTrip(fragments) {
  let total = 0;
  for (const f of fragments) total += Uint8Array.from(JSON.parse(JSON.stringify(Array.from(f)))).byteLength;
  return total;
}

/** Reference: a plain Buffer copy of the same bytes, per fragment. */
function bufferCopy(fragments) {
  let total = 0;
  for (const f of fragments) total += Buffer.from(f).byteLength;
  return total;
}

function roundTrip(type, def, codec, value) {
  return () => {
    const fragments = encodeMessage({ type, seq: 1, msgId: def.id, payload: codec.encode(value) });
    const r = new RmReassembler();
    let message = null;
    for (const f of fragments) message = r.push(f).message ?? message;
    return codec.decode(message.payload);
  };
}

const sgl = Array.from({ length: 512 }, (_, i) => ({ address: 0x8_8000_0000n + BigInt(i) * 0x2000n, size: 0x1000n }));
const share = { memType: 0, flags: 0, label: 0, acl: [{ vmid: 0x80, rights: 6 }, { vmid: 3, rights: 7 }], sgl, attrs: [] };
const status = { vmid: 0x80, vmStatus: 3, osStatus: 0, appStatus: 0 };
const start = { vmid: 0x80 };

const cases = [
  ['MEM_SHARE, 512 SGL entries', 'request', RM_REQUESTS.MEM_SHARE, RM_REQUESTS.MEM_SHARE.request, share],
  ['VM_STATUS notification (8 B)', 'notification', RM_NOTIFICATIONS.VM_STATUS, RM_NOTIFICATIONS.VM_STATUS.payload, status],
  ['VM_START request (4 B)', 'request', RM_REQUESTS.VM_START, RM_REQUESTS.VM_START.request, start],
];

console.log(`node ${process.version}, ${TIME_MS} ms × ${ROUNDS} rounds per figure (median)\n`);
console.log('| message | payload | fragments | encode+decode msg/s | JSON round trip of the bytes msg/s | ratio | Buffer copy msg/s |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [label, type, def, codec, value] of cases) {
  const payload = codec.encode(value);
  const fragments = encodeMessage({ type, seq: 1, msgId: def.id, payload });
  const ours = measure(roundTrip(type, def, codec, value));
  const json = measure(() => jsonRoundTrip(fragments));
  const copy = measure(() => bufferCopy(fragments));
  const fmt = (x) => Math.round(x).toLocaleString('en-US');
  console.log(`| ${label} | ${payload.byteLength} B | ${fragments.length} | ${fmt(ours)} | ${fmt(json)} | ${(ours / json).toFixed(2)}× | ${fmt(copy)} |`);
}
