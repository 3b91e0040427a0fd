import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  ADDRSPACE_LIMITS,
  CAP_RIGHTS,
  DONATE_TYPE,
  GH_VMID_ROOT_VM,
  GUNYAH_ADDRSPACE_SELF_CAP,
  GUNYAH_CAP_INVALID,
  GUNYAH_RESOURCE_TYPE,
  MAP_FLAGS,
  MEMORY_TYPE,
  PAGE_ACCESS,
  PSCI_RESET_TYPE,
  VCPU_OPTIONS,
  VCPU_POWEROFF_FLAGS,
  VCPU_POWERON_FLAGS,
  VCPU_REGISTER_SET,
  VCPU_RUN_MMIO_ACTION,
  VCPU_RUN_STATE,
  VCPU_VIRQ_TYPE,
  VCPU_WAKEUP_FROM,
  VMMIO_OP,
  decodeDonateOptions,
  decodeMapAttrs,
  decodeVirqInfo,
  encodeDonateOptions,
  encodeMapAttrs,
  encodeVirqInfo,
  vcpuRunStateName,
} from './constants.js';
import { HypercallError } from './errors.js';

const code = (c: string) => expect.objectContaining({ name: 'HypercallError', code: c });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

/** Property: decode(any u64) re-encodes to the same value, or throws a HypercallError. */
function fuzzRoundTrip<T>(decode: (v: bigint) => T, encode: (t: T) => number | bigint, small: bigint) {
  fc.assert(
    fc.property(fc.oneof(u64, fc.bigInt({ min: 0n, max: small })), (v) => {
      try {
        expect(BigInt(encode(decode(v)))).toBe(v);
      } catch (e) {
        expect(e).toBeInstanceOf(HypercallError);
      }
    }),
    { numRuns: 2000 },
  );
}

describe('constants vs spec (§3.4–§3.8, §5)', () => {
  it('capabilities, VMIDs, resource types, rights', () => {
    expect(GUNYAH_CAP_INVALID).toBe(0xffff_ffff_ffff_ffffn);
    expect(GUNYAH_ADDRSPACE_SELF_CAP).toBe(0n);
    expect(GH_VMID_ROOT_VM).toBe(0xff);
    expect(GUNYAH_RESOURCE_TYPE).toEqual({ BELL_TX: 0, BELL_RX: 1, MSGQ_TX: 2, MSGQ_RX: 3, VCPU: 4, MEM_EXTENT: 9, ADDR_SPACE: 10 });
    expect(CAP_RIGHTS).toEqual({
      GENERIC: { ACTIVATE: 0x80000000 },
      DOORBELL: { SEND: 0x1, RECEIVE: 0x2, BIND: 0x4 },
      MSGQUEUE: { SEND: 0x1, RECEIVE: 0x2, BIND_SEND: 0x4, BIND_RECEIVE: 0x8 },
    });
  });

  it('address-space values', () => {
    expect(PAGE_ACCESS).toEqual({ NONE: 0, X: 1, W: 2, R: 4, RX: 5, RW: 6, RWX: 7 });
    expect(MEMORY_TYPE).toEqual({
      DEVICE_nGnRnE: 0,
      DEVICE_nGnRE: 1,
      DEVICE_nGRE: 2,
      DEVICE_GRE: 3,
      NORMAL_NC: 5,
      NORMAL_ONC_IWT: 6,
      NORMAL_ONC_IWB: 7,
      NORMAL_OWT_INC: 9,
      NORMAL_WT: 10,
      NORMAL_OWT_IWB: 11,
      NORMAL_OWB_INC: 13,
      NORMAL_OWB_IWT: 14,
      NORMAL_WB: 15,
    });
    expect(MAP_FLAGS).toEqual({ PARTIAL: 1, PRIVATE: 2, VMMIO: 4, NOSYNC: 2 ** 31 });
    expect(VMMIO_OP).toEqual({ ADD: 0, REMOVE: 1 });
    expect(ADDRSPACE_LIMITS).toEqual({ MAX_VMMIO_RANGES: 128, MAX_MEMEXTENT_MAPPINGS: 4 });
  });

  it('vCPU values', () => {
    expect(VCPU_RUN_STATE).toEqual({
      READY: 0,
      EXPECTS_WAKEUP: 1,
      POWERED_OFF: 2,
      BLOCKED: 3,
      ADDRSPACE_VMMIO_READ: 4,
      ADDRSPACE_VMMIO_WRITE: 5,
      FAULT: 6,
      ADDRSPACE_PAGE_FAULT: 7,
      PSCI_SYSTEM_RESET: 0x100,
    });
    expect(VCPU_WAKEUP_FROM).toEqual({ UNSPECIFIED: 0, PSCI_CPU_SUSPEND: 2, PSCI_SYSTEM_SUSPEND: 3 });
    expect(PSCI_RESET_TYPE).toEqual({ SYSTEM_RESET: 2n ** 63n, RESET2_SMC64: 2n ** 62n, RESET2_TYPE_MASK: 0xffffffffn });
    expect(VCPU_RUN_MMIO_ACTION).toEqual({ EMULATE: 0, RETRY: 1, FAULT: 2 });
    expect(VCPU_POWERON_FLAGS).toEqual({ PRESERVE_ENTRY_POINT: 1, PRESERVE_CONTEXT: 2 });
    expect(VCPU_POWEROFF_FLAGS).toEqual({ LAST_VCPU: 1 });
    expect(VCPU_REGISTER_SET).toEqual({ X: 0, PC: 1, SP_EL: 2 });
    expect(VCPU_VIRQ_TYPE).toEqual({ HALT: 0, VCPU_RUN_WAKEUP: 1 });
    expect(Object.values(VCPU_OPTIONS)).toEqual([1n, 2n, 4n, 8n, 16n, 32n, 256n, 2n ** 63n]);
    expect(DONATE_TYPE).toEqual({ TO_CHILD: 0, TO_PARENT: 1, TO_SIBLING: 2, TO_PROTECTED: 3, FROM_PROTECTED: 4 });
  });

  it('vcpuRunStateName', () => {
    expect(vcpuRunStateName(0x100n)).toBe('PSCI_SYSTEM_RESET');
    expect(vcpuRunStateName(4)).toBe('ADDRSPACE_VMMIO_READ');
    expect(vcpuRunStateName(8)).toBeUndefined();
    expect(() => vcpuRunStateName(-1)).toThrow(code('NOT_U64'));
  });
});

describe('map_attrs (§3.6)', () => {
  it('bits 2:0 user, 6:4 kernel, 23:16 type', () => {
    expect(encodeMapAttrs({ userAccess: PAGE_ACCESS.RW, kernelAccess: PAGE_ACCESS.RWX, memoryType: MEMORY_TYPE.NORMAL_WB })).toBe(0x000f_0076);
    expect(decodeMapAttrs(0x000f_0076)).toEqual({ userAccess: 6, kernelAccess: 7, memoryType: 15 });
    expect(() => decodeMapAttrs(0x8)).toThrow(code('RESERVED_BITS_SET'));
    expect(() => decodeMapAttrs(1n << 24n)).toThrow(code('RESERVED_BITS_SET'));
    expect(() => encodeMapAttrs({ userAccess: 8, kernelAccess: 0, memoryType: 0 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    fuzzRoundTrip(decodeMapAttrs, encodeMapAttrs, 0xff_ffffn);
  });
});

describe('memextent_donate options (§3.7)', () => {
  it('bits 7:0 type, bit 31 NOSYNC', () => {
    expect(encodeDonateOptions({ type: DONATE_TYPE.TO_SIBLING, noSync: true })).toBe(0x8000_0002);
    expect(decodeDonateOptions(0x8000_0001n)).toEqual({ type: 1, noSync: true });
    expect(() => decodeDonateOptions(0x100)).toThrow(code('RESERVED_BITS_SET'));
    expect(() => encodeDonateOptions({ type: 256, noSync: false })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeDonateOptions({ type: 0, noSync: 1 as unknown as boolean })).toThrow(code('FIELD_OUT_OF_RANGE'));
    fuzzRoundTrip(decodeDonateOptions, encodeDonateOptions, 0xffff_ffffn);
  });
});

describe('virq_info (§3.5)', () => {
  it('bits 23:0 vIRQ, 31:24 vCPU index, 63:32 zero', () => {
    expect(encodeVirqInfo({ virq: 32, vcpuIndex: 3 })).toBe(0x0300_0020n);
    expect(decodeVirqInfo(0xff_ff_ff_ffn)).toEqual({ virq: 0xffffff, vcpuIndex: 0xff });
    expect(() => decodeVirqInfo(1n << 32n)).toThrow(code('RESERVED_BITS_SET'));
    expect(() => encodeVirqInfo({ virq: 1 << 24, vcpuIndex: 0 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    fuzzRoundTrip(decodeVirqInfo, encodeVirqInfo, 0xffff_ffffn);
  });
});
