/**
 * Byte-exact codecs for every struct of the `/dev/gunyah` uapi (spec/gunyah-uapi.md §3). Offsets are
 * written out from the spec tables; everything is little-endian (arm64). Padding and reserved fields
 * are written as zero and ignored on decode.
 *
 * @module
 */
import { UapiError } from './errors.js';
import { UAPI_STRUCT_SIZES } from './constants.js';

/** The encoder's view of a decoded struct: 64-bit fields also accept safe-integer `number`s. */
export type EncodeInput<T> = { readonly [K in keyof T]: T[K] extends bigint ? bigint | number : T[K] };

/**
 * A codec for one C struct. `fields` maps each C field name to its byte offset (the layout tests
 * compare it with `offsetof` from our C declarations).
 */
export interface StructCodec<T> {
  /** The C struct name in the `gunyah_` spelling. */
  readonly name: string;
  /** `sizeof` in bytes. */
  readonly size: number;
  /** C field name → byte offset. */
  readonly fields: Readonly<Record<string, number>>;
  /**
   * Encode `value` into `out` (a new zeroed `size`-byte DataView when omitted) and return it.
   *
   * @throws {UapiError} FIELD_OUT_OF_RANGE, TRUNCATED
   */
  encode(value: EncodeInput<T>, out?: DataView): DataView;
  /**
   * Decode from `bytes` at `offset` (default 0).
   *
   * @throws {UapiError} TRUNCATED, DETACHED
   */
  decode(bytes: ArrayBufferView | ArrayBuffer, offset?: number): T;
}

const U64_MAX = (1n << 64n) - 1n;

/** @internal Check and convert a u64 field value. */
export function toU64(v: unknown, struct: string, field: string): bigint {
  if (typeof v === 'bigint') {
    if (v >= 0n && v <= U64_MAX) return v;
  } else if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) {
    return BigInt(v);
  }
  throw new UapiError('FIELD_OUT_OF_RANGE', struct, `expected a u64, got ${String(v)}`, field);
}

/** @internal Check an unsigned integer field of `bits` bits (8, 16 or 32). */
export function toUint(v: unknown, bits: 8 | 16 | 32, struct: string, field: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** bits) return v;
  throw new UapiError('FIELD_OUT_OF_RANGE', struct, `expected a u${bits}, got ${String(v)}`, field);
}

/** @internal Check an s32 field. */
export function toS32(v: unknown, struct: string, field: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return v;
  throw new UapiError('FIELD_OUT_OF_RANGE', struct, `expected an s32, got ${String(v)}`, field);
}

/** @internal A DataView of exactly `size` bytes at `offset` of `bytes`, or a typed error. */
export function structView(bytes: ArrayBufferView | ArrayBuffer, offset: number, size: number, struct: string): DataView {
  const buffer = bytes instanceof ArrayBuffer ? bytes : bytes.buffer;
  const base = bytes instanceof ArrayBuffer ? 0 : bytes.byteOffset;
  const length = bytes instanceof ArrayBuffer ? bytes.byteLength : bytes.byteLength;
  if ((buffer as ArrayBuffer & { detached?: boolean }).detached === true) {
    throw new UapiError('DETACHED', struct, 'buffer is detached');
  }
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + size > length) {
    throw new UapiError('TRUNCATED', struct, `need ${size} bytes at offset ${offset}, have ${length}`);
  }
  return new DataView(buffer, base + offset, size);
}

function outView(out: DataView | undefined, size: number, struct: string): DataView {
  if (out === undefined) return new DataView(new ArrayBuffer(size));
  if (out.byteLength < size) throw new UapiError('TRUNCATED', struct, `output needs ${size} bytes, has ${out.byteLength}`);
  new Uint8Array(out.buffer, out.byteOffset, size).fill(0);
  return out;
}

function codec<T>(
  name: string,
  size: number,
  fields: Readonly<Record<string, number>>,
  enc: (v: EncodeInput<T>, d: DataView) => void,
  dec: (d: DataView) => T,
): StructCodec<T> {
  return Object.freeze({
    name,
    size,
    fields: Object.freeze({ ...fields }),
    encode(value: EncodeInput<T>, out?: DataView): DataView {
      const d = outView(out, size, name);
      enc(value, d);
      return d;
    },
    decode(bytes: ArrayBufferView | ArrayBuffer, offset = 0): T {
      return dec(structView(bytes, offset, size, name));
    },
  });
}

// ---------------------------------------------------------------------------------------------
// spec §3.1: gh_userspace_memory_region / gunyah_userspace_memory_region (A, C), 32 bytes

/** A guest memory region for `GH_VM_SET_USER_MEM_REGION` / `GH_VM_ANDROID_LEND_USER_MEM` (A, C). */
export interface UserspaceMemoryRegion {
  /** Region label; unique per VM in A, also the RM parcel label. */
  readonly label: number;
  /** `USER_MEM_FLAGS` bits (R=1, W=2, X=4). */
  readonly flags: number;
  /** Guest IPA, page aligned. */
  readonly guestPhysAddr: bigint;
  /** Bytes, page aligned, non-zero. */
  readonly memorySize: bigint;
  /** Host virtual address, page aligned. */
  readonly userspaceAddr: bigint;
}

/** Codec of `gunyah_userspace_memory_region` (spec §3.1). */
export const UserspaceMemoryRegion: StructCodec<UserspaceMemoryRegion> = codec<UserspaceMemoryRegion>(
  'gunyah_userspace_memory_region',
  UAPI_STRUCT_SIZES.userspace_memory_region,
  { label: 0, flags: 4, guest_phys_addr: 8, memory_size: 16, userspace_addr: 24 },
  (v, d) => {
    const s = 'gunyah_userspace_memory_region';
    d.setUint32(0, toUint(v.label, 32, s, 'label'), true);
    d.setUint32(4, toUint(v.flags, 32, s, 'flags'), true);
    d.setBigUint64(8, toU64(v.guestPhysAddr, s, 'guest_phys_addr'), true);
    d.setBigUint64(16, toU64(v.memorySize, s, 'memory_size'), true);
    d.setBigUint64(24, toU64(v.userspaceAddr, s, 'userspace_addr'), true);
  },
  (d) => ({
    label: d.getUint32(0, true),
    flags: d.getUint32(4, true),
    guestPhysAddr: d.getBigUint64(8, true),
    memorySize: d.getBigUint64(16, true),
    userspaceAddr: d.getBigUint64(24, true),
  }),
);

// ---------------------------------------------------------------------------------------------
// spec §3.2, §3.3, §3.4: {guest_phys_addr u64 @0, size u64 @8}, 16 bytes

/** An IPA range: the DTB config, the firmware config (A, C) and the C+ reclaim range share this shape. */
export interface GuestRange {
  /** Guest IPA of the first byte. */
  readonly guestPhysAddr: bigint;
  /** Length in bytes. */
  readonly size: bigint;
}

function rangeCodec(name: string): StructCodec<GuestRange> {
  return codec<GuestRange>(
    name,
    16,
    { guest_phys_addr: 0, size: 8 },
    (v, d) => {
      d.setBigUint64(0, toU64(v.guestPhysAddr, name, 'guest_phys_addr'), true);
      d.setBigUint64(8, toU64(v.size, name, 'size'), true);
    },
    (d) => ({ guestPhysAddr: d.getBigUint64(0, true), size: d.getBigUint64(8, true) }),
  );
}

/** Codec of `gunyah_vm_dtb_config` for `SET_DTB_CONFIG` (spec §3.2). */
export const VmDtbConfig: StructCodec<GuestRange> = rangeCodec('gunyah_vm_dtb_config');
/** Codec of `gunyah_vm_firmware_config` for `GH_VM_ANDROID_SET_FW_CONFIG` (A, C; spec §3.3). */
export const VmFirmwareConfig: StructCodec<GuestRange> = rangeCodec('gunyah_vm_firmware_config');
/** Codec of `gunyah_address_range` for `GH_VM_RECLAIM_REGION` (C+; spec §3.4). */
export const AddressRange: StructCodec<GuestRange> = rangeCodec('gunyah_address_range');

// ---------------------------------------------------------------------------------------------
// spec §3.5: gunyah_fn_desc, 16 bytes; spec §3.12 gunyah_auth_desc has the same shape

/** A function descriptor: `arg` is the host address of the per-type argument struct. */
export interface FnDesc {
  /** {@link FN_TYPE} value. */
  readonly type: number;
  /** Bytes at `arg`, at most 256. */
  readonly argSize: number;
  /** Host address of the argument struct. */
  readonly arg: bigint;
}

function descCodec(name: string): StructCodec<FnDesc> {
  return codec<FnDesc>(
    name,
    16,
    { type: 0, arg_size: 4, arg: 8 },
    (v, d) => {
      d.setUint32(0, toUint(v.type, 32, name, 'type'), true);
      d.setUint32(4, toUint(v.argSize, 32, name, 'arg_size'), true);
      d.setBigUint64(8, toU64(v.arg, name, 'arg'), true);
    },
    (d) => ({ type: d.getUint32(0, true), argSize: d.getUint32(4, true), arg: d.getBigUint64(8, true) }),
  );
}

/** Codec of `gunyah_fn_desc` for `ADD_FUNCTION` / `REMOVE_FUNCTION` (spec §3.5). */
export const FnDesc: StructCodec<FnDesc> = descCodec('gunyah_fn_desc');
/** Codec of `gunyah_auth_desc` for `GH_VM_ANDROID_SET_AUTH_TYPE` (C+; spec §3.12): `type`, `arg_size`, `arg`. */
export const AuthDesc: StructCodec<FnDesc> = descCodec('gunyah_auth_desc');

// ---------------------------------------------------------------------------------------------
// spec §3.6: gunyah_fn_vcpu_arg, 4 bytes

/** Argument of a vCPU function. */
export interface FnVcpuArg {
  /** The vCPU's RM resource label (0..n−1 in practice). */
  readonly id: number;
}

/** Codec of `gunyah_fn_vcpu_arg` (spec §3.6). */
export const FnVcpuArg: StructCodec<FnVcpuArg> = codec<FnVcpuArg>(
  'gunyah_fn_vcpu_arg',
  4,
  { id: 0 },
  (v, d) => d.setUint32(0, toUint(v.id, 32, 'gunyah_fn_vcpu_arg', 'id'), true),
  (d) => ({ id: d.getUint32(0, true) }),
);

// ---------------------------------------------------------------------------------------------
// spec §3.7: gunyah_fn_irqfd_arg, 16 bytes

/** Argument of an irqfd function. */
export interface FnIrqfdArg {
  /** The eventfd (unsigned in this struct). */
  readonly fd: number;
  /** Doorbell label in the VM's devicetree. */
  readonly label: number;
  /** {@link IRQFD_FLAGS} bits (LEVEL = 1). */
  readonly flags: number;
}

/** Codec of `gunyah_fn_irqfd_arg` (spec §3.7); the padding word @12 is written as zero. */
export const FnIrqfdArg: StructCodec<FnIrqfdArg> = codec<FnIrqfdArg>(
  'gunyah_fn_irqfd_arg',
  16,
  { fd: 0, label: 4, flags: 8, padding: 12 },
  (v, d) => {
    const s = 'gunyah_fn_irqfd_arg';
    d.setUint32(0, toUint(v.fd, 32, s, 'fd'), true);
    d.setUint32(4, toUint(v.label, 32, s, 'label'), true);
    d.setUint32(8, toUint(v.flags, 32, s, 'flags'), true);
  },
  (d) => ({ fd: d.getUint32(0, true), label: d.getUint32(4, true), flags: d.getUint32(8, true) }),
);

// ---------------------------------------------------------------------------------------------
// spec §3.8: gunyah_fn_ioeventfd_arg, 32 bytes

/** Argument of an ioeventfd function. */
export interface FnIoeventfdArg {
  /** Value a write must equal when DATAMATCH is set. */
  readonly datamatch: bigint;
  /** Guest IPA (exact match). */
  readonly addr: bigint;
  /** 0, 1, 2, 4 or 8. */
  readonly len: number;
  /** The eventfd (signed in this struct). */
  readonly fd: number;
  /** {@link IOEVENTFD_FLAGS} bits (DATAMATCH = 1). */
  readonly flags: number;
}

/** Codec of `gunyah_fn_ioeventfd_arg` (spec §3.8); padding @28 is zero. */
export const FnIoeventfdArg: StructCodec<FnIoeventfdArg> = codec<FnIoeventfdArg>(
  'gunyah_fn_ioeventfd_arg',
  32,
  { datamatch: 0, addr: 8, len: 16, fd: 20, flags: 24, padding: 28 },
  (v, d) => {
    const s = 'gunyah_fn_ioeventfd_arg';
    d.setBigUint64(0, toU64(v.datamatch, s, 'datamatch'), true);
    d.setBigUint64(8, toU64(v.addr, s, 'addr'), true);
    d.setUint32(16, toUint(v.len, 32, s, 'len'), true);
    d.setInt32(20, toS32(v.fd, s, 'fd'), true);
    d.setUint32(24, toUint(v.flags, 32, s, 'flags'), true);
  },
  (d) => ({
    datamatch: d.getBigUint64(0, true),
    addr: d.getBigUint64(8, true),
    len: d.getUint32(16, true),
    fd: d.getInt32(20, true),
    flags: d.getUint32(24, true),
  }),
);

// ---------------------------------------------------------------------------------------------
// spec §3.9: gunyah_create_mem_args (B), 64 bytes

/** Argument of `GUNYAH_CREATE_GUEST_MEM` (B). The 48 reserved bytes are always zero. */
export interface CreateMemArgs {
  /** {@link GUEST_MEM_FLAGS} bits. */
  readonly flags: bigint;
  /** Bytes, page aligned. */
  readonly size: bigint;
}

/** Codec of `gunyah_create_mem_args` (B; spec §3.9). */
export const CreateMemArgs: StructCodec<CreateMemArgs> = codec<CreateMemArgs>(
  'gunyah_create_mem_args',
  64,
  { flags: 0, size: 8, reserved: 16 },
  (v, d) => {
    d.setBigUint64(0, toU64(v.flags, 'gunyah_create_mem_args', 'flags'), true);
    d.setBigUint64(8, toU64(v.size, 'gunyah_create_mem_args', 'size'), true);
  },
  (d) => ({ flags: d.getBigUint64(0, true), size: d.getBigUint64(8, true) }),
);

// ---------------------------------------------------------------------------------------------
// spec §3.10: gunyah_map_mem_args (B), 32 bytes

/** Argument of `GUNYAH_VM_MAP_MEM` (B). `flags` use {@link MEM_FLAGS_B}. */
export interface MapMemArgs {
  /** Guest IPA. */
  readonly guestAddr: bigint;
  /** {@link MEM_FLAGS_B} bits. */
  readonly flags: number;
  /** The guest_memfd. */
  readonly guestMemFd: number;
  /** Offset into the guest_memfd. */
  readonly offset: bigint;
  /** Bytes. */
  readonly size: bigint;
}

/** Codec of `gunyah_map_mem_args` (B; spec §3.10). */
export const MapMemArgs: StructCodec<MapMemArgs> = codec<MapMemArgs>(
  'gunyah_map_mem_args',
  32,
  { guest_addr: 0, flags: 8, guest_mem_fd: 12, offset: 16, size: 24 },
  (v, d) => {
    const s = 'gunyah_map_mem_args';
    d.setBigUint64(0, toU64(v.guestAddr, s, 'guest_addr'), true);
    d.setUint32(8, toUint(v.flags, 32, s, 'flags'), true);
    d.setUint32(12, toUint(v.guestMemFd, 32, s, 'guest_mem_fd'), true);
    d.setBigUint64(16, toU64(v.offset, s, 'offset'), true);
    d.setBigUint64(24, toU64(v.size, s, 'size'), true);
  },
  (d) => ({
    guestAddr: d.getBigUint64(0, true),
    flags: d.getUint32(8, true),
    guestMemFd: d.getUint32(12, true),
    offset: d.getBigUint64(16, true),
    size: d.getBigUint64(24, true),
  }),
);

// ---------------------------------------------------------------------------------------------
// spec §3.11: gunyah_vm_boot_context (B, C), 16 bytes

/** Argument of `GUNYAH_VM_SET_BOOT_CONTEXT` (B, C). */
export interface VmBootContext {
  /** `reg_set << 8 | index`; see {@link bootContextReg}. */
  readonly reg: number;
  /** Register value. */
  readonly value: bigint;
}

/** Codec of `gunyah_vm_boot_context` (spec §3.11); `reserved` @4 is zero. */
export const VmBootContext: StructCodec<VmBootContext> = codec<VmBootContext>(
  'gunyah_vm_boot_context',
  16,
  { reg: 0, reserved: 4, value: 8 },
  (v, d) => {
    d.setUint32(0, toUint(v.reg, 32, 'gunyah_vm_boot_context', 'reg'), true);
    d.setBigUint64(8, toU64(v.value, 'gunyah_vm_boot_context', 'value'), true);
  },
  (d) => ({ reg: d.getUint32(0, true), value: d.getBigUint64(8, true) }),
);

/**
 * The `reg` word of a boot context: `regSet << 8 | index` (spec §3.11). Validation of the index is
 * the driver's (X: 0–31, PC: 0, SP: 0–2).
 *
 * @throws {UapiError} FIELD_OUT_OF_RANGE when `regSet` or `index` is not a byte
 */
export function bootContextReg(regSet: number, index: number): number {
  toUint(regSet, 8, 'gunyah_vm_boot_context', 'reg_set');
  toUint(index, 8, 'gunyah_vm_boot_context', 'index');
  return (regSet << 8) | index;
}

// ---------------------------------------------------------------------------------------------
// spec §3.12: C+ structs

/** Argument of `GH_VM_ANDROID_MAP_CMA_MEM` (C+). `flags` use {@link MEM_FLAGS_C}. */
export interface MapCmaMemArgs {
  /** Parcel label. */
  readonly label: number;
  /** Guest IPA. */
  readonly guestAddr: bigint;
  /** {@link MEM_FLAGS_C} bits (RWX, FORCE_LEND 0x10). */
  readonly flags: number;
  /** A CMA fd from `GH_ANDROID_CREATE_CMA_MEM_FD`. */
  readonly guestMemFd: number;
  /** Offset into the CMA fd. */
  readonly offset: bigint;
  /** Bytes. */
  readonly size: bigint;
}

/** Codec of `gunyah_map_cma_mem_args` (C+; spec §3.12); 4 bytes of padding @4. */
export const MapCmaMemArgs: StructCodec<MapCmaMemArgs> = codec<MapCmaMemArgs>(
  'gunyah_map_cma_mem_args',
  40,
  { label: 0, guest_addr: 8, flags: 16, guest_mem_fd: 20, offset: 24, size: 32 },
  (v, d) => {
    const s = 'gunyah_map_cma_mem_args';
    d.setUint32(0, toUint(v.label, 32, s, 'label'), true);
    d.setBigUint64(8, toU64(v.guestAddr, s, 'guest_addr'), true);
    d.setUint32(16, toUint(v.flags, 32, s, 'flags'), true);
    d.setUint32(20, toUint(v.guestMemFd, 32, s, 'guest_mem_fd'), true);
    d.setBigUint64(24, toU64(v.offset, s, 'offset'), true);
    d.setBigUint64(32, toU64(v.size, s, 'size'), true);
  },
  (d) => ({
    label: d.getUint32(0, true),
    guestAddr: d.getBigUint64(8, true),
    flags: d.getUint32(16, true),
    guestMemFd: d.getUint32(20, true),
    offset: d.getBigUint64(24, true),
    size: d.getBigUint64(32, true),
  }),
);

/** Argument of the QTVM auth type (C+). */
export interface QtvmAuthArg {
  /** Pre-assigned VMID. */
  readonly vmId: number;
  /** Peripheral (PAS) id. */
  readonly peripheralId: number;
  /** IPA of the image. */
  readonly guestPhysAddr: bigint;
  /** Bytes. */
  readonly size: bigint;
}

/** Codec of `gunyah_qtvm_auth_arg` (C+; spec §3.12); padding @2–3. */
export const QtvmAuthArg: StructCodec<QtvmAuthArg> = codec<QtvmAuthArg>(
  'gunyah_qtvm_auth_arg',
  24,
  { vm_id: 0, peripheral_id: 4, guest_phys_addr: 8, size: 16 },
  (v, d) => {
    const s = 'gunyah_qtvm_auth_arg';
    d.setUint16(0, toUint(v.vmId, 16, s, 'vm_id'), true);
    d.setUint32(4, toUint(v.peripheralId, 32, s, 'peripheral_id'), true);
    d.setBigUint64(8, toU64(v.guestPhysAddr, s, 'guest_phys_addr'), true);
    d.setBigUint64(16, toU64(v.size, s, 'size'), true);
  },
  (d) => ({
    vmId: d.getUint16(0, true),
    peripheralId: d.getUint32(4, true),
    guestPhysAddr: d.getBigUint64(8, true),
    size: d.getBigUint64(16, true),
  }),
);

// ---------------------------------------------------------------------------------------------
// spec §3.13: gunyah_vm_exit_info, 16 bytes

/** Why the VM stopped, as RM reported it. */
export interface VmExitInfo {
  /** RM exit type ({@link VM_EXIT_TYPE}). */
  readonly type: number;
  /** Size RM reported (may exceed 8). */
  readonly reasonSize: number;
  /** The first min(8, reasonSize) bytes of the reason. */
  readonly reason: Uint8Array;
}

/** Codec of `gunyah_vm_exit_info` (spec §3.13); `padding` @2 is zero, `reason` is 8 raw bytes @8. */
export const VmExitInfo: StructCodec<VmExitInfo> = codec<VmExitInfo>(
  'gunyah_vm_exit_info',
  16,
  { type: 0, padding: 2, reason_size: 4, reason: 8 },
  (v, d) => {
    const s = 'gunyah_vm_exit_info';
    d.setUint16(0, toUint(v.type, 16, s, 'type'), true);
    d.setUint32(4, toUint(v.reasonSize, 32, s, 'reason_size'), true);
    if (!(v.reason instanceof Uint8Array) || v.reason.length > 8) {
      throw new UapiError('FIELD_OUT_OF_RANGE', s, 'reason must be a Uint8Array of at most 8 bytes', 'reason');
    }
    new Uint8Array(d.buffer, d.byteOffset + 8, 8).set(v.reason);
  },
  (d) => {
    const reasonSize = d.getUint32(4, true);
    const n = Math.min(8, reasonSize);
    return { type: d.getUint16(0, true), reasonSize, reason: new Uint8Array(d.buffer.slice(d.byteOffset + 8, d.byteOffset + 8 + n)) };
  },
);

/** Every struct codec, keyed by C struct name (the layout tests iterate over it). */
export const STRUCT_CODECS: Readonly<Record<string, StructCodec<unknown>>> = Object.freeze(
  Object.fromEntries(
    [
      UserspaceMemoryRegion,
      VmDtbConfig,
      VmFirmwareConfig,
      AddressRange,
      FnDesc,
      FnVcpuArg,
      FnIrqfdArg,
      FnIoeventfdArg,
      CreateMemArgs,
      MapMemArgs,
      VmBootContext,
      MapCmaMemArgs,
      AuthDesc,
      QtvmAuthArg,
      VmExitInfo,
    ].map((c) => [c.name, c as StructCodec<unknown>]),
  ),
);
