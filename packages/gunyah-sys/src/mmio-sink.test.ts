import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GUNYAH_MMIO_EXIT_LAYOUT as G,
  MMIO_SINK_WORDS,
  absorbMmioWrite,
  encodeMmioExitLayout,
  encodeMmioSink,
  prepareMmioSink,
  runMmioSinkLoop,
  runWithMmioSink,
  type MmioSink,
} from './mmio-sink.js';
import type { BindingModule } from './binding.js';

// state words of the test device
const LOCK = 0;
const LEN = 1;
const COUNT = 2;
const FLAGS = 3;
const LCR = 4;

function sink(over: Partial<MmioSink> = {}, capacity = 16): MmioSink {
  return {
    addr: 0x3f8n,
    state: new Int32Array(new SharedArrayBuffer(32)),
    bytes: new Uint8Array(new SharedArrayBuffer(capacity)),
    lockWord: LOCK,
    lenWord: LEN,
    minLen: 1,
    capacity,
    countWord: COUNT,
    flags: { word: FLAGS, bits: 4 },
    conditions: [{ word: LCR, mask: 0x80, value: 0 }],
    ...over,
  };
}

/** A Gunyah run page holding one MMIO exit. */
function page(addr: bigint, value: number, len = 1, isWrite = true, reason = 1): DataView {
  const v = new DataView(new ArrayBuffer(64));
  v.setUint32(G.exitReason, reason, true);
  v.setBigUint64(G.physAddr, addr, true);
  v.setBigUint64(G.data, BigInt(value), true);
  v.setUint32(G.len, len, true);
  v.setUint8(G.isWrite, isWrite ? 1 : 0);
  return v;
}

describe('MMIO write sink: the rules', () => {
  it('appends the low byte and updates length, count and flags', () => {
    const s = sink();
    s.state[LEN] = 1;
    expect(absorbMmioWrite(s, 0x1_41)).toBe(true);
    expect([s.state[LEN], s.state[COUNT], s.state[FLAGS], s.bytes[1], s.state[LOCK]]).toEqual([2, 1, 4, 0x41, 0]);
  });

  it('refuses when a condition fails, the lock is held, the buffer is below minLen or would fill', () => {
    const s = sink();
    s.state[LEN] = 1;
    s.state[LCR] = 0x83;
    expect(absorbMmioWrite(s, 1)).toBe(false);
    s.state[LCR] = 3;
    s.state[LOCK] = 1;
    expect(absorbMmioWrite(s, 1)).toBe(false);
    expect(s.state[LOCK]).toBe(1); // a lock it did not take is left alone
    s.state[LOCK] = 0;
    s.state[LEN] = 0;
    expect(absorbMmioWrite(s, 1)).toBe(false);
    s.state[LEN] = 14;
    expect(absorbMmioWrite(s, 1)).toBe(true); // 15 of 16: one byte left
    expect(absorbMmioWrite(s, 1)).toBe(false); // that one is the caller's (it flushes)
    expect([s.state[LEN], s.state[COUNT], s.state[LOCK]]).toEqual([15, 1, 0]);
  });

  it('runs until an exit it does not absorb, and returns that run', () => {
    const s = sink();
    s.state[LEN] = 1;
    const exits = [page(0x3f8n, 0x61), page(0x3f8n, 0x62, 8), page(0x3f9n, 0x63), page(0x3f8n, 0x64)];
    const v = new DataView(new ArrayBuffer(64));
    let runs = 0;
    const r = runMmioSinkLoop(
      () => {
        new Uint8Array(v.buffer).set(new Uint8Array((exits[runs] as DataView).buffer));
        return runs++ + 100;
      },
      v,
      G,
      s,
    );
    expect([r, runs, s.state[LEN], Array.from(s.bytes.subarray(1, 3))]).toEqual([102, 3, 3, [0x61, 0x62]]);
  });

  it.each([
    ['a read', page(0x3f8n, 1, 1, false)],
    ['another address', page(0x3f0n, 1)],
    ['length 0', page(0x3f8n, 1, 0)],
    ['length 9', page(0x3f8n, 1, 9)],
    ['another exit reason', page(0x3f8n, 1, 1, true, 2)],
  ])('hands back %s', (_, p) => {
    const s = sink();
    s.state[LEN] = 1;
    let runs = 0;
    runMmioSinkLoop(() => runs++, p, G, s);
    expect([runs, s.state[LEN]]).toEqual([1, 1]);
  });

  it('property: the length only grows, by one per absorbed write, and never reaches the capacity', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 70 }), fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 80 }), (cap, start, values) => {
        const s = sink({}, cap);
        s.state[LEN] = start;
        let len = start;
        for (const v of values) {
          const ok = absorbMmioWrite(s, v);
          expect(ok).toBe(len >= 1 && len + 1 < cap);
          if (ok) expect(s.bytes[len]).toBe(v & 0xff);
          len += ok ? 1 : 0;
          expect(s.state[LEN]).toBe(len);
        }
      }),
    );
  });
});

describe('MMIO write sink: encoding', () => {
  it('encodes the descriptor words', () => {
    const d = encodeMmioSink(sink({ addr: 0x1_0000_03f8n }));
    expect(d.length).toBe(MMIO_SINK_WORDS);
    expect(Array.from(d.subarray(0, 13))).toEqual([0x3f8, 1, LOCK, LEN, 1, 16, COUNT, FLAGS, 4, 1, LCR, 0x80, 0]);
    expect(Array.from(encodeMmioExitLayout(G))).toEqual([8, 1, 16, 24, 32, 36]);
    const { countWord: _c, flags: _f, conditions: _k, ...bare } = sink();
    expect(Array.from(encodeMmioSink(bare).subarray(6, 10))).toEqual([-1, -1, 0, 0]);
  });

  it.each<[string, Partial<MmioSink>, RegExp]>([
    ['non-shared state', { state: new Int32Array(8) }, /SharedArrayBuffer/],
    ['non-shared bytes', { bytes: new Uint8Array(16) }, /SharedArrayBuffer/],
    ['a lock word outside the state', { lockWord: 8 }, /lockWord must index/],
    ['a negative length word', { lenWord: -1 }, /lenWord must index/],
    ['a capacity beyond the buffer', { capacity: 17 }, /capacity must be 1…16/],
    ['a zero capacity', { capacity: 0 }, /capacity/],
    ['a negative minLen', { minLen: -1 }, /minLen/],
    ['a lock shared with the length', { lockWord: LEN }, /distinct/],
    ['a count word equal to the length word', { countWord: LEN }, /distinct/],
    ['five conditions', { conditions: Array(5).fill({ word: 4, mask: 1, value: 0 }) }, /at most 4/],
    ['a fractional mask', { conditions: [{ word: 4, mask: 0.5, value: 0 }] }, /mask must be a 32-bit integer/],
    ['an address beyond 64 bits', { addr: 1n << 64n }, /64-bit/],
  ])('refuses %s', (_, over, msg) => {
    expect(() => encodeMmioSink(sink(over))).toThrow(msg);
  });

  it('refuses a layout with a negative offset', () => {
    expect(() => encodeMmioExitLayout({ ...G, data: -8 })).toThrow(RangeError);
  });

  it('runWithMmioSink falls back to the TypeScript loop over ioctl for a binding without runMmioSink', () => {
    const s = sink();
    s.state[LEN] = 1;
    const p = page(0x3f8n, 0x7a);
    let calls = 0;
    const binding = {
      ioctl: (fd: number, req: number, arg: unknown) => {
        expect([fd, req, arg]).toEqual([5, 0xabcd, 0]);
        if (++calls === 3) p.setUint8(G.isWrite, 0);
        return 0;
      },
    } as unknown as BindingModule;
    expect(runWithMmioSink(binding, 5, 0xabcd, p.buffer as ArrayBuffer, prepareMmioSink(s))).toBe(0);
    expect([calls, s.state[LEN]]).toEqual([3, 3]);
  });
});
