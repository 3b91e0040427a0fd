import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IOC_DIR, decodeIoc, io, ioc, ior, iow, iowr } from './ioc.js';

describe('_IOC encoding (spec/gunyah-uapi.md §2)', () => {
  it('matches request numbers given in the spec', () => {
    // Values written out in spec §2.1.
    expect(io('G', 0x00)).toBe(0x4700); // GH_CREATE_VM
    expect(io('G', 0x03)).toBe(0x4703); // GH_VM_START
    expect(iow('G', 0x01, 32)).toBe(0x40204701); // GH_VM_SET_USER_MEM_REGION
    expect(iow('G', 0x02, 16)).toBe(0x40104702); // GH_VM_SET_DTB_CONFIG
  });

  it('matches well-known Linux numbers', () => {
    expect(io(0xae, 0x00)).toBe(0xae00); // KVM_GET_API_VERSION
    expect(ior('T', 0x1b, 0)).toBe(0x80005401 + 0x1a); // direction READ, size 0
    expect(iowr(0xae, 0x80, 0)).toBe(0xc000ae80);
  });

  it('decodes what it encodes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 16383 }), (dir, type, nr, size) => {
        const r = ioc(dir as 0 | 1 | 2 | 3, type, nr, size);
        expect(r).toBeGreaterThanOrEqual(0);
        expect(r).toBeLessThanOrEqual(0xffffffff);
        expect(decodeIoc(r)).toEqual({ dir, type, nr, size });
      }),
    );
  });

  it('rejects fields that do not fit', () => {
    expect(() => ioc(IOC_DIR.WRITE, 'G', 256, 0)).toThrow(RangeError);
    expect(() => ioc(IOC_DIR.WRITE, 'G', 1, 1 << 14)).toThrow(RangeError);
    expect(() => ioc(IOC_DIR.WRITE, 'GG', 1, 1)).toThrow(RangeError);
    expect(() => ioc(4 as 0, 'G', 1, 1)).toThrow(RangeError);
    expect(() => decodeIoc(-1)).toThrow(RangeError);
    expect(() => decodeIoc(2 ** 32)).toThrow(RangeError);
  });
});
