import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BusError, MmioBus, type MmioDevice } from './bus.js';

class Recorder implements MmioDevice {
  log: [string, number, number, bigint?][] = [];
  readonly fill: bigint;
  constructor(fill = 0xabn) {
    this.fill = fill;
  }
  read(offset: number, size: number): bigint {
    this.log.push(['r', offset, size]);
    return this.fill;
  }
  write(offset: number, size: number, value: bigint): void {
    this.log.push(['w', offset, size, value]);
  }
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof BusError ? e.code : 'other';
  }
  return undefined;
}

describe('MmioBus', () => {
  it('routes accesses to the device holding the range, with offsets', () => {
    const bus = new MmioBus();
    const a = new Recorder(1n);
    const b = new Recorder(2n);
    bus.register(0x1000n, 0x100n, b, 'b');
    bus.register(0x3f8n, 8n, a, 'a');
    expect(bus.dispatch({ addr: 0x3f8n, size: 1, isWrite: false })).toEqual({ status: 'handled', value: 1n });
    expect(bus.dispatch({ addr: 0x3ffn, size: 1, isWrite: true, value: 0x1ffn })).toEqual({ status: 'handled', value: 0n });
    expect(a.log).toEqual([
      ['r', 0, 1],
      ['w', 7, 1, 0xffn], // truncated to the access width
    ]);
    expect(bus.dispatch({ addr: 0x10fcn, size: 4, isWrite: false })).toEqual({ status: 'handled', value: 2n });
    expect(b.log).toEqual([['r', 0xfc, 4]]);
    expect(bus.ranges().map((r) => r.name)).toEqual(['a', 'b']);
  });

  it('edges: the last byte is inside, one past is not, straddling accesses are unhandled', () => {
    const bus = new MmioBus();
    bus.register(0x3f8n, 8n, new Recorder(), 'uart');
    expect(bus.dispatch({ addr: 0x3f7n, size: 1, isWrite: false }).status).toBe('unhandled');
    expect(bus.dispatch({ addr: 0x3ffn, size: 1, isWrite: false }).status).toBe('handled');
    expect(bus.dispatch({ addr: 0x400n, size: 1, isWrite: false }).status).toBe('unhandled');
    expect(bus.dispatch({ addr: 0x3fen, size: 4, isWrite: false }).status).toBe('unhandled');
    expect(bus.dispatch({ addr: 0x3f8n, size: 8, isWrite: false }).status).toBe('handled');
  });

  it('allows a range ending at the top of the address space and rejects one past it', () => {
    const bus = new MmioBus();
    bus.register((1n << 64n) - 16n, 16n, new Recorder(), 'top');
    expect(bus.dispatch({ addr: (1n << 64n) - 1n, size: 1, isWrite: false }).status).toBe('handled');
    expect(code(() => bus.register((1n << 64n) - 8n, 16n, new Recorder()))).toBe('RANGE_OVERFLOW');
    expect(code(() => bus.register(-1n, 1n, new Recorder()))).toBe('RANGE_OVERFLOW');
  });

  it('rejects zero-size ranges, overlaps from either side, and containment', () => {
    const bus = new MmioBus();
    bus.register(0x100n, 0x100n, new Recorder(), 'x');
    expect(code(() => bus.register(0x300n, 0n, new Recorder()))).toBe('EMPTY_RANGE');
    expect(code(() => bus.register(0x80n, 0x81n, new Recorder()))).toBe('OVERLAP'); // ends at 0x100 inclusive
    expect(code(() => bus.register(0x1ffn, 0x10n, new Recorder()))).toBe('OVERLAP');
    expect(code(() => bus.register(0x140n, 0x10n, new Recorder()))).toBe('OVERLAP');
    expect(code(() => bus.register(0x0n, 0x1000n, new Recorder()))).toBe('OVERLAP');
    bus.register(0x80n, 0x80n, new Recorder(), 'below'); // touching is fine
    bus.register(0x200n, 0x80n, new Recorder(), 'above');
    expect(bus.ranges().map((r) => r.name)).toEqual(['below', 'x', 'above']);
  });

  it('rejects access widths other than 1, 2, 4, 8', () => {
    const bus = new MmioBus();
    expect(code(() => bus.dispatch({ addr: 0n, size: 3, isWrite: false }))).toBe('BAD_ACCESS_SIZE');
  });

  it('agrees with a linear scan for random layouts and probes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 1n << 20n }), fc.bigInt({ min: 1n, max: 1n << 12n })), { maxLength: 30 }),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 20n) + (1n << 12n) }), { maxLength: 50 }),
        (ranges, probes) => {
          const bus = new MmioBus();
          const placed: [bigint, bigint, Recorder][] = [];
          for (const [base, size] of ranges) {
            const dev = new Recorder();
            const overlaps = placed.some(([b, s]) => base < b + s && b < base + size);
            const c = code(() => bus.register(base, size, dev));
            expect(c).toBe(overlaps ? 'OVERLAP' : undefined);
            if (!overlaps) placed.push([base, size, dev]);
          }
          for (const addr of probes) {
            const owner = placed.find(([b, s]) => addr >= b && addr < b + s);
            const hit = bus.find(addr);
            expect(hit?.device).toBe(owner?.[2]);
            if (owner && hit) expect(BigInt(hit.offset)).toBe(addr - owner[0]);
          }
        },
      ),
    );
  });
});
