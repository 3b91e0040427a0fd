import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_GUEST_ADDRESS, guestAddress, type GuestAddress } from './address.js';
import { BufferBacking } from './backing.js';
import { GuestMemoryError, type GuestMemoryErrorCode } from './errors.js';
import { GuestMemory, type ByteCodec } from './memory.js';

function code(fn: () => unknown): GuestMemoryErrorCode | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof GuestMemoryError) return e.code;
    throw e;
  }
  return undefined;
}

const A = (n: number | bigint): GuestAddress => guestAddress(n);

/** Two adjacent regions [0x1000, 0x2000) [0x2000, 0x3000), a hole, then [0x4000, 0x5000). */
function threeRegions(): GuestMemory {
  return GuestMemory.fromBuffers([
    { start: 0x1000, size: 0x1000 },
    { start: 0x2000, size: 0x1000 },
    { start: 0x4000, size: 0x1000 },
  ]);
}

describe('construction', () => {
  it('refuses empty, unsorted, overlapping and malformed region lists', () => {
    expect(code(() => new GuestMemory([]))).toBe('EMPTY_MEMORY');
    expect(code(() => GuestMemory.fromBuffers([{ start: 0x2000, size: 0x1000 }, { start: 0x1000, size: 0x100 }]))).toBe('UNSORTED_REGIONS');
    expect(code(() => GuestMemory.fromBuffers([{ start: 0x1000, size: 0x1000 }, { start: 0x1fff, size: 0x100 }]))).toBe('OVERLAPPING_REGIONS');
    expect(code(() => GuestMemory.fromBuffers([{ start: 0x1000, size: 0x1000 }, { start: 0x1000, size: 0x1000 }]))).toBe('OVERLAPPING_REGIONS');
    expect(code(() => GuestMemory.fromBuffers([{ start: 0, size: 0 }]))).toBe('INVALID_REGION');
    expect(code(() => GuestMemory.fromBuffers([{ start: 0, size: -1 }]))).toBe('INVALID_REGION');
    expect(code(() => GuestMemory.fromBuffers([{ start: 0, size: 1.5 }]))).toBe('INVALID_REGION');
    expect(code(() => GuestMemory.fromBuffers([{ start: -1, size: 1 }]))).toBe('INVALID_ADDRESS');
    expect(code(() => GuestMemory.fromBuffers([{ start: MAX_GUEST_ADDRESS, size: 2 }]))).toBe('ADDRESS_OVERFLOW');
    expect(code(() => new GuestMemory([{ start: 0, size: 0x2000, backing: new BufferBacking(0x1000) }]))).toBe('INVALID_REGION');
    expect(code(() => new GuestMemory([{ start: 0 }]))).toBe('INVALID_REGION');
    const shared = new BufferBacking(0x10);
    expect(code(() => new GuestMemory([{ start: 0, backing: shared }, { start: 0x10, backing: shared }]))).toBe('INVALID_REGION');
  });

  it('reports the index of the offending region', () => {
    try {
      GuestMemory.fromBuffers([{ start: 0, size: 0x10 }, { start: 0x10, size: 0x10 }, { start: 0x18, size: 8 }]);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(GuestMemoryError);
      expect((e as GuestMemoryError).regionIndex).toBe(2);
    }
  });

  it('accepts adjacent regions and a region ending exactly at 2^64', () => {
    const m = GuestMemory.fromBuffers([{ start: 0, size: 0x10 }, { start: 0x10, size: 0x10 }, { start: MAX_GUEST_ADDRESS - 0xfn, size: 0x10 }]);
    expect(m.regions).toHaveLength(3);
    expect(m.lastAddress).toBe(MAX_GUEST_ADDRESS);
    expect(m.totalSize).toBe(0x30);
    m.writeU8(A(MAX_GUEST_ADDRESS), 0xab);
    expect(m.readU8(A(MAX_GUEST_ADDRESS))).toBe(0xab);
    expect(code(() => m.readU16(A(MAX_GUEST_ADDRESS)))).toBe('OUT_OF_RANGE');
  });

  it('uses a given backing in place', () => {
    const bytes = new Uint8Array(0x100);
    const m = new GuestMemory([{ start: 0x100, backing: new BufferBacking(bytes), label: 'ram' }]);
    m.writeU32(A(0x104), 0x11223344);
    expect([...bytes.subarray(4, 8)]).toEqual([0x44, 0x33, 0x22, 0x11]);
    expect(m.regions[0]?.label).toBe('ram');
    expect(m.regions[0]?.fd).toBeUndefined();
    expect(m.regions[0]?.hostAddress).toBeUndefined();
  });
});

describe('lookups', () => {
  it('finds regions at every boundary', () => {
    const m = threeRegions();
    expect(m.findRegion(A(0xfff))).toBeUndefined();
    expect(m.findRegion(A(0x1000))?.start).toBe(0x1000n);
    expect(m.findRegion(A(0x1fff))?.start).toBe(0x1000n);
    expect(m.findRegion(A(0x2000))?.start).toBe(0x2000n);
    expect(m.findRegion(A(0x2fff))?.start).toBe(0x2000n);
    expect(m.findRegion(A(0x3000))).toBeUndefined();
    expect(m.findRegion(A(0x4fff))?.start).toBe(0x4000n);
    expect(m.findRegion(A(0x5000))).toBeUndefined();
    expect(m.containsRange(A(0x1000), 0x2000)).toBe(true);
    expect(m.containsRange(A(0x1000), 0x2001)).toBe(false);
    expect(m.containsRange(A(0x4fff), 1)).toBe(true);
    expect(m.containsRange(A(0x4fff), 2)).toBe(false);
    expect(m.regions[0]?.offsetOf(0x1fffn)).toBe(0xfff);
    expect(m.contains(A(0x4000))).toBe(true);
    expect(code(() => m.contains(-1n))).toBe('INVALID_ADDRESS');
    expect(code(() => m.findRegion(1n << 64n))).toBe('INVALID_ADDRESS');
    expect(code(() => m.regions[0]?.offsetOf(0x2000n))).toBe('OUT_OF_RANGE');
  });
});

describe('read and write', () => {
  it('spans adjacent regions and stops at a hole (partial count)', () => {
    const m = threeRegions();
    const src = Uint8Array.from({ length: 0x20 }, (_, i) => i + 1);
    expect(m.write(A(0x1ff0), src)).toBe(0x20);
    expect([...m.readBytes(A(0x1ff0), 0x20)]).toEqual([...src]);
    expect(m.readU8(A(0x1fff))).toBe(0x10);
    expect(m.readU8(A(0x2000))).toBe(0x11);
    // Past the end of the second region there is a hole: partial write.
    expect(m.write(A(0x2ff8), src)).toBe(8);
    const out = new Uint8Array(0x20);
    expect(m.read(A(0x2ff8), out)).toBe(8);
    expect([...out.subarray(0, 8)]).toEqual([...src.subarray(0, 8)]);
    expect(m.read(A(0x4ffc), out)).toBe(4);
  });

  it('readExact/writeAll are all or nothing', () => {
    const m = threeRegions();
    m.fill(A(0x2ff0), 0x10, 0x55);
    expect(code(() => m.writeAll(A(0x2ff0), new Uint8Array(0x11).fill(1)))).toBe('OUT_OF_RANGE');
    expect([...m.readBytes(A(0x2ff0), 0x10)].every((b) => b === 0x55)).toBe(true);
    expect(code(() => m.readExact(A(0x4001), new Uint8Array(0x1000)))).toBe('OUT_OF_RANGE');
    expect(code(() => m.fill(A(0x4ff0), 0x11))).toBe('OUT_OF_RANGE');
  });

  it('fails at addresses outside memory and on bad arguments', () => {
    const m = threeRegions();
    expect(code(() => m.read(A(0x3000), new Uint8Array(1)))).toBe('OUT_OF_RANGE');
    expect(code(() => m.write(A(0), new Uint8Array(1)))).toBe('OUT_OF_RANGE');
    expect(code(() => m.readU32(A(0x5000)))).toBe('OUT_OF_RANGE');
    expect(m.read(A(0x3000), new Uint8Array(0))).toBe(0);
    expect(code(() => m.read(0x1000 as unknown as GuestAddress, new Uint8Array(1)))).toBe('INVALID_ADDRESS');
    expect(code(() => m.readBytes(A(0x1000), -1))).toBe('INVALID_ARGUMENT');
    expect(code(() => m.write(A(0x1000), [1, 2] as unknown as Uint8Array))).toBe('INVALID_ARGUMENT');
    expect(code(() => m.hostView(A(0x1ff0), 0x20))).toBe('OUT_OF_RANGE');
  });

  it('reads and writes little-endian integers across a region boundary', () => {
    const m = threeRegions();
    for (let off = 0x1ff8; off <= 0x2000; off++) {
      m.writeU64(A(off), 0x0102030405060708n);
      expect(m.readU64(A(off))).toBe(0x0102030405060708n);
      expect(m.readU8(A(off))).toBe(0x08);
      m.writeU32(A(off), 0xdeadbeef);
      expect(m.readU32(A(off))).toBe(0xdeadbeef);
      m.writeU16(A(off), 0xcafe);
      expect(m.readU16(A(off))).toBe(0xcafe);
      expect(m.readU8(A(off + 1))).toBe(0xca);
    }
    expect(code(() => m.writeU64(A(0x2ffc), 1n))).toBe('OUT_OF_RANGE');
    expect(m.readU32(A(0x2ffc))).toBe(0); // nothing written by the failed u64
  });

  it('moves records with a codec, spanning regions', () => {
    const pair: ByteCodec<{ a: number; b: bigint }> = {
      size: 12,
      encode(v, out) {
        out.setUint32(0, v.a, true);
        out.setBigUint64(4, v.b, true);
        return out;
      },
      decode(view) {
        return { a: view.getUint32(0, true), b: view.getBigUint64(4, true) };
      },
    };
    const m = threeRegions();
    for (const at of [0x1000, 0x1ffa, 0x2ff4]) {
      m.writeObject(A(at), pair, { a: at, b: 0x1122334455667788n });
      expect(m.readObject(A(at), pair)).toEqual({ a: at, b: 0x1122334455667788n });
    }
    expect(code(() => m.readObject(A(0x2ff5), pair))).toBe('OUT_OF_RANGE');
  });

  it('hostView is a live view inside one region', () => {
    const m = threeRegions();
    const v = m.hostView(A(0x1100), 4);
    v.set([1, 2, 3, 4]);
    expect(m.readU32(A(0x1100))).toBe(0x04030201);
  });
});

describe('shared and lent regions', () => {
  it('refuses host access to lent regions once revoked, and only to them', () => {
    const m = threeRegions();
    expect(m.regions.map((r) => r.mode)).toEqual(['shared', 'shared', 'shared']);
    m.writeU32(A(0x2000), 7);
    m.markLent(A(0x2800));
    expect(m.regions[1]?.mode).toBe('lent');
    const lent = m.revokeHostAccess();
    expect(lent.map((r) => r.start)).toEqual([0x2000n]);
    expect(m.hostAccessRevoked).toBe(true);
    expect(m.regions[1]?.hostAccess).toBe('revoked');
    expect(m.regions[0]?.hostAccess).toBe('allowed');
    expect(code(() => m.readU32(A(0x2000)))).toBe('HOST_ACCESS_DENIED');
    expect(code(() => m.write(A(0x2fff), new Uint8Array(1)))).toBe('HOST_ACCESS_DENIED');
    expect(code(() => m.hostView(A(0x2000), 1))).toBe('HOST_ACCESS_DENIED');
    // A partial access that would reach into the lent region is refused before any byte moves.
    m.writeU8(A(0x1fff), 9);
    expect(code(() => m.write(A(0x1fff), new Uint8Array([1, 2])))).toBe('HOST_ACCESS_DENIED');
    expect(m.readU8(A(0x1fff))).toBe(9);
    expect(m.readU8(A(0x4000))).toBe(0);
    expect(code(() => m.markShared(A(0x2000)))).toBe('HOST_ACCESS_DENIED');
    m.restoreHostAccess();
    expect(m.readU32(A(0x2000))).toBe(7);
  });

  it('revoke with unmap releases the mapping; restore brings the bytes back', () => {
    const m = new GuestMemory([{ start: 0, size: 0x100, mode: 'lent' }]);
    m.writeU8(A(0x10), 0x42);
    m.revokeHostAccess({ unmap: true });
    expect(m.regions[0]?.backing.bytes).toBeUndefined();
    expect(code(() => m.readU8(A(0x10)))).toBe('HOST_ACCESS_DENIED');
    m.restoreHostAccess();
    expect(m.readU8(A(0x10))).toBe(0x42);
  });

  it('a closed memory fails with BACKING_UNMAPPED', () => {
    const m = threeRegions();
    m.close();
    m.close();
    expect(code(() => m.readU8(A(0x1000)))).toBe('BACKING_UNMAPPED');
  });
});

describe('model-based property test', () => {
  // Random layouts of up to 4 regions (adjacent or with holes) and random accesses, checked against
  // a byte map of the same memory.
  const layoutArb = fc
    .array(fc.record({ gap: fc.integer({ min: 0, max: 3 }), size: fc.integer({ min: 1, max: 24 }) }), { minLength: 1, maxLength: 4 })
    .map((rs) => {
      let at = 0;
      return rs.map((r) => {
        const start = at + r.gap;
        at = start + r.size;
        return { start, size: r.size };
      });
    });
  const opArb = fc.record({
    kind: fc.constantFrom('read', 'write', 'readExact', 'writeAll', 'u16', 'u32', 'u64'),
    addr: fc.integer({ min: 0, max: 110 }),
    len: fc.integer({ min: 0, max: 40 }),
    seed: fc.integer({ min: 0, max: 255 }),
  });

  it('every access matches the byte-map model, with typed errors only', () => {
    fc.assert(
      // Bases around 2^53 exercise both the number fast path and the bigint general path.
      fc.property(layoutArb, fc.array(opArb, { maxLength: 25 }), fc.constantFrom(0n, (1n << 53n) - 64n, 1n << 60n), (layout, ops, base) => {
        const m = GuestMemory.fromBuffers(layout.map((r) => ({ start: base + BigInt(r.start), size: r.size })));
        const A = (n: number): GuestAddress => guestAddress(base + BigInt(n));
        const model = new Map<number, number>();
        for (const r of layout) for (let a = r.start; a < r.start + r.size; a++) model.set(a, 0);
        const contiguous = (addr: number, len: number): number => {
          let n = 0;
          while (n < len && model.has(addr + n)) n++;
          return n;
        };
        for (const op of ops) {
          const avail = contiguous(op.addr, op.len);
          const inside = model.has(op.addr);
          const data = Uint8Array.from({ length: op.len }, (_, i) => (op.seed + i * 7) & 0xff);
          const run = (): unknown => {
            switch (op.kind) {
              case 'read':
                return m.read(A(op.addr), new Uint8Array(op.len));
              case 'write':
                return m.write(A(op.addr), data);
              case 'readExact':
                return m.readBytes(A(op.addr), op.len);
              case 'writeAll':
                m.writeAll(A(op.addr), data);
                return undefined;
              case 'u16':
                return m.readU16(A(op.addr));
              case 'u32':
                m.writeU32(A(op.addr), 0x01020304 + op.seed);
                return undefined;
              default:
                return m.readU64(A(op.addr));
            }
          };
          const width = op.kind === 'u16' ? 2 : op.kind === 'u32' ? 4 : op.kind === 'u64' ? 8 : op.len;
          const exact = op.kind !== 'read' && op.kind !== 'write';
          const okExpected = width === 0 ? true : exact ? contiguous(op.addr, width) === width : inside;
          let result: unknown;
          try {
            result = run();
          } catch (e) {
            expect(e).toBeInstanceOf(GuestMemoryError);
            expect(okExpected).toBe(false);
            expect(['OUT_OF_RANGE']).toContain((e as GuestMemoryError).code);
            continue;
          }
          expect(okExpected).toBe(true);
          if (op.kind === 'write') {
            expect(result).toBe(width === 0 ? 0 : avail);
            for (let i = 0; i < avail; i++) model.set(op.addr + i, data[i] as number);
          } else if (op.kind === 'writeAll') {
            for (let i = 0; i < op.len; i++) model.set(op.addr + i, data[i] as number);
          } else if (op.kind === 'u32') {
            const v = 0x01020304 + op.seed;
            for (let i = 0; i < 4; i++) model.set(op.addr + i, (v >>> (8 * i)) & 0xff);
          } else if (op.kind === 'read') {
            expect(result).toBe(width === 0 ? 0 : avail);
          } else if (op.kind === 'readExact') {
            expect([...(result as Uint8Array)]).toEqual(Array.from({ length: op.len }, (_, i) => model.get(op.addr + i)));
          } else {
            let v = 0n;
            for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(model.get(op.addr + i) as number);
            expect(BigInt(result as number | bigint)).toBe(v);
          }
        }
        // Final state: every byte matches.
        for (const [a, v] of model) expect(m.readU8(A(a))).toBe(v);
      }),
      { numRuns: 300 },
    );
  });
});
