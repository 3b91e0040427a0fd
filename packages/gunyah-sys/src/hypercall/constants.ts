/**
 * Other hypercall-level constants and small argument codecs: capabilities, address-space mapping
 * attributes, memory-extent donation, vIRQ info words, vCPU states and options
 * (spec/gunyah-hypercalls.md §3.4–§3.8, §5).
 *
 * @module
 */

import { HypercallError, U64_MAX, checkField, checkU64 } from './errors.js';

/** The invalid capability ID: all-ones (spec §3.4). */
export const GUNYAH_CAP_INVALID = U64_MAX;

/** Linux's capability for "this address space" (`GUNYAH_ADDRSPACE_SELF_CAP`, spec §3.6). */
export const GUNYAH_ADDRSPACE_SELF_CAP = 0n;

/** VMID of the root VM (`GH_VMID_ROOT_VM`, spec §5). */
export const GH_VMID_ROOT_VM = 0xff;

/** Resource types the RM reports in VM_GET_HYP_RESOURCES, as Linux names them (spec §5). */
export const GUNYAH_RESOURCE_TYPE = {
  /** 0: doorbell, sending side. */
  BELL_TX: 0,
  /** 1: doorbell, receiving side. */
  BELL_RX: 1,
  /** 2: message queue, sending side. */
  MSGQ_TX: 2,
  /** 3: message queue, receiving side. */
  MSGQ_RX: 3,
  /** 4: vCPU. */
  VCPU: 4,
  /** 9: memory extent. */
  MEM_EXTENT: 9,
  /** 10: address space. */
  ADDR_SPACE: 10,
} as const;

/** Capability rights bits quoted by the spec (§5); the rest are in the API document's "Object Rights". */
export const CAP_RIGHTS = {
  /** Rights on any object. */
  GENERIC: {
    /** 0x80000000: activate. */
    ACTIVATE: 0x8000_0000,
  },
  /** Rights on a doorbell. */
  DOORBELL: {
    /** 0x1: send. */
    SEND: 0x1,
    /** 0x2: receive. */
    RECEIVE: 0x2,
    /** 0x4: bind. */
    BIND: 0x4,
  },
  /** Rights on a message queue. */
  MSGQUEUE: {
    /** 0x1: send. */
    SEND: 0x1,
    /** 0x2: receive. */
    RECEIVE: 0x2,
    /** 0x4: bind the send side. */
    BIND_SEND: 0x4,
    /** 0x8: bind the receive side. */
    BIND_RECEIVE: 0x8,
  },
} as const;

// --- address-space mapping (§3.6)

/** Access encodings of `map_attrs` user/kernel fields (spec §3.6). */
export const PAGE_ACCESS = {
  /** 0: no access. */
  NONE: 0,
  /** 1: execute. */
  X: 1,
  /** 2: write. */
  W: 2,
  /** 4: read. */
  R: 4,
  /** 5: read + execute. */
  RX: 5,
  /** 6: read + write. */
  RW: 6,
  /** 7: read + write + execute. */
  RWX: 7,
} as const;

/** AArch64 stage-2 memory types of `map_attrs` bits 23:16 (spec §3.6). */
export const MEMORY_TYPE = {
  /** 0: Device-nGnRnE. */
  DEVICE_nGnRnE: 0,
  /** 1: Device-nGnRE. */
  DEVICE_nGnRE: 1,
  /** 2: Device-nGRE. */
  DEVICE_nGRE: 2,
  /** 3: Device-GRE. */
  DEVICE_GRE: 3,
  /** 5: Normal, non-cacheable. */
  NORMAL_NC: 5,
  /** 6: Normal, outer non-cacheable, inner write-through. */
  NORMAL_ONC_IWT: 6,
  /** 7: Normal, outer non-cacheable, inner write-back. */
  NORMAL_ONC_IWB: 7,
  /** 9: Normal, outer write-through, inner non-cacheable. */
  NORMAL_OWT_INC: 9,
  /** 10: Normal, write-through. */
  NORMAL_WT: 10,
  /** 11: Normal, outer write-through, inner write-back. */
  NORMAL_OWT_IWB: 11,
  /** 13: Normal, outer write-back, inner non-cacheable. */
  NORMAL_OWB_INC: 13,
  /** 14: Normal, outer write-back, inner write-through. */
  NORMAL_OWB_IWT: 14,
  /** 15: Normal, write-back. */
  NORMAL_WB: 15,
} as const;

/** The fields of `map_attrs` (spec §3.6). */
export interface MapAttrs {
  /** Bits 2:0: user access ({@link PAGE_ACCESS}). */
  readonly userAccess: number;
  /** Bits 6:4: kernel access ({@link PAGE_ACCESS}). */
  readonly kernelAccess: number;
  /** Bits 23:16: memory type ({@link MEMORY_TYPE}). */
  readonly memoryType: number;
}

const MAP_ATTRS_MASK = 0x00ff_0077;

/**
 * Encodes `map_attrs` (a u32).
 *
 * @param attrs - the fields.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE if a field does not fit its bits.
 *
 * @example
 * ```ts
 * encodeMapAttrs({ userAccess: PAGE_ACCESS.RW, kernelAccess: PAGE_ACCESS.RW, memoryType: MEMORY_TYPE.NORMAL_WB }); // 0x000f0066
 * ```
 */
export function encodeMapAttrs(attrs: MapAttrs): number {
  const u = checkField(attrs.userAccess, 3, 'userAccess');
  const k = checkField(attrs.kernelAccess, 3, 'kernelAccess');
  const t = checkField(attrs.memoryType, 8, 'memoryType');
  return (t << 16) | (k << 4) | u;
}

/**
 * Decodes `map_attrs`; the inverse of {@link encodeMapAttrs}.
 *
 * @param value - the register value.
 * @throws {HypercallError} NOT_U64 if not a u64; RESERVED_BITS_SET if a bit outside the three
 *   fields is set.
 */
export function decodeMapAttrs(value: number | bigint): MapAttrs {
  const v = checkU64(value, 'map_attrs');
  if ((v & ~BigInt(MAP_ATTRS_MASK)) !== 0n) {
    throw new HypercallError('RESERVED_BITS_SET', 'map_attrs has reserved bits set', value);
  }
  const n = Number(v);
  return { userAccess: n & 7, kernelAccess: (n >> 4) & 7, memoryType: (n >> 16) & 0xff };
}

/**
 * `map_flags` bits (spec §3.6). `PRIVATE` and `VMMIO` are Linux v17 additions for newer
 * hypervisors, absent from the 12/2023 source (UNCONFIRMED).
 */
export const MAP_FLAGS = {
  /** Bit 0: use offset/size (else the whole extent). */
  PARTIAL: 0x1,
  /** Bit 1: private mapping (Linux v17; UNCONFIRMED). */
  PRIVATE: 0x2,
  /** Bit 2: VMMIO mapping (Linux v17; UNCONFIRMED). */
  VMMIO: 0x4,
  /** Bit 31: do not synchronise. */
  NOSYNC: 0x8000_0000,
} as const;

/** `op` of `addrspace_configure_vmmio` (spec §3.6). */
export const VMMIO_OP = {
  /** 0: register a VMMIO range. */
  ADD: 0,
  /** 1: remove a VMMIO range. */
  REMOVE: 1,
} as const;

/** Address-space and memory-extent limits (spec §3.6). */
export const ADDRSPACE_LIMITS = {
  /** At most 128 VMMIO ranges per address space. */
  MAX_VMMIO_RANGES: 128,
  /** A memory extent may have at most 4 mappings. */
  MAX_MEMEXTENT_MAPPINGS: 4,
} as const;

// --- memory extent donation (§3.7)

/**
 * Donation types (bits 7:0 of `memextent_donate` options, spec §3.7). 3 and 4 are Linux v17
 * additions (UNCONFIRMED for the open-source hypervisor).
 */
export const DONATE_TYPE = {
  /** 0: donate to a child. */
  TO_CHILD: 0,
  /** 1: donate to the parent. */
  TO_PARENT: 1,
  /** 2: donate to a sibling. */
  TO_SIBLING: 2,
  /** 3: donate to a protected VM (Linux v17; UNCONFIRMED). */
  TO_PROTECTED: 3,
  /** 4: donate from a protected VM (Linux v17; UNCONFIRMED). */
  FROM_PROTECTED: 4,
} as const;

/** The fields of `memextent_donate` options (spec §3.7). */
export interface DonateOptions {
  /** Bits 7:0: {@link DONATE_TYPE}. */
  readonly type: number;
  /** Bit 31: do not synchronise. */
  readonly noSync: boolean;
}

/**
 * Encodes `memextent_donate` options (a u32).
 *
 * @param options - the fields.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE if `type` does not fit 8 bits or `noSync` is not boolean.
 */
export function encodeDonateOptions(options: DonateOptions): number {
  const type = checkField(options.type, 8, 'type');
  if (typeof options.noSync !== 'boolean') {
    throw new HypercallError('FIELD_OUT_OF_RANGE', 'noSync must be a boolean', options.noSync);
  }
  return ((options.noSync ? 0x8000_0000 : 0) | type) >>> 0;
}

/**
 * Decodes `memextent_donate` options; the inverse of {@link encodeDonateOptions}.
 *
 * @param value - the register value.
 * @throws {HypercallError} NOT_U64 if not a u64; RESERVED_BITS_SET if bits 30:8 or 63:32 are set.
 */
export function decodeDonateOptions(value: number | bigint): DonateOptions {
  const v = checkU64(value, 'donate options');
  if ((v & ~0x8000_00ffn) !== 0n) throw new HypercallError('RESERVED_BITS_SET', 'donate options has reserved bits set', value);
  return { type: Number(v & 0xffn), noSync: (v & 0x8000_0000n) !== 0n };
}

// --- vIRQ info (§3.5)

/** The fields of a virtual IRQ info word (spec §3.5). */
export interface VirqInfo {
  /** Bits 23:0: vIRQ number (GIC INTID). */
  readonly virq: number;
  /** Bits 31:24: target vCPU index, for per-CPU ranges. */
  readonly vcpuIndex: number;
}

/**
 * Encodes a vIRQ info word.
 *
 * @param info - the fields.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE if `virq` does not fit 24 bits or `vcpuIndex` 8 bits.
 */
export function encodeVirqInfo(info: VirqInfo): bigint {
  return (BigInt(checkField(info.vcpuIndex, 8, 'vcpuIndex')) << 24n) | BigInt(checkField(info.virq, 24, 'virq'));
}

/**
 * Decodes a vIRQ info word; the inverse of {@link encodeVirqInfo}.
 *
 * @param value - the register value.
 * @throws {HypercallError} NOT_U64 if not a u64; RESERVED_BITS_SET if bits 63:32 are set.
 */
export function decodeVirqInfo(value: number | bigint): VirqInfo {
  const v = checkU64(value, 'virq_info');
  if (v >> 32n !== 0n) throw new HypercallError('RESERVED_BITS_SET', 'virq_info bits 63:32 are not zero', value);
  return { virq: Number(v & 0xff_ffffn), vcpuIndex: Number(v >> 24n) };
}

// --- vCPUs (§3.8)

/** `state` values returned by `vcpu_run` (x1, spec §3.8). */
export const VCPU_RUN_STATE = {
  /** 0: timeslice ended or host IRQ; call again. */
  READY: 0,
  /** 1: WFI or PSCI suspend. data0 = sleep type, data1 = wakeup-from reason. */
  EXPECTS_WAKEUP: 1,
  /** 2: powered off. data0 = poweroff flags (bit 0 = exited permanently). */
  POWERED_OFF: 2,
  /** 3: blocked (transient); yield and retry. */
  BLOCKED: 3,
  /** 4: VMMIO read. data0 = IPA, data1 = access size; resume_data0 = value for the guest. */
  ADDRSPACE_VMMIO_READ: 4,
  /** 5: VMMIO write. data0 = IPA, data1 = access size, data2 = value written. */
  ADDRSPACE_VMMIO_WRITE: 5,
  /** 6: unrecoverable fault. */
  FAULT: 6,
  /** 7: page fault (Linux v17/Android only; not in the 12/2023 open-source tree, UNCONFIRMED). */
  ADDRSPACE_PAGE_FAULT: 7,
  /** 0x100: PSCI system reset (Android names it SYSTEM_OFF). data0 = reset type, data1 = cookie. */
  PSCI_SYSTEM_RESET: 0x100,
} as const;

/** Name of a {@link VCPU_RUN_STATE} value. */
export type VcpuRunStateName = keyof typeof VCPU_RUN_STATE;

/**
 * Returns the name of a `vcpu_run` state.
 *
 * @param state - x1 of a `vcpu_run` result.
 * @returns the name, or `undefined` for an unknown state (the caller decides; Linux treats unknown
 *   states as errors).
 * @throws {HypercallError} NOT_U64 if `state` is not a u64.
 */
export function vcpuRunStateName(state: number | bigint): VcpuRunStateName | undefined {
  const v = checkU64(state, 'vcpu_run state');
  return (Object.keys(VCPU_RUN_STATE) as VcpuRunStateName[]).find((k) => BigInt(VCPU_RUN_STATE[k]) === v);
}

/** Wakeup-from reasons in state_data1 of EXPECTS_WAKEUP (spec §3.8). */
export const VCPU_WAKEUP_FROM = {
  /** 0: unspecified. */
  UNSPECIFIED: 0,
  /** 2: PSCI CPU_SUSPEND. */
  PSCI_CPU_SUSPEND: 2,
  /** 3: PSCI SYSTEM_SUSPEND. */
  PSCI_SYSTEM_SUSPEND: 3,
} as const;

/** Bits of the PSCI reset type in state_data0 of PSCI_SYSTEM_RESET (spec §3.8). */
export const PSCI_RESET_TYPE = {
  /** Bit 63: SYSTEM_RESET. */
  SYSTEM_RESET: 1n << 63n,
  /** Bit 62: SMC64 RESET2. */
  RESET2_SMC64: 1n << 62n,
  /** Bits 31:0: RESET2 type. */
  RESET2_TYPE_MASK: 0xffff_ffffn,
} as const;

/**
 * resume_data1 action codes for VMMIO states used by Linux v17/Android (spec §3.8). The 12/2023
 * open-source document says resume data 1 and 2 must be zero (UNCONFIRMED for open source).
 */
export const VCPU_RUN_MMIO_ACTION = {
  /** 0: the VMM emulated the access. */
  EMULATE: 0,
  /** 1: retry the access. */
  RETRY: 1,
  /** 2: inject a fault. */
  FAULT: 2,
} as const;

/** `vcpu_poweron` flags (spec §3.8). */
export const VCPU_POWERON_FLAGS = {
  /** Bit 0: keep the current PC. */
  PRESERVE_ENTRY_POINT: 0x1,
  /** Bit 1: keep the current x0. */
  PRESERVE_CONTEXT: 0x2,
} as const;

/** `vcpu_poweroff` flags (spec §3.8). */
export const VCPU_POWEROFF_FLAGS = {
  /** Bit 0: this is the last vCPU. */
  LAST_VCPU: 0x1,
} as const;

/** `register_set` of `vcpu_register_write` on AArch64 (spec §3.8). */
export const VCPU_REGISTER_SET = {
  /** 0: general-purpose registers (index 0–30 per the document; Linux accepts up to 31). */
  X: 0,
  /** 1: PC (index 0). */
  PC: 1,
  /** 2: SP_ELx (index 0–1 per the document; Linux accepts up to 2). */
  SP_EL: 2,
} as const;

/** `vcpu_options` bits of `vcpu_configure` (spec §3.8), as bigint masks. */
export const VCPU_OPTIONS = {
  /** Bit 0: pinned. */
  PINNED: 1n << 0n,
  /** Bit 1: RAS error handler. */
  RAS_ERROR_HANDLER: 1n << 1n,
  /** Bit 2: AMU counting disabled. */
  AMU_COUNTING_DISABLED: 1n << 2n,
  /** Bit 3: SVE allowed. */
  SVE_ALLOWED: 1n << 3n,
  /** Bit 4: debug allowed. */
  DEBUG_ALLOWED: 1n << 4n,
  /** Bit 5: trace allowed. */
  TRACE_ALLOWED: 1n << 5n,
  /** Bit 8: critical. */
  CRITICAL: 1n << 8n,
  /** Bit 63: HLOS VM. */
  HLOS_VM: 1n << 63n,
} as const;

/** `virq_type` of `vcpu_bind_virq` / `vcpu_unbind_virq` (spec §3.8). */
export const VCPU_VIRQ_TYPE = {
  /** 0: vCPU halt. */
  HALT: 0,
  /** 1: vcpu_run wakeup; binding it makes the vCPU proxy-scheduled. */
  VCPU_RUN_WAKEUP: 1,
} as const;
