import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LayoutError } from './errors.js';
import { DEFAULT_DTB_RESERVED_SIZE, DEFAULT_GUEST_BASE, DEFAULT_MEM_SIZE, planLayout, type LayoutOptions } from './layout.js';

const MiB = 1 << 20;
const kernel = { textOffset: 0, imageSize: 0x2000000 + 0x1234 };

function code(opts: LayoutOptions): string | undefined {
  try {
    planLayout(opts);
  } catch (e) {
    if (e instanceof LayoutError) return e.code;
    throw e;
  }
  return undefined;
}

describe('planLayout defaults', () => {
  it('places the kernel at the base, the DTB at the top and the initrd below it', () => {
    const p = planLayout({ kernel, initrdSize: 5 * MiB + 3 });
    expect(p.memory.address).toBe(DEFAULT_GUEST_BASE);
    expect(p.memory.size).toBe(DEFAULT_MEM_SIZE);
    expect(p.kernel.loadAddress).toBe(0x8000_0000n);
    expect(p.kernel.entry).toBe(0x8000_0000n);
    expect(p.kernel.size).toBe(0x2002000); // rounded up to the page
    expect(p.entryAtBase).toBe(true);
    expect(p.dtb.size).toBe(DEFAULT_DTB_RESERVED_SIZE);
    expect(p.dtb.end).toBe(0x8000_0000n + BigInt(DEFAULT_MEM_SIZE));
    expect(p.dtb.address % 8n).toBe(0n);
    const initrd = p.initrd;
    expect(initrd).toBeDefined();
    expect(initrd?.size).toBe(5 * MiB + 3);
    expect(initrd?.address).toBe((p.dtb.address - BigInt(5 * MiB + 3)) & ~0xfffn);
    expect(initrd!.end <= p.dtb.address).toBe(true);
  });

  it('honours text_offset: the entry point moves, the 2 MiB base stays', () => {
    const p = planLayout({ kernel: { textOffset: 0x80000, imageSize: 0x100000 }, memSize: 64 * MiB });
    expect(p.kernel.loadAddress).toBe(0x8008_0000n);
    expect(p.kernel.entry).toBe(0x8008_0000n);
    expect(p.entryAtBase).toBe(false);
    const q = planLayout({ kernel: { textOffset: 0, imageSize: 0x100000 }, kernelOffset: 2 * MiB, memSize: 64 * MiB });
    expect(q.kernel.loadAddress).toBe(0x8020_0000n);
  });

  it('plans legacy images from their file size', () => {
    const p = planLayout({ kernel: { textOffset: 0x80000, imageSize: 0 }, kernelFileSize: 0x123456, memSize: 64 * MiB });
    expect(p.kernel.size).toBe(0x124000);
    expect(code({ kernel: { textOffset: 0x80000, imageSize: 0 }, memSize: 64 * MiB })).toBe('INVALID_OPTION');
  });

  it('grows the default DTB window for a large DTB and keeps it inside one 2 MiB block', () => {
    const p = planLayout({ kernel, memSize: 64 * MiB + 0x3000, dtbSize: 0x20000 });
    expect(p.dtb.size).toBe(0x21000);
    // The top of RAM is 0x8400_3000; a 0x21000 window there would cross 0x8400_0000.
    expect(p.dtb.end).toBe(0x8400_0000n);
    expect(p.dtb.address / 0x200000n).toBe((p.dtb.end - 1n) / 0x200000n);
  });

  it('uses explicit offsets', () => {
    const p = planLayout({ kernel, memSize: 256 * MiB, dtbOffset: 0xfe00000, initrdOffset: 0x4000000, initrdSize: 8 * MiB, dtbReservedSize: 2 * MiB });
    expect(p.dtb.address).toBe(0x8fe0_0000n);
    expect(p.dtb.size).toBe(2 * MiB);
    expect(p.initrd?.address).toBe(0x8400_0000n);
  });
});

describe('planLayout errors', () => {
  it.each<[string, LayoutOptions, string]>([
    ['unaligned base', { kernel, base: 0x8010_0000 }, 'MISALIGNED'],
    ['bad base', { kernel, base: -1 }, 'INVALID_OPTION'],
    ['memSize not a page multiple', { kernel, memSize: 64 * MiB + 1 }, 'MISALIGNED'],
    ['memSize 0', { kernel, memSize: 0 }, 'MISALIGNED'],
    ['negative memSize', { kernel, memSize: -4096 }, 'INVALID_OPTION'],
    ['bad page size', { kernel, pageSize: 3000 }, 'INVALID_OPTION'],
    ['RAM past 2^64', { kernel, base: (1n << 64n) - 0x200000n, memSize: 0x400000 }, 'DOES_NOT_FIT'],
    ['kernel larger than RAM', { kernel: { textOffset: 0, imageSize: 200 * MiB } }, 'DOES_NOT_FIT'],
    ['no room for the DTB', { kernel: { textOffset: 0, imageSize: 100 * MiB - 0x8000 } }, 'DOES_NOT_FIT'],
    ['initrd too big', { kernel, initrdSize: 70 * MiB }, 'DOES_NOT_FIT'],
    ['file larger than image_size', { kernel: { textOffset: 0, imageSize: 0x1000 }, kernelFileSize: 0x1001 }, 'INVALID_OPTION'],
    ['kernel offset not 2 MiB aligned', { kernel, kernelOffset: 0x1000 }, 'MISALIGNED'],
    ['DTB offset unaligned', { kernel, dtbOffset: 0x4000001 }, 'MISALIGNED'],
    ['initrd offset unaligned', { kernel, initrdSize: 10, initrdOffset: 0x4000001 }, 'MISALIGNED'],
    ['DTB over 2 MiB', { kernel, dtbSize: 2 * MiB + 1 }, 'DTB_TOO_LARGE'],
    ['DTB reserve over 2 MiB', { kernel, dtbReservedSize: 4 * MiB }, 'DTB_TOO_LARGE'],
    ['DTB larger than its reserve', { kernel, dtbSize: 0x3000, dtbReservedSize: 0x2000 }, 'DTB_TOO_LARGE'],
    ['DTB reserve not page multiple', { kernel, dtbReservedSize: 0x1800 }, 'MISALIGNED'],
    ['DTB crossing 2 MiB', { kernel, dtbOffset: 0x41ff000, dtbReservedSize: 0x2000 }, 'DTB_CROSSES_2MIB'],
    ['DTB over the kernel', { kernel, dtbOffset: 0x1000000 }, 'OVERLAP'],
    ['initrd over the DTB', { kernel, dtbOffset: 0x5000000, initrdOffset: 0x4ff0000, initrdSize: 0x20000 }, 'OVERLAP'],
    ['initrd over the kernel', { kernel, initrdOffset: 0x1000000, initrdSize: 0x1000 }, 'OVERLAP'],
    ['DTB outside RAM', { kernel, dtbOffset: 100 * MiB }, 'DOES_NOT_FIT'],
    ['initrd outside RAM', { kernel, initrdOffset: 100 * MiB - 0x1000, initrdSize: 0x2000 }, 'DOES_NOT_FIT'],
    ['initrd too far from the kernel', { kernel, memSize: 0x900000000, initrdOffset: 0x880000000, initrdSize: 0x1000 }, 'INITRD_WINDOW'],
  ])('%s', (_n, opts, expected) => {
    expect(code(opts)).toBe(expected);
  });

  it('names the colliding objects in the message', () => {
    expect(() => planLayout({ kernel, dtbOffset: 0x1000000 })).toThrow(/kernel .* overlaps DTB/);
  });
});

describe('planLayout property', () => {
  it('a plan obeys every rule, or the options get a LayoutError', () => {
    const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
    fc.assert(
      fc.property(
        fc.record({
          memPages: fc.integer({ min: 1, max: 0x40000 }),
          textOffset: fc.integer({ min: 0, max: 511 }).map((n) => n * 4096),
          imageSize: fc.integer({ min: 0, max: 64 * MiB }),
          kernelFileSize: opt(fc.integer({ min: 0, max: 64 * MiB })),
          initrdSize: opt(fc.integer({ min: 0, max: 64 * MiB })),
          dtbSize: opt(fc.integer({ min: 0, max: 3 * MiB })),
          dtbReservedSize: opt(fc.integer({ min: 0, max: 600 }).map((n) => n * 4096)),
          dtbOffset: opt(fc.integer({ min: 0, max: 0x40000 }).map((n) => n * 4096)),
          initrdOffset: opt(fc.integer({ min: 0, max: 0x40000 }).map((n) => n * 4096)),
        }),
        (r) => {
          const opts: LayoutOptions = {
            memSize: r.memPages * 4096,
            kernel: { textOffset: r.textOffset, imageSize: r.imageSize },
            ...(r.kernelFileSize !== undefined ? { kernelFileSize: r.kernelFileSize } : {}),
            ...(r.initrdSize !== undefined ? { initrdSize: r.initrdSize } : {}),
            ...(r.dtbSize !== undefined ? { dtbSize: r.dtbSize } : {}),
            ...(r.dtbReservedSize !== undefined ? { dtbReservedSize: r.dtbReservedSize } : {}),
            ...(r.dtbOffset !== undefined ? { dtbOffset: r.dtbOffset } : {}),
            ...(r.initrdOffset !== undefined ? { initrdOffset: r.initrdOffset } : {}),
          };
          let p;
          try {
            p = planLayout(opts);
          } catch (e) {
            expect(e).toBeInstanceOf(LayoutError);
            return;
          }
          const lo = p.memory.address;
          const hi = p.memory.end;
          const items = [p.kernel, p.dtb, ...(p.initrd ? [p.initrd] : [])];
          for (const it of items) {
            expect(it.address >= lo && it.end <= hi).toBe(true);
            expect(it.end).toBe(it.address + BigInt(it.size));
          }
          for (let i = 0; i < items.length; i++)
            for (let j = i + 1; j < items.length; j++) expect(items[i]!.address < items[j]!.end && items[j]!.address < items[i]!.end).toBe(false);
          expect(p.kernel.loadAddress - BigInt(r.textOffset)).toBe(lo);
          expect(p.kernel.size).toBeGreaterThanOrEqual(r.imageSize || (r.kernelFileSize ?? 0));
          expect(p.dtb.address % 4096n).toBe(0n);
          expect(p.dtb.size).toBeLessThanOrEqual(2 * MiB);
          expect(p.dtb.address / 0x200000n).toBe((p.dtb.end - 1n) / 0x200000n);
          if (r.dtbSize !== undefined) expect(p.dtb.size).toBeGreaterThanOrEqual(r.dtbSize);
          if ((r.initrdSize ?? 0) > 0) expect(p.initrd?.size).toBe(r.initrdSize);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
