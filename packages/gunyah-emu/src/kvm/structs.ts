/**
 * Codecs for the KVM ioctl argument structs (little-endian, arm64 layout). Offsets are written out
 * so the padding stays visible; a unit test pins every size and offset.
 *
 * @module
 */

import { KvmError } from './errors.js';

const U64_MAX = (1n << 64n) - 1n;

/** @internal Checks a u32 field; throws `KvmError` `BAD_ARGUMENT`. */
export function checkU32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new KvmError('BAD_ARGUMENT', `${what} must be a u32, got ${String(v)}`);
  return v;
}

/** @internal Checks an s32 field; throws `KvmError` `BAD_ARGUMENT`. */
export function checkS32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < -0x8000_0000 || v > 0x7fff_ffff) throw new KvmError('BAD_ARGUMENT', `${what} must be an s32, got ${String(v)}`);
  return v;
}

/** @internal Checks a u8 field; throws `KvmError` `BAD_ARGUMENT`. */
export function checkU8(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new KvmError('BAD_ARGUMENT', `${what} must be a u8, got ${String(v)}`);
  return v;
}

/** @internal Converts and checks a u64 field; throws `KvmError` `BAD_ARGUMENT`. */
export function toU64(v: bigint | number, what: string): bigint {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new KvmError('BAD_ARGUMENT', `${what} must be a u64, got ${String(v)}`);
    return BigInt(v);
  }
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw new KvmError('BAD_ARGUMENT', `${what} must be a u64, got ${String(v)}`);
  return v;
}

function view(bytes: Uint8Array, size: number, what: string): DataView {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < size) {
    throw new KvmError('BAD_ARGUMENT', `${what} needs ${size} bytes, got ${bytes instanceof Uint8Array ? bytes.byteLength : 'no buffer'}`);
  }
  return new DataView(bytes.buffer, bytes.byteOffset, size);
}

// ---------------------------------------------------------------------------------------------
/** `struct kvm_userspace_memory_region` (32 bytes). */
export interface UserspaceMemoryRegion {
  /** Slot number (bits 15:0 slot, 31:16 address space; arm64 has one address space). */
  readonly slot: number;
  /** {@link KVM_MEM} bits. */
  readonly flags: number;
  /** Guest-physical base address. */
  readonly guestPhysAddr: bigint;
  /** Size in bytes (0 deletes the slot). */
  readonly memorySize: bigint;
  /** Host virtual address of the backing memory. */
  readonly userspaceAddr: bigint;
}

/**
 * Codec for `kvm_userspace_memory_region`:
 * `u32 slot @0; u32 flags @4; u64 guest_phys_addr @8; u64 memory_size @16; u64 userspace_addr @24`.
 */
export const UserspaceMemoryRegionCodec = {
  /** Size in bytes. */
  size: 32,
  /**
   * Encode a region.
   *
   * @throws {KvmError} BAD_ARGUMENT when a field is out of range
   */
  encode(v: UserspaceMemoryRegion): Uint8Array {
    const b = new Uint8Array(32);
    const d = new DataView(b.buffer);
    d.setUint32(0, checkU32(v.slot, 'slot'), true);
    d.setUint32(4, checkU32(v.flags, 'flags'), true);
    d.setBigUint64(8, toU64(v.guestPhysAddr, 'guest_phys_addr'), true);
    d.setBigUint64(16, toU64(v.memorySize, 'memory_size'), true);
    d.setBigUint64(24, toU64(v.userspaceAddr, 'userspace_addr'), true);
    return b;
  },
  /**
   * Decode a region.
   *
   * @throws {KvmError} BAD_ARGUMENT when `bytes` is shorter than 32
   */
  decode(bytes: Uint8Array): UserspaceMemoryRegion {
    const d = view(bytes, 32, 'kvm_userspace_memory_region');
    return {
      slot: d.getUint32(0, true),
      flags: d.getUint32(4, true),
      guestPhysAddr: d.getBigUint64(8, true),
      memorySize: d.getBigUint64(16, true),
      userspaceAddr: d.getBigUint64(24, true),
    };
  },
} as const;

// ---------------------------------------------------------------------------------------------
/** `struct kvm_irqfd` (32 bytes). */
export interface Irqfd {
  /** The eventfd. */
  readonly fd: number;
  /** The GSI: on arm64 with the default routing, the SPI number (INTID − 32). */
  readonly gsi: number;
  /** {@link KVM_IRQFD_FLAG} bits. */
  readonly flags: number;
  /** The resample eventfd (with `RESAMPLE`), else 0. */
  readonly resamplefd: number;
}

/** Codec for `kvm_irqfd`: `u32 fd @0; u32 gsi @4; u32 flags @8; u32 resamplefd @12; u8 pad[16] @16`. */
export const IrqfdCodec = {
  /** Size in bytes. */
  size: 32,
  /**
   * Encode an irqfd request.
   *
   * @throws {KvmError} BAD_ARGUMENT when a field is out of range
   */
  encode(v: Irqfd): Uint8Array {
    const b = new Uint8Array(32);
    const d = new DataView(b.buffer);
    d.setUint32(0, checkU32(v.fd, 'fd'), true);
    d.setUint32(4, checkU32(v.gsi, 'gsi'), true);
    d.setUint32(8, checkU32(v.flags, 'flags'), true);
    d.setUint32(12, checkU32(v.resamplefd, 'resamplefd'), true);
    return b;
  },
  /**
   * Decode an irqfd request.
   *
   * @throws {KvmError} BAD_ARGUMENT when `bytes` is shorter than 32
   */
  decode(bytes: Uint8Array): Irqfd {
    const d = view(bytes, 32, 'kvm_irqfd');
    return { fd: d.getUint32(0, true), gsi: d.getUint32(4, true), flags: d.getUint32(8, true), resamplefd: d.getUint32(12, true) };
  },
} as const;

// ---------------------------------------------------------------------------------------------
/** `struct kvm_ioeventfd` (64 bytes). */
export interface Ioeventfd {
  /** Value compared with the write when `DATAMATCH` is set. */
  readonly datamatch: bigint;
  /** Guest-physical address. */
  readonly addr: bigint;
  /** Access length: 0 (any), 1, 2, 4 or 8. */
  readonly len: number;
  /** The eventfd. */
  readonly fd: number;
  /** {@link KVM_IOEVENTFD_FLAG} bits. */
  readonly flags: number;
}

/**
 * Codec for `kvm_ioeventfd`:
 * `u64 datamatch @0; u64 addr @8; u32 len @16; s32 fd @20; u32 flags @24; u8 pad[36] @28`.
 */
export const IoeventfdCodec = {
  /** Size in bytes. */
  size: 64,
  /**
   * Encode an ioeventfd request.
   *
   * @throws {KvmError} BAD_ARGUMENT when a field is out of range
   */
  encode(v: Ioeventfd): Uint8Array {
    const b = new Uint8Array(64);
    const d = new DataView(b.buffer);
    d.setBigUint64(0, toU64(v.datamatch, 'datamatch'), true);
    d.setBigUint64(8, toU64(v.addr, 'addr'), true);
    d.setUint32(16, checkU32(v.len, 'len'), true);
    d.setInt32(20, checkS32(v.fd, 'fd'), true);
    d.setUint32(24, checkU32(v.flags, 'flags'), true);
    return b;
  },
  /**
   * Decode an ioeventfd request.
   *
   * @throws {KvmError} BAD_ARGUMENT when `bytes` is shorter than 64
   */
  decode(bytes: Uint8Array): Ioeventfd {
    const d = view(bytes, 64, 'kvm_ioeventfd');
    return {
      datamatch: d.getBigUint64(0, true),
      addr: d.getBigUint64(8, true),
      len: d.getUint32(16, true),
      fd: d.getInt32(20, true),
      flags: d.getUint32(24, true),
    };
  },
} as const;

// ---------------------------------------------------------------------------------------------
/** `struct kvm_one_reg` (16 bytes). */
export interface OneReg {
  /** Register id (see `regs.ts`). */
  readonly id: bigint;
  /** Host address of the value buffer (patched in by `ioctlWithPtrs`; 0 when encoding). */
  readonly addr: bigint;
}

/** Codec for `kvm_one_reg`: `u64 id @0; u64 addr @8` (addr is a pointer). */
export const OneRegCodec = {
  /** Size in bytes. */
  size: 16,
  /** Byte offset of the `addr` pointer. */
  addrOffset: 8,
  /**
   * Encode a register request.
   *
   * @throws {KvmError} BAD_ARGUMENT when a field is out of range
   */
  encode(v: OneReg): Uint8Array {
    const b = new Uint8Array(16);
    const d = new DataView(b.buffer);
    d.setBigUint64(0, toU64(v.id, 'id'), true);
    d.setBigUint64(8, toU64(v.addr, 'addr'), true);
    return b;
  },
  /**
   * Decode a register request.
   *
   * @throws {KvmError} BAD_ARGUMENT when `bytes` is shorter than 16
   */
  decode(bytes: Uint8Array): OneReg {
    const d = view(bytes, 16, 'kvm_one_reg');
    return { id: d.getBigUint64(0, true), addr: d.getBigUint64(8, true) };
  },
} as const;

// ---------------------------------------------------------------------------------------------
/** `struct kvm_vcpu_init` (32 bytes). */
export interface VcpuInit {
  /** CPU target (from `KVM_ARM_PREFERRED_TARGET`). */
  readonly target: number;
  /** Seven feature words; bit numbers of word 0 in {@link KVM_ARM_VCPU_FEATURE}. */
  readonly features: readonly number[];
}

/** Codec for `kvm_vcpu_init`: `u32 target @0; u32 features[7] @4`. */
export const VcpuInitCodec = {
  /** Size in bytes. */
  size: 32,
  /** Number of feature words. */
  featureWords: 7,
  /**
   * Encode a vCPU init request; missing feature words are 0.
   *
   * @throws {KvmError} BAD_ARGUMENT when a field is out of range or there are more than 7 words
   */
  encode(v: VcpuInit): Uint8Array {
    if (v.features.length > 7) throw new KvmError('BAD_ARGUMENT', `kvm_vcpu_init has 7 feature words, got ${v.features.length}`);
    const b = new Uint8Array(32);
    const d = new DataView(b.buffer);
    d.setUint32(0, checkU32(v.target, 'target'), true);
    v.features.forEach((w, i) => d.setUint32(4 + 4 * i, checkU32(w, `features[${i}]`), true));
    return b;
  },
  /**
   * Decode a vCPU init struct.
   *
   * @throws {KvmError} BAD_ARGUMENT when `bytes` is shorter than 32
   */
  decode(bytes: Uint8Array): VcpuInit {
    const d = view(bytes, 32, 'kvm_vcpu_init');
    const features: number[] = [];
    for (let i = 0; i < 7; i++) features.push(d.getUint32(4 + 4 * i, true));
    return { target: d.getUint32(0, true), features };
  },
} as const;

// ---------------------------------------------------------------------------------------------
/** `struct kvm_create_device` (12 bytes). */
export interface CreateDevice {
  /** {@link KVM_DEV_TYPE} value. */
  readonly type: number;
  /** Output: the new device fd. */
  readonly fd: number;
  /** `KVM_CREATE_DEVICE_TEST` or 0. */
  readonly flags: number;
}

/** Codec for `kvm_create_device`: `u32 type @0; u32 fd @4; u32 flags @8`. */
export const CreateDeviceCodec = {
  /** Size in bytes. */
  size: 12,
  /**
   * Encode a create-device request.
   *
   * @throws {KvmError} BAD_ARGUMENT when a field is out of range
   */
  encode(v: CreateDevice): Uint8Array {
    const b = new Uint8Array(12);
    const d = new DataView(b.buffer);
    d.setUint32(0, checkU32(v.type, 'type'), true);
    d.setUint32(4, checkU32(v.fd, 'fd'), true);
    d.setUint32(8, checkU32(v.flags, 'flags'), true);
    return b;
  },
  /**
   * Decode a create-device struct (after the kernel filled in `fd`).
   *
   * @throws {KvmError} BAD_ARGUMENT when `bytes` is shorter than 12
   */
  decode(bytes: Uint8Array): CreateDevice {
    const d = view(bytes, 12, 'kvm_create_device');
    return { type: d.getUint32(0, true), fd: d.getUint32(4, true), flags: d.getUint32(8, true) };
  },
} as const;

// ---------------------------------------------------------------------------------------------
/** `struct kvm_device_attr` (24 bytes). */
export interface DeviceAttr {
  /** Always 0 today. */
  readonly flags: number;
  /** Attribute group. */
  readonly group: number;
  /** Attribute within the group. */
  readonly attr: bigint;
  /** Host address of the value (patched in by `ioctlWithPtrs`; 0 when encoding). */
  readonly addr: bigint;
}

/** Codec for `kvm_device_attr`: `u32 flags @0; u32 group @4; u64 attr @8; u64 addr @16` (pointer). */
export const DeviceAttrCodec = {
  /** Size in bytes. */
  size: 24,
  /** Byte offset of the `addr` pointer. */
  addrOffset: 16,
  /**
   * Encode a device-attribute request.
   *
   * @throws {KvmError} BAD_ARGUMENT when a field is out of range
   */
  encode(v: DeviceAttr): Uint8Array {
    const b = new Uint8Array(24);
    const d = new DataView(b.buffer);
    d.setUint32(0, checkU32(v.flags, 'flags'), true);
    d.setUint32(4, checkU32(v.group, 'group'), true);
    d.setBigUint64(8, toU64(v.attr, 'attr'), true);
    d.setBigUint64(16, toU64(v.addr, 'addr'), true);
    return b;
  },
  /**
   * Decode a device-attribute request.
   *
   * @throws {KvmError} BAD_ARGUMENT when `bytes` is shorter than 24
   */
  decode(bytes: Uint8Array): DeviceAttr {
    const d = view(bytes, 24, 'kvm_device_attr');
    return { flags: d.getUint32(0, true), group: d.getUint32(4, true), attr: d.getBigUint64(8, true), addr: d.getBigUint64(16, true) };
  },
} as const;

// ---------------------------------------------------------------------------------------------
/** `struct kvm_smccc_filter` (24 bytes). */
export interface SmcccFilter {
  /** First SMCCC function id of the range. */
  readonly base: number;
  /** Number of function ids (≥ 1; `base + nrFunctions − 1` must not pass 2^32 − 1). */
  readonly nrFunctions: number;
  /** `KVM_SMCCC_FILTER_ACTION` value. */
  readonly action: number;
}

/** Codec for `kvm_smccc_filter`: `u32 base @0; u32 nr_functions @4; u8 action @8; u8 pad[15] @9`. */
export const SmcccFilterCodec = {
  /** Size in bytes. */
  size: 24,
  /**
   * Encode a filter range.
   *
   * @throws {KvmError} BAD_ARGUMENT when a field is out of range
   */
  encode(v: SmcccFilter): Uint8Array {
    const b = new Uint8Array(24);
    const d = new DataView(b.buffer);
    d.setUint32(0, checkU32(v.base, 'base'), true);
    d.setUint32(4, checkU32(v.nrFunctions, 'nr_functions'), true);
    d.setUint8(8, checkU8(v.action, 'action'));
    return b;
  },
  /**
   * Decode a filter range.
   *
   * @throws {KvmError} BAD_ARGUMENT when `bytes` is shorter than 24
   */
  decode(bytes: Uint8Array): SmcccFilter {
    const d = view(bytes, 24, 'kvm_smccc_filter');
    return { base: d.getUint32(0, true), nrFunctions: d.getUint32(4, true), action: d.getUint8(8) };
  },
} as const;
