// The addon's runMmioSink against the TypeScript model (mmio-sink.ts). On this machine there is no
// vCPU to run, so the run ioctl is FIOCLEX on an eventfd: it succeeds and leaves the page alone,
// i.e. the same exit again on every run. An absorbable exit is then absorbed until the buffer is one
// byte short of full (the length only grows), which is exactly what the model predicts. The real
// run (KVM_RUN under the emulator, a guest writing to a UART) is tested in the testbed.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GUNYAH_MMIO_EXIT_LAYOUT as G,
  MMIO_SINK_WORDS,
  close,
  encodeMmioExitLayout,
  encodeMmioSink,
  eventfd,
  loadNativeBinding,
  nativeBindingAvailable,
  prepareMmioSink,
  runMmioSinkLoop,
  runWithMmioSink,
  type BindingModule,
  type MmioSink,
} from '../../src/index.js';

const haveAddon = nativeBindingAvailable();
const FIOCLEX = 0x5451; // _IO('T', 0x51) on x86-64 and arm64: no argument, always succeeds on an open fd

function makeSink(o: { cap: number; len: number; lcr: number; lock: number; addr: bigint; conditions: number }): MmioSink {
  const state = new Int32Array(new SharedArrayBuffer(8 * 4));
  state[0] = o.lock;
  state[1] = o.len;
  state[4] = o.lcr;
  return {
    addr: o.addr,
    state,
    bytes: new Uint8Array(new SharedArrayBuffer(64)),
    lockWord: 0,
    lenWord: 1,
    minLen: 1,
    capacity: o.cap,
    countWord: 2,
    flags: { word: 3, bits: 0x4 },
    conditions: [
      { word: 4, mask: 0x80, value: 0 },
      { word: 4, mask: 0x10, value: 0 },
      { word: 5, mask: -1, value: 0 },
      { word: 6, mask: 0x2, value: 0 },
    ].slice(0, o.conditions),
  };
}

function exitPage(e: { reason: number; addr: bigint; data: bigint; len: number; isWrite: number }): ArrayBuffer {
  const v = new DataView(new ArrayBuffer(64));
  v.setUint32(G.exitReason, e.reason, true);
  v.setBigUint64(G.physAddr, e.addr, true);
  v.setBigUint64(G.data, e.data, true);
  v.setUint32(G.len, e.len, true);
  v.setUint8(G.isWrite, e.isWrite);
  return v.buffer;
}

function clone(s: MmioSink): MmioSink {
  const state = new Int32Array(new SharedArrayBuffer(s.state.byteLength));
  state.set(s.state);
  const bytes = new Uint8Array(new SharedArrayBuffer(s.bytes.byteLength));
  bytes.set(s.bytes);
  return { ...s, state, bytes };
}

describe.skipIf(!haveAddon)('runMmioSink (native addon)', () => {
  let b: BindingModule;
  let fd: number;
  beforeAll(() => {
    b = loadNativeBinding();
    fd = eventfd(0, 0);
  });
  afterAll(() => close(fd));

  it('absorbs writes to the sink address until one byte short of the capacity, then returns the exit', () => {
    const s = makeSink({ cap: 40, len: 1, lcr: 3, lock: 0, addr: 0x3f8n, conditions: 2 });
    const page = exitPage({ reason: 1, addr: 0x3f8n, data: 0x1234_5641n, len: 8, isWrite: 1 });
    expect(runWithMmioSink(b, fd, FIOCLEX, page, prepareMmioSink(s))).toBe(0);
    expect([s.state[0], s.state[1], s.state[2], s.state[3]]).toEqual([0, 39, 38, 4]);
    expect(Buffer.from(s.bytes.subarray(1, 39)).toString()).toBe('A'.repeat(38));
    expect(s.bytes[39]).toBe(0);
  });

  it('hands back at once what it may not absorb (condition, held lock, empty buffer, read, address)', () => {
    const cases: [string, Parameters<typeof makeSink>[0], Parameters<typeof exitPage>[0]][] = [
      ['DLAB set', { cap: 40, len: 1, lcr: 0x83, lock: 0, addr: 0x3f8n, conditions: 2 }, { reason: 1, addr: 0x3f8n, data: 0x41n, len: 1, isWrite: 1 }],
      ['lock held', { cap: 40, len: 1, lcr: 3, lock: 2, addr: 0x3f8n, conditions: 2 }, { reason: 1, addr: 0x3f8n, data: 0x41n, len: 1, isWrite: 1 }],
      ['buffer empty', { cap: 40, len: 0, lcr: 3, lock: 0, addr: 0x3f8n, conditions: 2 }, { reason: 1, addr: 0x3f8n, data: 0x41n, len: 1, isWrite: 1 }],
      ['a read', { cap: 40, len: 1, lcr: 3, lock: 0, addr: 0x3f8n, conditions: 2 }, { reason: 1, addr: 0x3f8n, data: 0n, len: 1, isWrite: 0 }],
      ['another register', { cap: 40, len: 1, lcr: 3, lock: 0, addr: 0x3f8n, conditions: 2 }, { reason: 1, addr: 0x3fdn, data: 0x41n, len: 1, isWrite: 1 }],
      ['a 16-byte access', { cap: 40, len: 1, lcr: 3, lock: 0, addr: 0x3f8n, conditions: 2 }, { reason: 1, addr: 0x3f8n, data: 0x41n, len: 16, isWrite: 1 }],
      ['a status exit', { cap: 40, len: 1, lcr: 3, lock: 0, addr: 0x3f8n, conditions: 2 }, { reason: 2, addr: 0x3f8n, data: 0x41n, len: 1, isWrite: 1 }],
    ];
    for (const [name, so, e] of cases) {
      const s = makeSink(so);
      const before = Array.from(s.state);
      expect(runWithMmioSink(b, fd, FIOCLEX, exitPage(e), prepareMmioSink(s)), name).toBe(0);
      expect(Array.from(s.state), name).toEqual(before);
    }
  });

  it('throws the run ioctl error with errno (EBADF) and leaves the sink alone', () => {
    const s = makeSink({ cap: 40, len: 1, lcr: 3, lock: 0, addr: 0x3f8n, conditions: 2 });
    const p = prepareMmioSink(s);
    expect(() => b.runMmioSink!(-1, FIOCLEX, exitPage({ reason: 1, addr: 0x3f8n, data: 1n, len: 1, isWrite: 1 }), p.encodedLayout, p.descriptor, s.state, s.bytes)).toThrow(
      expect.objectContaining({ errno: 9, syscall: 'ioctl' }),
    );
    expect(s.state[1]).toBe(1);
  });

  it('refuses bad arguments with TypeError/RangeError (never touching memory outside them)', () => {
    const s = makeSink({ cap: 40, len: 1, lcr: 3, lock: 0, addr: 0x3f8n, conditions: 2 });
    const p = prepareMmioSink(s);
    const page = exitPage({ reason: 1, addr: 0x3f8n, data: 1n, len: 1, isWrite: 1 });
    const run = (over: { page?: unknown; layout?: unknown; desc?: unknown; state?: unknown; bytes?: unknown }) => () =>
      (b.runMmioSink as (...a: unknown[]) => number)(fd, FIOCLEX, over.page ?? page, over.layout ?? p.encodedLayout, over.desc ?? p.descriptor, over.state ?? s.state, over.bytes ?? s.bytes);
    const desc = (i: number, v: number) => {
      const d = Int32Array.from(p.descriptor);
      d[i] = v;
      return d;
    };
    expect(run({ state: new Int32Array(8) })).toThrow(/over a SharedArrayBuffer/);
    expect(run({ state: new Uint32Array(new SharedArrayBuffer(32)) })).toThrow(TypeError);
    expect(run({ bytes: [1, 2] })).toThrow(TypeError);
    expect(run({ layout: new Int32Array(5) })).toThrow(/6 words/);
    expect(run({ desc: new Int32Array(MMIO_SINK_WORDS - 1) })).toThrow(/22 words/);
    expect(run({ page: new ArrayBuffer(36) })).toThrow(/inside page/);
    expect(run({ layout: Int32Array.from([8, 1, 60, 24, 32, 36]) })).toThrow(/inside page/);
    expect(run({ desc: desc(2, 8) })).toThrow(/inside state/);
    expect(run({ desc: desc(6, -2) })).toThrow(/inside state/);
    expect(run({ desc: desc(2, 1) })).toThrow(/distinct/);
    expect(run({ desc: desc(5, 65) })).toThrow(/capacity/);
    expect(run({ desc: desc(9, 5) })).toThrow(/0-4/);
    expect(run({ desc: desc(10, 100) })).toThrow(/condition words/);
    expect(s.state[1]).toBe(1);
  });

  it('property: the same result as the TypeScript model, for any exit and sink state', () => {
    fc.assert(
      fc.property(
        fc.record({
          cap: fc.integer({ min: 1, max: 64 }),
          len: fc.integer({ min: -3, max: 70 }),
          lcr: fc.integer({ min: 0, max: 255 }),
          lock: fc.constantFrom(0, 0, 0, 1, 2),
          addr: fc.constantFrom(0x3f8n, 0x3f8n, 0x3f9n, 0xffff_ffff_0000_03f8n),
          conditions: fc.integer({ min: 0, max: 4 }),
        }),
        fc.record({
          reason: fc.constantFrom(1, 1, 1, 2, 3, 0xffff_ffff),
          addr: fc.constantFrom(0x3f8n, 0x3f8n, 0x3f9n, 0xffff_ffff_0000_03f8n),
          data: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          len: fc.constantFrom(0, 1, 2, 4, 8, 9, 0xffff_ffff),
          isWrite: fc.constantFrom(0, 1, 255),
        }),
        (so, e) => {
          const s = makeSink(so);
          const m = clone(s);
          const page = exitPage(e);
          const r = runWithMmioSink(b, fd, FIOCLEX, page, prepareMmioSink(s));
          const rm = runMmioSinkLoop(() => 0, new DataView(page), G, m);
          expect(r).toBe(rm);
          expect(Array.from(s.state)).toEqual(Array.from(m.state));
          expect(Array.from(s.bytes)).toEqual(Array.from(m.bytes));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fuzz: random descriptors and layouts either are refused (TypeError/RangeError) or run to an end', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -2, max: 70 }), { minLength: MMIO_SINK_WORDS, maxLength: MMIO_SINK_WORDS }), fc.array(fc.integer({ min: -8, max: 80 }), { minLength: 6, maxLength: 6 }), (d, l) => {
        const state = new Int32Array(new SharedArrayBuffer(32));
        const bytes = new Uint8Array(new SharedArrayBuffer(64));
        const page = exitPage({ reason: 1, addr: BigInt(d[0] as number) & 0xffff_ffffn, data: 0x41n, len: 1, isWrite: 1 });
        l[1] = 1;
        try {
          expect(b.runMmioSink!(fd, FIOCLEX, page, Int32Array.from(l), Int32Array.from(d), state, bytes)).toBe(0);
        } catch (err) {
          expect(err instanceof RangeError || err instanceof TypeError).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the encoders and the addon agree on the descriptor size and layout words', () => {
    const s = makeSink({ cap: 4, len: 1, lcr: 0, lock: 0, addr: 0n, conditions: 4 });
    expect(encodeMmioSink(s).length).toBe(MMIO_SINK_WORDS);
    expect(encodeMmioExitLayout(G).length).toBe(6);
  });
});
