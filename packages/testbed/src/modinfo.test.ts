import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TestbedError } from './errors.js';
import { moduleKey, moduleLoadOrder, readModinfo } from './modinfo.js';

/** Builds a minimal ELF64 LE relocatable with sections: null, .shstrtab, .text, .modinfo. */
function fakeModule(modinfo: string): Uint8Array {
  const shstr = Buffer.from('\0.shstrtab\0.text\0.modinfo\0', 'latin1');
  const info = Buffer.from(modinfo, 'latin1');
  const shstrOff = 64;
  const infoOff = shstrOff + shstr.length;
  const shoff = (infoOff + info.length + 7) & ~7;
  const shnum = 4;
  const buf = Buffer.alloc(shoff + shnum * 64);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; // ELFCLASS64
  buf[5] = 1; // little-endian
  buf[6] = 1;
  buf.writeUInt16LE(1, 0x10); // ET_REL
  buf.writeUInt16LE(183, 0x12); // EM_AARCH64
  buf.writeBigUInt64LE(BigInt(shoff), 0x28);
  buf.writeUInt16LE(64, 0x34);
  buf.writeUInt16LE(64, 0x3a);
  buf.writeUInt16LE(shnum, 0x3c);
  buf.writeUInt16LE(1, 0x3e);
  shstr.copy(buf, shstrOff);
  info.copy(buf, infoOff);
  const sh = (i: number, name: number, off: number, size: number): void => {
    const b = shoff + i * 64;
    buf.writeUInt32LE(name, b);
    buf.writeBigUInt64LE(BigInt(off), b + 0x18);
    buf.writeBigUInt64LE(BigInt(size), b + 0x20);
  };
  sh(1, 1, shstrOff, shstr.length);
  sh(2, 11, 0, 0);
  sh(3, 17, infoOff, info.length);
  return new Uint8Array(buf);
}

describe('readModinfo', () => {
  it('reads name and depends from .modinfo', () => {
    const m = readModinfo(fakeModule('license=GPL\0depends=netfs,9pnet\0name=9p\0vermagic=6.12 SMP\0'));
    expect(m.get('depends')).toBe('netfs,9pnet');
    expect(m.get('name')).toBe('9p');
    expect(m.get('vermagic')).toBe('6.12 SMP');
  });

  it.each([
    ['empty', new Uint8Array(0)],
    ['not ELF', new Uint8Array(100)],
    ['32-bit', (() => { const b = fakeModule('name=x\0'); b[4] = 1; return b; })()],
    ['big-endian', (() => { const b = fakeModule('name=x\0'); b[5] = 2; return b; })()],
    ['truncated', fakeModule('name=x\0').subarray(0, 120)],
    ['no .modinfo', (() => { const b = Buffer.from(fakeModule('name=x\0')); b.write('.modinfX', 64 + 17, 'latin1'); return new Uint8Array(b); })()],
  ])('rejects %s with BAD_MODULE', (_what, bytes) => {
    expect(() => readModinfo(bytes)).toThrowError(expect.objectContaining({ code: 'BAD_MODULE' }));
  });

  it('property: corrupted modules give a map or BAD_MODULE, never another error', () => {
    const base = fakeModule('depends=a,b\0name=c\0');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(base.length), (edits, cut) => {
        const b = base.slice(0, Math.max(cut, 0) || base.length);
        for (const [i, v] of edits) if (i < b.length) b[i] = v;
        try {
          expect(readModinfo(b)).toBeInstanceOf(Map);
        } catch (err) {
          expect(err).toBeInstanceOf(TestbedError);
          expect((err as TestbedError).code).toBe('BAD_MODULE');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('property: random bytes behind an ELF64 LE prefix never crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (tail) => {
        const b = new Uint8Array(6 + tail.length);
        b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
        b.set(tail, 6);
        try {
          readModinfo(b);
        } catch (err) {
          expect((err as TestbedError).code).toBe('BAD_MODULE');
        }
      }),
    );
  });
});

describe('moduleLoadOrder', () => {
  const deps = new Map<string, string[]>([
    ['9p', ['netfs', '9pnet']],
    ['9pnet_virtio', ['9pnet', 'virtio_ring']],
    ['9pnet', []],
    ['netfs', ['fscache']],
  ]);
  const lookup = (n: string): string[] | undefined => deps.get(n);

  it('puts dependencies first and skips built-in modules', () => {
    expect(moduleLoadOrder(['9p', '9pnet_virtio'], lookup, new Set(['fscache', 'virtio_ring']))).toEqual(['netfs', '9pnet', '9p', '9pnet_virtio']);
  });

  it('treats - and _ alike', () => {
    expect(moduleKey('9pnet-virtio')).toBe('9pnet_virtio');
    expect(moduleLoadOrder(['9pnet-virtio'], lookup, new Set(['virtio-ring'].map(moduleKey)))).toEqual(['9pnet', '9pnet_virtio']);
  });

  it('reports a module that is neither shipped nor built in', () => {
    expect(() => moduleLoadOrder(['9p'], lookup, new Set())).toThrowError(expect.objectContaining({ code: 'BAD_MODULE', message: expect.stringContaining('fscache') }));
  });

  it('reports cycles', () => {
    const cyc = new Map([['a', ['b']], ['b', ['a']]]);
    expect(() => moduleLoadOrder(['a'], (n) => cyc.get(n), new Set())).toThrowError(expect.objectContaining({ code: 'BAD_MODULE', message: expect.stringContaining('cycle') }));
  });

  it('property: on random DAGs every module follows its dependencies, each once', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.nat(30), { maxLength: 4 }), { minLength: 1, maxLength: 30 }), (edges) => {
        // module i may depend only on modules j > i: acyclic by construction
        const g = new Map(edges.map((e, i) => [`m${i}`, e.filter((j) => j > i && j < edges.length).map((j) => `m${j}`)]));
        const order = moduleLoadOrder(['m0'], (n) => g.get(n), new Set());
        expect(new Set(order).size).toBe(order.length);
        for (const [i, m] of order.entries()) for (const d of g.get(m) ?? []) expect(order.indexOf(d)).toBeLessThan(i);
        expect(order[order.length - 1]).toBe('m0');
      }),
    );
  });
});
