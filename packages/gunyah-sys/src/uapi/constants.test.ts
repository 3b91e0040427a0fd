import { describe, expect, it } from 'vitest';
import { decodeIoc } from '../ioc.js';
import { GUNYAH_IOCTLS, IOCTL, MEM_FLAGS_B, MEM_FLAGS_C, gunyahIoctlByRequest, ioctlAvailable, type GunyahIoctlName } from './constants.js';

// spec/gunyah-uapi.md §2.1, written out by hand from the table (hex column, A/B/C columns).
const SPEC: readonly [GunyahIoctlName, number, string, string][] = [
  ['CREATE_VM', 0x00004700, 'ABC', ''],
  ['SET_USER_MEM_REGION', 0x40204701, 'AC', ''],
  ['SET_DTB_CONFIG', 0x40104702, 'ABC', ''],
  ['VM_START', 0x00004703, 'ABC', ''],
  ['ADD_FUNCTION', 0x40104704, 'ABC', ''],
  ['VCPU_RUN', 0x00004705, 'ABC', ''],
  ['VCPU_MMAP_SIZE', 0x00004706, 'ABC', ''],
  ['REMOVE_FUNCTION', 0x40104707, 'ABC', ''],
  ['CREATE_GUEST_MEM', 0x40404708, 'B', ''],
  ['MAP_MEM', 0x40204709, 'B', ''],
  ['SET_BOOT_CONTEXT', 0x4010470a, 'BC', ''],
  ['ANDROID_TENTATIVE_UAPI', 0x00004110, '', ''],
  ['ANDROID_LEND_USER_MEM', 0x40204111, 'AC', ''],
  ['ANDROID_SET_FW_CONFIG', 0x40104112, 'AC', ''],
  ['RECLAIM_REGION', 0x40104113, '', 'C+'],
  ['CREATE_CMA_MEM_FD', 0x00004114, '', 'C+'],
  ['ANDROID_MAP_CMA_MEM', 0x40284115, '', 'C+'],
  ['ANDROID_SET_AUTH_TYPE', 0x40104116, '', 'C+'],
  ['CHECK_EXTENSION', 0x00004117, '', 'C+'],
];

describe('IOCTL table (spec §2.1)', () => {
  it('has the examples of the issue', () => {
    expect(IOCTL.GH_VM_SET_USER_MEM_REGION).toBe(0x40204701);
    expect(IOCTL.GUNYAH_VM_START).toBe(0x4703);
    expect(IOCTL.GH_VM_START).toBe(IOCTL.GUNYAH_VM_START);
    expect(IOCTL.GH_VM_SET_BOOT_CONTEXT).toBe(IOCTL.GUNYAH_VM_SET_BOOT_CONTEXT);
  });

  it.each(SPEC)('%s = %i with the spec availability', (name, request, variants, cplus) => {
    const s = GUNYAH_IOCTLS[name];
    expect(s.request).toBe(request);
    for (const n of s.names) expect(IOCTL[n as keyof typeof IOCTL]).toBe(request);
    const f = decodeIoc(request);
    expect(f.size).toBe(s.size);
    expect(f.dir).toBe(s.size === 0 ? 0 : 1); // no _IOR/_IOWR in any variant
    for (const v of ['A', 'B', 'C'] as const) {
      expect(ioctlAvailable(name, v)).toBe(variants.includes(v));
      expect(ioctlAvailable(name, v, true)).toBe(variants.includes(v) || (v === 'C' && cplus === 'C+'));
    }
    expect(gunyahIoctlByRequest(request)).toBe(s);
  });

  it('covers every ioctl once and every kernel name', () => {
    expect(Object.keys(GUNYAH_IOCTLS).sort()).toEqual(SPEC.map((s) => s[0]).sort());
    expect(Object.keys(IOCTL)).toHaveLength(28);
    expect(gunyahIoctlByRequest(0x4799)).toBeUndefined();
  });
});

describe('GUNYAH_MEM_* tables (spec §3.10)', () => {
  it('B and C assign the bits differently', () => {
    expect(MEM_FLAGS_B).toMatchObject({ FORCE_LEND: 1, FORCE_SHARE: 2, ACCESS_MASK: 7, ALLOW_READ: 0x10, ALLOW_WRITE: 0x20, ALLOW_EXEC: 0x40, ALLOW_RWX: 0x70, UNMAP: 0x100 });
    expect(MEM_FLAGS_C).toMatchObject({ FORCE_LEND: 0x10, FORCE_SHARE: 0x20, ACCESS_MASK: 0x70, ALLOW_READ: 1, ALLOW_WRITE: 2, ALLOW_EXEC: 4, ALLOW_RWX: 7, UNMAP: 0x100 });
    expect(MEM_FLAGS_B.ALLOW_READ).not.toBe(MEM_FLAGS_C.ALLOW_READ);
  });
});
