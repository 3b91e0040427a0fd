import { GuestMemory } from '@gunyah-ts/vm-memory';
import { describe, expect, it } from 'vitest';
import { DATA, DriverQueue, RAM_BASE, RAM_SIZE, ga, makeMemory } from '../test/helpers/driver.js';
import { VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F } from './constants.js';
import { VirtqueueError, type VirtqueueErrorCode } from './errors.js';
import { SplitQueue, readFromChain, segmentsAt, validateQueueConfig, writeToChain } from './queue.js';

const { NEXT, WRITE, INDIRECT } = VIRTQ_DESC_F;
const RAM_END = RAM_BASE + BigInt(RAM_SIZE);

function setup(size = 8, opts: { indirect?: boolean; eventIdx?: boolean; maxChainLength?: number; maxChainBytes?: number } = {}) {
  const mem = makeMemory();
  const d = new DriverQueue(mem, size, RAM_BASE);
  const q = new SplitQueue(mem, { ...d.config(), ...opts });
  return { mem, d, q };
}

function expectCode(fn: () => unknown, code: VirtqueueErrorCode): VirtqueueError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VirtqueueError);
    expect((e as VirtqueueError).code).toBe(code);
    return e as VirtqueueError;
  }
  throw new Error(`expected VirtqueueError ${code}`);
}

describe('SplitQueue: valid chains', () => {
  it('returns nothing for an empty queue', () => {
    const { q } = setup();
    expect(q.available()).toBe(0);
    expect(q.pop()).toBeUndefined();
  });

  it('walks a readable + writable chain and publishes the used element', () => {
    const { mem, d, q } = setup();
    const head = d.chain(2, [
      { addr: DATA, len: 16 },
      { addr: DATA + 0x100n, len: 512, flags: WRITE },
      { addr: DATA + 0x400n, len: 1, flags: WRITE },
    ]);
    d.push(head);
    const c = q.pop();
    expect(c).toEqual({
      head: 2,
      readable: [{ addr: DATA, len: 16 }],
      writable: [
        { addr: DATA + 0x100n, len: 512 },
        { addr: DATA + 0x400n, len: 1 },
      ],
      readableLength: 16,
      writableLength: 513,
    });
    expect(q.inFlight).toBe(1);
    expect(q.pop()).toBeUndefined();
    q.addUsed(2, 513);
    expect(q.inFlight).toBe(0);
    expect(d.takeUsed()).toEqual([{ id: 2, len: 513 }]);
    expect(q.needsNotification()).toBe(true);
    expect(q.needsNotification()).toBe(false); // nothing new since
    expect(mem.readU16(ga(d.used))).toBe(0); // used.flags untouched
  });

  it('accepts a zero-length buffer without checking or touching its address', () => {
    const { d, q } = setup();
    d.chain(0, [
      { addr: 0xdead_beef_0000n, len: 0 },
      { addr: DATA, len: 4, flags: WRITE },
    ]);
    d.push(0);
    expect(q.pop()?.readable).toEqual([{ addr: 0xdead_beef_0000n, len: 0 }]);
  });

  it('accepts a buffer ending exactly at the end of memory', () => {
    const { d, q } = setup();
    d.setDesc(0, { addr: RAM_END - 16n, len: 16 });
    d.push(0);
    expect(q.pop()?.readableLength).toBe(16);
  });

  it('accepts a buffer spanning two adjacent regions', () => {
    const mem = GuestMemory.fromBuffers([
      { start: RAM_BASE, size: 0x10000 },
      { start: RAM_BASE + 0x10000n, size: 0x10000 },
    ]);
    const d = new DriverQueue(mem, 4, RAM_BASE);
    const q = new SplitQueue(mem, d.config());
    d.setDesc(0, { addr: RAM_BASE + 0xff00n, len: 0x200, flags: WRITE });
    d.push(0);
    const c = q.pop();
    expect(c?.writableLength).toBe(0x200);
    const src = Uint8Array.from({ length: 0x200 }, (_, i) => i & 0xff);
    expect(writeToChain(mem, c!, 0, src)).toBe(0x200);
    expect(mem.readBytes(ga(RAM_BASE + 0xff00n), 0x200)).toEqual(src);
  });

  it('follows an indirect table when negotiated', () => {
    const { mem, d, q } = setup(8, { indirect: true });
    const table = DATA + 0x1000n;
    d.setDesc(0, { addr: DATA, len: 16, flags: NEXT, next: 1 }, table);
    d.setDesc(1, { addr: DATA + 0x200n, len: 100, flags: WRITE | NEXT, next: 2 }, table);
    d.setDesc(2, { addr: DATA + 0x300n, len: 1, flags: WRITE }, table);
    d.setDesc(5, { addr: table, len: 48, flags: INDIRECT });
    d.push(5);
    const c = q.pop()!;
    expect(c.head).toBe(5);
    expect(c.readableLength).toBe(16);
    expect(c.writableLength).toBe(101);
    expect(c.writable.map((s) => s.addr)).toEqual([DATA + 0x200n, DATA + 0x300n]);
    q.addUsed(5, 101);
    expect(mem.readU32(ga(d.used + 4n))).toBe(5);
  });

  it('reads and writes across segments at offsets', () => {
    const { mem, d, q } = setup();
    mem.writeAll(ga(DATA), Uint8Array.from([1, 2, 3]));
    mem.writeAll(ga(DATA + 0x10n), Uint8Array.from([4, 5, 6, 7]));
    d.chain(0, [
      { addr: DATA, len: 3 },
      { addr: DATA + 0x10n, len: 4 },
      { addr: DATA + 0x20n, len: 2, flags: WRITE },
      { addr: DATA + 0x30n, len: 3, flags: WRITE },
    ]);
    d.push(0);
    const c = q.pop()!;
    const out = new Uint8Array(5);
    expect(readFromChain(mem, c, 1, out)).toBe(5);
    expect([...out]).toEqual([2, 3, 4, 5, 6]);
    expect(readFromChain(mem, c, 6, new Uint8Array(8))).toBe(1);
    expect(writeToChain(mem, c, 1, Uint8Array.from([9, 8, 7, 6]))).toBe(4);
    expect([...mem.readBytes(ga(DATA + 0x20n), 2)]).toEqual([0, 9]);
    expect([...mem.readBytes(ga(DATA + 0x30n), 3)]).toEqual([8, 7, 6]);
    expect(segmentsAt(c.readable, 2, 3)).toEqual([
      { addr: DATA + 2n, len: 1 },
      { addr: DATA + 0x10n, len: 2 },
    ]);
    expect(segmentsAt(c.readable, 100, 3)).toEqual([]);
  });

  it('wraps the 16-bit ring indices', () => {
    const { d, q } = setup(4);
    d.chain(0, [{ addr: DATA, len: 4, flags: WRITE }]);
    // One expect per round would dominate the run time (65 541 rounds); collect the heads instead.
    const wrongHeads: Array<[number, number | undefined]> = [];
    for (let i = 0; i < 0x10005; i++) {
      d.push(0);
      const c = q.pop();
      if (c?.head !== 0) wrongHeads.push([i, c?.head]);
      q.addUsed(0, 4);
    }
    expect(wrongHeads).toEqual([]);
    expect(q.lastAvailIdx).toBe(5);
    expect(q.usedIdx).toBe(5);
    expect(d.usedIdx).toBe(5);
  });

  it('accepts avail.idx exactly one queue ahead and can undo a pop', () => {
    const { d, q } = setup(4);
    for (let i = 0; i < 4; i++) d.setDesc(i, { addr: DATA, len: 1 });
    for (let i = 0; i < 4; i++) d.push(i);
    expect(q.available()).toBe(4);
    expect(q.pop()?.head).toBe(0);
    q.undoPop();
    expect(q.pop()?.head).toBe(0);
    expect(() => q.undoPop(2)).toThrow(RangeError);
  });
});

describe('SplitQueue: hostile chains', () => {
  it('rejects a loop back to the head', () => {
    const { d, q } = setup();
    d.setDesc(0, { addr: DATA, len: 1, flags: NEXT, next: 1 });
    d.setDesc(1, { addr: DATA, len: 1, flags: NEXT, next: 0 });
    d.push(0);
    const e = expectCode(() => q.pop(), 'LOOP');
    expect(e.descriptor).toBe(0);
    expect(e.queue).toBe(0);
  });

  it('rejects a descriptor pointing at itself', () => {
    const { d, q } = setup();
    d.setDesc(3, { addr: DATA, len: 1, flags: NEXT, next: 3 });
    d.push(3);
    expectCode(() => q.pop(), 'LOOP');
  });

  it('rejects a loop inside an indirect table', () => {
    const { d, q } = setup(8, { indirect: true });
    const table = DATA + 0x1000n;
    d.setDesc(0, { addr: DATA, len: 1, flags: NEXT, next: 1 }, table);
    d.setDesc(1, { addr: DATA, len: 1, flags: NEXT, next: 0 }, table);
    d.setDesc(0, { addr: table, len: 32, flags: INDIRECT });
    d.push(0);
    expectCode(() => q.pop(), 'LOOP');
  });

  it('rejects next and head out of range', () => {
    const a = setup();
    a.d.setDesc(0, { addr: DATA, len: 1, flags: NEXT, next: 8 });
    a.d.push(0);
    expectCode(() => a.q.pop(), 'INDEX_OUT_OF_RANGE');
    const b = setup();
    b.d.push(8);
    expectCode(() => b.q.pop(), 'INDEX_OUT_OF_RANGE');
    const c = setup(8, { indirect: true });
    c.d.setDesc(0, { addr: DATA, len: 1, flags: NEXT, next: 2 }, DATA + 0x1000n);
    c.d.setDesc(0, { addr: DATA + 0x1000n, len: 32, flags: INDIRECT });
    c.d.push(0);
    expectCode(() => c.q.pop(), 'INDEX_OUT_OF_RANGE');
  });

  it('rejects buffers outside guest memory', () => {
    for (const [addr, len] of [
      [0n, 16],
      [RAM_BASE - 1n, 2],
      [RAM_END - 8n, 9],
      [RAM_END, 1],
      [0xffff_ffff_ffff_f000n, 0x1000],
    ] as const) {
      const { d, q } = setup();
      d.setDesc(0, { addr, len });
      d.push(0);
      expectCode(() => q.pop(), 'ADDRESS_OUT_OF_RANGE');
    }
  });

  it('rejects a buffer in a hole between regions', () => {
    const mem = GuestMemory.fromBuffers([
      { start: RAM_BASE, size: 0x10000 },
      { start: RAM_BASE + 0x20000n, size: 0x10000 },
    ]);
    const d = new DriverQueue(mem, 4, RAM_BASE);
    const q = new SplitQueue(mem, d.config());
    d.setDesc(0, { addr: RAM_BASE + 0xff00n, len: 0x200 });
    d.push(0);
    expectCode(() => q.pop(), 'ADDRESS_OUT_OF_RANGE');
  });

  it('rejects addr + len past 2^64', () => {
    const { d, q } = setup();
    d.setDesc(0, { addr: 0xffff_ffff_ffff_fff0n, len: 0x20 });
    d.push(0);
    expectCode(() => q.pop(), 'ADDRESS_OVERFLOW');
    const b = setup();
    b.d.setDesc(0, { addr: 0xffff_ffff_ffff_ffffn, len: 0xffff_ffff });
    b.d.push(0);
    expectCode(() => b.q.pop(), 'ADDRESS_OVERFLOW');
  });

  it('rejects chains over the length and byte limits', () => {
    const { d, q } = setup(8, { maxChainLength: 4 });
    d.chain(0, Array.from({ length: 5 }, () => ({ addr: DATA, len: 1 })));
    d.push(0);
    expectCode(() => q.pop(), 'CHAIN_TOO_LONG');
    const b = setup(8, { maxChainBytes: 100 });
    b.d.chain(0, [
      { addr: DATA, len: 60 },
      { addr: DATA, len: 60, flags: WRITE },
    ]);
    b.d.push(0);
    expectCode(() => b.q.pop(), 'TOTAL_LENGTH_TOO_LARGE');
  });

  it('counts indirect entries toward the chain limit', () => {
    const { d, q } = setup(8, { indirect: true });
    // 9 entries > queue size 8
    d.setDesc(0, { addr: DATA + 0x1000n, len: 16 * 9, flags: INDIRECT });
    d.push(0);
    expectCode(() => q.pop(), 'BAD_INDIRECT_LENGTH');
  });

  it('rejects nested, misflagged, badly sized and unnegotiated indirect tables', () => {
    const nested = setup(8, { indirect: true });
    nested.d.setDesc(0, { addr: DATA + 0x2000n, len: 16, flags: INDIRECT }, DATA + 0x1000n);
    nested.d.setDesc(0, { addr: DATA + 0x1000n, len: 16, flags: INDIRECT });
    nested.d.push(0);
    expectCode(() => nested.q.pop(), 'NESTED_INDIRECT');

    const withNext = setup(8, { indirect: true });
    withNext.d.setDesc(0, { addr: DATA + 0x1000n, len: 16, flags: INDIRECT | NEXT, next: 1 });
    withNext.d.push(0);
    expectCode(() => withNext.q.pop(), 'INDIRECT_WITH_NEXT');

    for (const len of [0, 8, 17, 33]) {
      const bad = setup(8, { indirect: true });
      bad.d.setDesc(0, { addr: DATA + 0x1000n, len, flags: INDIRECT });
      bad.d.push(0);
      expectCode(() => bad.q.pop(), 'BAD_INDIRECT_LENGTH');
    }

    const outside = setup(8, { indirect: true });
    outside.d.setDesc(0, { addr: RAM_END - 16n, len: 32, flags: INDIRECT });
    outside.d.push(0);
    expectCode(() => outside.q.pop(), 'ADDRESS_OUT_OF_RANGE');

    const off = setup(8, { indirect: false });
    off.d.setDesc(0, { addr: DATA + 0x1000n, len: 16, flags: INDIRECT });
    off.d.push(0);
    expectCode(() => off.q.pop(), 'INDIRECT_NOT_NEGOTIATED');
  });

  it('rejects a readable buffer after a writable one', () => {
    const { d, q } = setup();
    d.chain(0, [
      { addr: DATA, len: 4, flags: WRITE },
      { addr: DATA, len: 4 },
    ]);
    d.push(0);
    expectCode(() => q.pop(), 'WRITE_BEFORE_READ');
    const z = setup(); // a zero-length writable buffer still counts for the order
    z.d.chain(0, [
      { addr: DATA, len: 0, flags: WRITE },
      { addr: DATA, len: 4 },
    ]);
    z.d.push(0);
    expectCode(() => z.q.pop(), 'WRITE_BEFORE_READ');
  });

  it('rejects avail.idx running ahead by more than the queue size', () => {
    const { d, q } = setup(8);
    d.setAvailIdx(9);
    expectCode(() => q.pop(), 'AVAIL_IDX_JUMP');
    const b = setup(8);
    b.d.setAvailIdx(0xffff); // "behind" by one is a jump of 65535
    expectCode(() => b.q.available(), 'AVAIL_IDX_JUMP');
  });

  it('stays broken after an error', () => {
    const { d, q } = setup();
    d.push(9);
    const e = expectCode(() => q.pop(), 'INDEX_OUT_OF_RANGE');
    expect(q.broken).toBe(e);
    expect(() => q.pop()).toThrow(e);
    expect(() => q.addUsed(0, 0)).toThrow(e);
  });

  it('refuses to complete more chains than it handed out', () => {
    const { q } = setup();
    expectCode(() => q.addUsed(0, 0), 'USED_OVERFLOW');
  });

  it('turns a revoked (lent) region into MEMORY', () => {
    const mem = GuestMemory.fromBuffers([{ start: RAM_BASE, size: RAM_SIZE, mode: 'lent' }]);
    const d = new DriverQueue(mem, 8, RAM_BASE);
    const q = new SplitQueue(mem, d.config());
    d.setDesc(0, { addr: DATA, len: 4 });
    d.push(0);
    mem.revokeHostAccess();
    const e = expectCode(() => q.pop(), 'MEMORY');
    expect((e.cause as { code?: string }).code).toBe('HOST_ACCESS_DENIED');
  });
});

describe('SplitQueue: notification suppression', () => {
  it('honours VIRTQ_AVAIL_F_NO_INTERRUPT without EVENT_IDX', () => {
    const { d, q } = setup();
    d.setDesc(0, { addr: DATA, len: 1, flags: WRITE });
    d.setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
    d.push(0);
    q.pop();
    q.addUsed(0, 1);
    expect(q.needsNotification()).toBe(false);
    d.setAvailFlags(0);
    d.push(0);
    q.pop();
    q.addUsed(0, 1);
    expect(q.needsNotification()).toBe(true);
  });

  it('uses used_event and publishes avail_event with EVENT_IDX', () => {
    const { d, q } = setup(8, { eventIdx: true });
    d.setDesc(0, { addr: DATA, len: 1, flags: WRITE });
    expect(q.pop()).toBeUndefined();
    expect(d.availEvent).toBe(0); // "notify me at the next buffer"
    d.setUsedEvent(2); // interrupt once used.idx passes 2
    for (let i = 0; i < 3; i++) d.push(0);
    const decisions: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      q.pop();
      q.addUsed(0, 1);
      decisions.push(q.needsNotification());
    }
    expect(decisions).toEqual([false, false, true]);
    expect(d.availEvent).toBe(0); // not moved while busy
    expect(q.pop()).toBeUndefined();
    expect(d.availEvent).toBe(3); // idle again: notify at entry 3
    // batch: two used at once crossing used_event → one interrupt
    d.setUsedEvent(3);
    d.push(0);
    d.push(0);
    q.pop();
    q.pop();
    q.addUsed(0, 1);
    q.addUsed(0, 1);
    expect(q.needsNotification()).toBe(true);
  });

  it('re-reads avail.idx only once the entries it saw are taken', () => {
    const { d, q } = setup(8, { eventIdx: true });
    d.setDesc(0, { addr: DATA, len: 1 });
    d.push(0);
    d.push(0);
    expect(q.pop()?.head).toBe(0);
    d.setAvailIdx(0x7000); // hostile jump, noticed at the next read of avail.idx
    expect(q.pop()?.head).toBe(0);
    expectCode(() => q.pop(), 'AVAIL_IDX_JUMP');
  });
});

describe('validateQueueConfig', () => {
  const mem = makeMemory();
  const ok = { size: 8, descTable: RAM_BASE, availRing: RAM_BASE + 0x100n, usedRing: RAM_BASE + 0x200n };
  it('accepts a valid configuration', () => {
    expect(() => validateQueueConfig(mem, ok)).not.toThrow();
  });
  it.each([
    ['size 0', { size: 0 }],
    ['size 3', { size: 3 }],
    ['size 65536', { size: 65536 }],
    ['size 1.5', { size: 1.5 }],
    ['misaligned descriptors', { descTable: RAM_BASE + 8n }],
    ['misaligned avail', { availRing: RAM_BASE + 0x101n }],
    ['misaligned used', { usedRing: RAM_BASE + 0x202n }],
    ['descriptors outside memory', { descTable: 0x1000n }],
    ['used ring running off the end', { usedRing: RAM_END - 8n }],
    ['avail past 2^64', { availRing: 0xffff_ffff_ffff_fffen }],
    ['negative address', { descTable: -16n }],
    ['address ≥ 2^64', { descTable: 1n << 64n }],
    ['bad maxChainLength', { maxChainLength: 0 }],
    ['huge maxChainLength', { maxChainLength: 1 << 20 }],
    ['bad maxChainBytes', { maxChainBytes: 1.5 }],
  ])('rejects %s', (_name, patch) => {
    expectCode(() => validateQueueConfig(mem, { ...ok, ...patch }), 'BAD_QUEUE_CONFIG');
    expectCode(() => new SplitQueue(mem, { ...ok, ...patch }), 'BAD_QUEUE_CONFIG');
  });
});
