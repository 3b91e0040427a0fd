import fc from 'fast-check';
import { GuestMemory } from '@gunyah-ts/vm-memory';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DriverQueue, ga, probe } from '../test/helpers/driver.js';
import { VIRTIO_MMIO, VIRTIO_STATUS, VIRTQ_DESC_F } from './constants.js';
import { VirtioBlock } from './devices/block.js';
import { VirtioConsole } from './devices/console.js';
import { VirtioRng } from './devices/rng.js';
import { VirtqueueError } from './errors.js';
import { SplitQueue } from './queue.js';
import { VirtioMmioTransport } from './transport.js';

// Two regions with a hole between them, so "outside memory" has three shapes: below, between, above.
const R1 = 0x10000n;
const R1_SIZE = 0x10000;
const R2 = 0x30000n;
const R2_SIZE = 0x8000;
const QUEUE_AT = R1;
const DATA_AT = R1 + 0x4000n; // above any queue of ≤ 64 entries
const INDIRECT_AT = R2; // a second table area for indirect descriptors

function memory(): GuestMemory {
  return GuestMemory.fromBuffers([
    { start: R1, size: R1_SIZE },
    { start: R2, size: R2_SIZE },
  ]);
}

const addrArb = fc.oneof(
  fc.bigInt({ min: DATA_AT, max: R1 + BigInt(R1_SIZE) + 0x100n }), // data area and just past R1
  fc.bigInt({ min: R2 - 0x100n, max: R2 + BigInt(R2_SIZE) + 0x100n }), // around R2
  fc.constantFrom(0n, R1 - 1n, R1 + BigInt(R1_SIZE) - 1n, R2 + BigInt(R2_SIZE) - 16n, 0xffff_ffff_ffff_ffffn, 0xffff_ffff_ffff_f000n),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);
const lenArb = fc.oneof(fc.constantFrom(0, 1, 16, 32, 512, 0x1000, 0x8000, 0xffff_ffff), fc.integer({ min: 0, max: 0x2000 }), fc.nat({ max: 0xffff_ffff }));
const hostileDesc = (size: number) =>
  fc.record({
    addr: addrArb,
    len: lenArb,
    flags: fc.oneof(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 0xffff })),
    next: fc.oneof(fc.integer({ min: 0, max: size - 1 }), fc.integer({ min: 0, max: 0xffff })),
  });
// Plausible descriptors (in the data area, short, sane flags), so that valid chains are common.
const plausibleDesc = (size: number) =>
  fc.record({
    addr: fc.bigInt({ min: DATA_AT, max: DATA_AT + 0x8000n }),
    len: fc.integer({ min: 0, max: 0x800 }),
    flags: fc.constantFrom(0, 0, VIRTQ_DESC_F.WRITE, VIRTQ_DESC_F.NEXT, VIRTQ_DESC_F.NEXT | VIRTQ_DESC_F.WRITE, VIRTQ_DESC_F.INDIRECT),
    next: fc.integer({ min: 0, max: size - 1 }),
  });
const descArb = (size: number) => fc.oneof({ arbitrary: plausibleDesc(size), weight: 4 }, { arbitrary: hostileDesc(size), weight: 1 });

const queueCase = fc.constantFrom(1, 2, 4, 8, 16, 32).chain((size) =>
  fc.record({
    size: fc.constant(size),
    descs: fc.array(descArb(size), { minLength: size, maxLength: size }),
    indirectDescs: fc.array(descArb(size), { maxLength: 40 }),
    heads: fc.array(fc.oneof(fc.integer({ min: 0, max: size - 1 }), fc.integer({ min: 0, max: 0xffff })), { minLength: size, maxLength: size }),
    availIdx: fc.oneof(fc.integer({ min: 0, max: size }), fc.integer({ min: 0, max: 0xffff })),
    indirect: fc.boolean(),
    eventIdx: fc.boolean(),
  }),
);

type QueueCase = typeof queueCase extends fc.Arbitrary<infer T> ? T : never;

function lay(mem: GuestMemory, c: QueueCase): DriverQueue {
  const d = new DriverQueue(mem, c.size, QUEUE_AT);
  c.descs.forEach((desc, i) => d.setDesc(i, desc));
  c.indirectDescs.forEach((desc, i) => d.setDesc(i, desc, INDIRECT_AT));
  c.heads.forEach((h, i) => mem.writeU16(ga(d.avail + 4n + BigInt(2 * i)), h));
  d.setAvailIdx(c.availIdx);
  return d;
}

/** What one random queue gave: the chains served, or the code of the error that stopped it. */
interface Outcome {
  chains: number;
  error?: string;
}

// The property itself: every pop gives a chain inside guest memory or a VirtqueueError that marks the
// queue broken, and a queue never yields more chains than its avail ring can hold.
function popAll(c: QueueCase): Outcome {
  const mem = memory();
  const d = lay(mem, c);
  const q = new SplitQueue(mem, { ...d.config(), indirect: c.indirect, eventIdx: c.eventIdx });
  let chains = 0;
  for (let round = 0; round < 2 * c.size + 1; round++) {
    let chain;
    try {
      chain = q.pop();
    } catch (e) {
      expect(e).toBeInstanceOf(VirtqueueError);
      expect(q.broken).toBe(e);
      return { chains, error: (e as VirtqueueError).code };
    }
    if (chain === undefined) return { chains };
    const segs = [...chain.readable, ...chain.writable];
    expect(segs.length).toBeLessThanOrEqual(c.size);
    let total = 0;
    for (const s of segs) {
      total += s.len;
      if (s.len > 0) expect(mem.containsRange(s.addr, s.len)).toBe(true);
    }
    expect(total).toBe(chain.readableLength + chain.writableLength);
    expect(total).toBeLessThanOrEqual(0xffff_ffff);
    expect(chain.head).toBeLessThan(c.size);
    q.addUsed(chain.head, 0);
    chains++;
  }
  throw new Error('more chains than the avail ring can hold');
}

// The rules the generator above reaches with the fixed seed (the others have direct tests in
// queue.test.ts: CHAIN_TOO_LONG, TOTAL_LENGTH_TOO_LARGE, NESTED_INDIRECT, ...).
const REACHED_ERRORS = [
  'ADDRESS_OUT_OF_RANGE',
  'ADDRESS_OVERFLOW',
  'AVAIL_IDX_JUMP',
  'BAD_INDIRECT_LENGTH',
  'INDEX_OUT_OF_RANGE',
  'INDIRECT_NOT_NEGOTIATED',
  'INDIRECT_WITH_NEXT',
  'LOOP',
  'WRITE_BEFORE_READ',
];

function runQueueCases(params: fc.Parameters<[QueueCase]>): { chains: number; errors: Set<string> } {
  const seen = { chains: 0, errors: new Set<string>() };
  fc.assert(
    fc.property(queueCase, (c) => {
      const o = popAll(c);
      seen.chains += o.chains;
      if (o.error !== undefined) seen.errors.add(o.error);
    }),
    params,
  );
  return seen;
}

describe('SplitQueue properties', () => {
  it('random descriptor tables give valid chains or a VirtqueueError, and terminate', () => {
    const seen = runQueueCases({ numRuns: 800 });
    // Loose bounds, so that a random seed cannot fail them (measured over 200 seeds: chains 88–165,
    // mean 123, sd 14); the fixed-seed test below pins the generator's reach exactly.
    expect(seen.chains).toBeGreaterThan(30);
    expect(seen.errors.size).toBeGreaterThanOrEqual(4);
  });

  it('the generator reaches valid chains and most error rules (fixed seed, so it cannot flake)', () => {
    const seen = runQueueCases({ numRuns: 800, seed: 0x6a7e });
    expect(seen.chains).toBeGreaterThan(100);
    expect([...seen.errors].sort()).toEqual(REACHED_ERRORS);
  });

  it('a device only writes into device-writable buffers and the used ring', () => {
    let served = 0;
    fc.assert(
      fc.property(queueCase, (c) => {
        const mem = memory();
        // buffers never overlap the rings, so the allowed set is fixed before the device runs
        const descs = c.descs.map((x) => (x.addr >= QUEUE_AT && x.addr < DATA_AT ? { ...x, addr: x.addr + 0x4000n } : x));
        const d = lay(mem, { ...c, descs, indirect: false });
        const rng = new VirtioRng({ random: (b) => b.fill(0xa5) });
        const t = new VirtioMmioTransport(rng, { memory: mem, trigger: () => {}, indirect: false });
        // bring the device up on the laid-out queue
        t.write(VIRTIO_MMIO.STATUS, 4, 1n);
        t.write(VIRTIO_MMIO.STATUS, 4, 3n);
        t.write(VIRTIO_MMIO.DRIVER_FEATURES_SEL, 4, 1n);
        t.write(VIRTIO_MMIO.DRIVER_FEATURES, 4, 1n);
        t.write(VIRTIO_MMIO.STATUS, 4, 11n);
        t.write(VIRTIO_MMIO.QUEUE_NUM, 4, BigInt(c.size));
        t.write(VIRTIO_MMIO.QUEUE_DESC_LOW, 4, d.desc);
        t.write(VIRTIO_MMIO.QUEUE_DRIVER_LOW, 4, d.avail);
        t.write(VIRTIO_MMIO.QUEUE_DEVICE_LOW, 4, d.used);
        t.write(VIRTIO_MMIO.QUEUE_READY, 4, 1n);
        t.write(VIRTIO_MMIO.STATUS, 4, 15n);
        expect(t.active).toBe(true);
        const before = [mem.readBytes(ga(R1), R1_SIZE), mem.readBytes(ga(R2), R2_SIZE)];
        expect(() => t.notify(0)).not.toThrow();
        served += rng.bytesServed;
        const allowed: [bigint, bigint][] = [[d.used, d.end]];
        for (const x of descs) if ((x.flags & VIRTQ_DESC_F.WRITE) !== 0) allowed.push([x.addr, x.addr + BigInt(x.len)]);
        const after = [mem.readBytes(ga(R1), R1_SIZE), mem.readBytes(ga(R2), R2_SIZE)];
        [R1, R2].forEach((base, r) => {
          const a = before[r]!;
          const b = after[r]!;
          for (let i = 0; i < a.length; i++) {
            if (a[i] === b[i]) continue;
            const at = base + BigInt(i);
            expect(allowed.some(([lo, hi]) => at >= lo && at < hi)).toBe(true);
          }
        });
      }),
      { numRuns: 300 },
    );
    expect(served).toBeGreaterThan(0);
  });
});

const REGS = Object.values(VIRTIO_MMIO);
const opArb = fc.oneof(
  fc.record({ kind: fc.constant('read' as const), offset: fc.oneof(fc.constantFrom(...REGS), fc.integer({ min: 0, max: 0x1ff })), size: fc.constantFrom(1, 2, 4, 8) }),
  fc.record({
    kind: fc.constant('write' as const),
    offset: fc.oneof(fc.constantFrom(...REGS), fc.integer({ min: 0, max: 0x1ff })),
    size: fc.oneof(fc.constant(4), fc.constantFrom(1, 2, 8)),
    value: fc.oneof(fc.bigInt({ min: 0n, max: 16n }), fc.constantFrom(0x1n, 0x3n, 0xbn, 0xfn, 0x10000n, 0x8000n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
  }),
  fc.record({ kind: fc.constant('notify' as const), queue: fc.integer({ min: -1, max: 3 }) }),
  fc.record({ kind: fc.constant('input' as const), n: fc.integer({ min: 0, max: 50 }) }),
);

describe('VirtioMmioTransport properties', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtio-prop-'));
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, new Uint8Array(64 * 512));
  const blk = VirtioBlock.open(disk);
  afterAll(() => {
    blk.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('random register traffic never throws and keeps the status invariants', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(opArb, { maxLength: 120 }), fc.array(descArb(8), { maxLength: 64 }), (probeFirst, ops, junk) => {
        const mem = memory();
        junk.forEach((x, i) => new DriverQueue(mem, 64, QUEUE_AT).setDesc(i, x)); // garbage where queues go
        const devices = [new VirtioRng(), new VirtioConsole({ output: () => {}, queueSize: 8 }), blk];
        for (const dev of devices) {
          const t = new VirtioMmioTransport(dev, { memory: mem, trigger: () => {} });
          if (probeFirst) probe(t, mem, { base: QUEUE_AT });
          for (const op of ops) {
            if (op.kind === 'read') {
              const v = t.read(op.offset, op.size);
              expect(v >= 0n && v < 1n << BigInt(8 * op.size)).toBe(true);
            } else if (op.kind === 'write') t.write(op.offset, op.size, op.value);
            else if (op.kind === 'notify') t.notify(op.queue);
            else if (dev instanceof VirtioConsole) dev.enqueue(new Uint8Array(op.n).fill(0x61));
            const s = t.status;
            if ((s & VIRTIO_STATUS.DRIVER_OK) !== 0) expect(s & VIRTIO_STATUS.FEATURES_OK).not.toBe(0);
            if ((s & VIRTIO_STATUS.FEATURES_OK) !== 0) {
              expect(t.negotiatedFeatures & ~t.offeredFeatures).toBe(0n);
              expect(s & VIRTIO_STATUS.DRIVER).not.toBe(0);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
