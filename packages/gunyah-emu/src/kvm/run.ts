/**
 * A live view over a vCPU's mmapped `struct kvm_run` and the decoder of its exits.
 *
 * Layout (arm64, little-endian): `u8 request_interrupt_window @0; u8 immediate_exit @1;
 * u32 exit_reason @8; u8 ready_for_interrupt_injection @12; u8 if_flag @13; u16 flags @14;
 * u64 cr8 @16; u64 apic_base @24`; the exit union (256 bytes) @32; `u64 kvm_valid_regs @288;
 * u64 kvm_dirty_regs @296`; the sync-regs union (2048 bytes) @304. Union members used here:
 *
 * | member | fields |
 * | --- | --- |
 * | `mmio` | `u64 phys_addr @32; u8 data[8] @40; u32 len @48; u8 is_write @52` |
 * | `hypercall` | `u64 nr @32; u64 args[6] @40; u64 ret @88; u64 flags @96` |
 * | `system_event` | `u32 type @32; u32 ndata @36; u64 data[16] @40` |
 * | `fail_entry` | `u64 hardware_entry_failure_reason @32; u32 cpu @40` |
 * | `internal` | `u32 suberror @32; u32 ndata @36; u64 data[16] @40` |
 * | `arm_nisv` | `u64 esr_iss @32; u64 fault_ipa @40` |
 *
 * @module
 */

import { KVM_EXIT, KVM_HYPERCALL_EXIT, KVM_SYSTEM_EVENT } from './constants.js';
import { KvmError, KvmRunError } from './errors.js';

/** Byte offsets in `struct kvm_run` (arm64). */
export const KVM_RUN_OFFSET = {
  /** `u8 request_interrupt_window`. */
  REQUEST_INTERRUPT_WINDOW: 0,
  /** `u8 immediate_exit`. */
  IMMEDIATE_EXIT: 1,
  /** `u32 exit_reason`. */
  EXIT_REASON: 8,
  /** `u16 flags`. */
  FLAGS: 14,
  /** Start of the exit union. */
  EXIT_UNION: 32,
  /** `mmio.phys_addr` (u64). */
  MMIO_PHYS_ADDR: 32,
  /** `mmio.data` (u8[8]). */
  MMIO_DATA: 40,
  /** `mmio.len` (u32). */
  MMIO_LEN: 48,
  /** `mmio.is_write` (u8). */
  MMIO_IS_WRITE: 52,
  /** `hypercall.nr` (u64). */
  HYPERCALL_NR: 32,
  /** `hypercall.args` (u64[6]). */
  HYPERCALL_ARGS: 40,
  /** `hypercall.ret` (u64). */
  HYPERCALL_RET: 88,
  /** `hypercall.flags` (u64). */
  HYPERCALL_FLAGS: 96,
  /** `system_event.type` (u32). */
  SYSTEM_EVENT_TYPE: 32,
  /** `system_event.ndata` (u32). */
  SYSTEM_EVENT_NDATA: 36,
  /** `system_event.data` (u64[16]). */
  SYSTEM_EVENT_DATA: 40,
  /** `fail_entry.hardware_entry_failure_reason` (u64). */
  FAIL_ENTRY_REASON: 32,
  /** `fail_entry.cpu` (u32). */
  FAIL_ENTRY_CPU: 40,
  /** `internal.suberror` (u32). */
  INTERNAL_SUBERROR: 32,
  /** `internal.ndata` (u32). */
  INTERNAL_NDATA: 36,
  /** `internal.data` (u64[16]). */
  INTERNAL_DATA: 40,
  /** `arm_nisv.esr_iss` (u64). */
  ARM_NISV_ESR_ISS: 32,
  /** `arm_nisv.fault_ipa` (u64). */
  ARM_NISV_FAULT_IPA: 40,
  /** `u64 kvm_valid_regs`. */
  KVM_VALID_REGS: 288,
  /** `u64 kvm_dirty_regs`. */
  KVM_DIRTY_REGS: 296,
  /** Start of the sync-regs union. */
  SYNC_REGS: 304,
} as const;

/** Bytes of `kvm_run` this package reads: everything before the sync-regs union. */
export const KVM_RUN_MIN_SIZE = 304;
/** `sizeof(struct kvm_run)` on arm64 (the mapping is larger: it is page-rounded). */
export const KVM_RUN_STRUCT_SIZE = 2352;
/** Most `data` words a system-event or internal-error exit carries. */
export const KVM_EXIT_MAX_NDATA = 16;

/** Name of a PSCI system event, as {@link KvmExit} reports it. */
export type SystemEventName = 'shutdown' | 'reset' | 'crash' | 'wakeup' | 'suspend' | 'other';

/** A decoded vCPU exit. */
export type KvmExit =
  | {
      /** A guest access to unbacked guest-physical memory. */
      readonly kind: 'mmio';
      /** Guest-physical address. */
      readonly addr: bigint;
      /** Access size in bytes, 1…8. */
      readonly len: number;
      /** Whether the guest wrote. */
      readonly isWrite: boolean;
      /** For a write, the value (little-endian over `len` bytes); 0 for a read. */
      readonly data: bigint;
    }
  | {
      /** A PSCI system event. */
      readonly kind: 'system-event';
      /** The event by name. */
      readonly event: SystemEventName;
      /** The raw `system_event.type`. */
      readonly type: number;
      /** The `data` words (`ndata` of them). */
      readonly data: readonly bigint[];
    }
  | {
      /** An SMCCC call forwarded by the SMCCC filter. */
      readonly kind: 'hypercall';
      /** The SMCCC function id (`hypercall.nr`, the guest's w0). */
      readonly functionId: number;
      /** The raw `hypercall.nr`. */
      readonly nr: bigint;
      /** Whether the guest used `smc` rather than `hvc`. */
      readonly smc: boolean;
      /** The raw `hypercall.flags`. */
      readonly flags: bigint;
    }
  | {
      /** `KVM_RUN` was interrupted (a signal, or `immediate_exit`). */
      readonly kind: 'interrupted';
    }
  | {
      /** The hardware refused to enter the guest. */
      readonly kind: 'fail-entry';
      /** `hardware_entry_failure_reason`. */
      readonly reason: bigint;
      /** The physical CPU. */
      readonly cpu: number;
    }
  | {
      /** KVM reported an internal error. */
      readonly kind: 'internal-error';
      /** `internal.suberror`. */
      readonly suberror: number;
      /** The `data` words. */
      readonly data: readonly bigint[];
    }
  | {
      /** A data abort KVM could not decode (no valid syndrome). */
      readonly kind: 'arm-nisv';
      /** `esr_iss`. */
      readonly esrIss: bigint;
      /** Faulting guest-physical address. */
      readonly faultIpa: bigint;
    }
  | {
      /** Any other exit reason. */
      readonly kind: 'unknown';
      /** The raw `exit_reason`. */
      readonly exitReason: number;
    };

const SYSTEM_EVENT_NAMES: ReadonlyMap<number, SystemEventName> = new Map([
  [KVM_SYSTEM_EVENT.SHUTDOWN, 'shutdown'],
  [KVM_SYSTEM_EVENT.RESET, 'reset'],
  [KVM_SYSTEM_EVENT.CRASH, 'crash'],
  [KVM_SYSTEM_EVENT.WAKEUP, 'wakeup'],
  [KVM_SYSTEM_EVENT.SUSPEND, 'suspend'],
]);

/**
 * A live view over a `kvm_run` mapping: every getter reads the shared memory, nothing is copied.
 * Once the mapping is unmapped (its ArrayBuffer detached) every access throws
 * {@link KvmRunError} `DETACHED`.
 *
 * @example
 * ```ts
 * const run = new KvmRunView(sys.mmap(vcpuFd, mmapSize));
 * if (run.exitReason === KVM_EXIT.MMIO) console.log(run.mmioPhysAddr);
 * ```
 */
export class KvmRunView {
  /** The mapping. */
  readonly buffer: ArrayBuffer;
  #view: DataView;

  /**
   * @param buffer - the `kvm_run` mapping (at least {@link KVM_RUN_MIN_SIZE} bytes)
   * @throws {KvmRunError} TRUNCATED when the buffer is smaller; DETACHED when it is detached
   */
  constructor(buffer: ArrayBuffer) {
    if (buffer.byteLength === 0) throw new KvmRunError('DETACHED', 'the kvm_run mapping is detached');
    if (buffer.byteLength < KVM_RUN_MIN_SIZE) {
      throw new KvmRunError('TRUNCATED', `kvm_run needs ${KVM_RUN_MIN_SIZE} bytes, got ${buffer.byteLength}`, buffer.byteLength);
    }
    this.buffer = buffer;
    this.#view = new DataView(buffer);
  }

  #dv(): DataView {
    if (this.buffer.byteLength === 0) throw new KvmRunError('DETACHED', 'the kvm_run mapping was unmapped');
    return this.#view;
  }

  /** `exit_reason`. */
  get exitReason(): number {
    return this.#dv().getUint32(KVM_RUN_OFFSET.EXIT_REASON, true);
  }

  /** `immediate_exit`: when non-zero, the next `KVM_RUN` returns `EINTR` without entering the guest. */
  get immediateExit(): number {
    return this.#dv().getUint8(KVM_RUN_OFFSET.IMMEDIATE_EXIT);
  }

  /** Set `immediate_exit` (any non-zero value is stored as 1). */
  set immediateExit(v: number) {
    this.#dv().setUint8(KVM_RUN_OFFSET.IMMEDIATE_EXIT, v === 0 ? 0 : 1);
  }

  /** `mmio.phys_addr`. */
  get mmioPhysAddr(): bigint {
    return this.#dv().getBigUint64(KVM_RUN_OFFSET.MMIO_PHYS_ADDR, true);
  }

  /** `mmio.len` (raw; the decoder checks it is 1…8). */
  get mmioLen(): number {
    return this.#dv().getUint32(KVM_RUN_OFFSET.MMIO_LEN, true);
  }

  /** `mmio.is_write`. */
  get mmioIsWrite(): boolean {
    return this.#dv().getUint8(KVM_RUN_OFFSET.MMIO_IS_WRITE) !== 0;
  }

  /**
   * The first `len` bytes of `mmio.data` as a little-endian integer.
   *
   * @throws {KvmRunError} BAD_MMIO_LEN when `len` is not 1…8
   */
  mmioData(len: number = this.mmioLen): bigint {
    checkMmioLen(len);
    const v = this.#dv().getBigUint64(KVM_RUN_OFFSET.MMIO_DATA, true);
    return len === 8 ? v : v & (MMIO_MASK[len] as bigint);
  }

  /**
   * Write `value` into `mmio.data` as `len` little-endian bytes (the rest of the 8 bytes are
   * zeroed), for the kernel to complete a guest MMIO read on the next `KVM_RUN`.
   *
   * @throws {KvmRunError} BAD_MMIO_LEN when `len` is not 1…8
   * @throws {KvmError} BAD_ARGUMENT when `value` does not fit `len` bytes
   */
  setMmioData(value: bigint, len: number = this.mmioLen): void {
    checkMmioLen(len);
    if (typeof value !== 'bigint' || value < 0n || value >= 1n << BigInt(8 * len)) {
      throw new KvmError('BAD_ARGUMENT', `MMIO value ${String(value)} does not fit ${len} byte(s)`);
    }
    // value < 2^(8·len), so the bytes past len are written as zero
    this.#dv().setBigUint64(KVM_RUN_OFFSET.MMIO_DATA, value, true);
  }

  /** `hypercall.nr`. */
  get hypercallNr(): bigint {
    return this.#dv().getBigUint64(KVM_RUN_OFFSET.HYPERCALL_NR, true);
  }

  /** `hypercall.flags`. */
  get hypercallFlags(): bigint {
    return this.#dv().getBigUint64(KVM_RUN_OFFSET.HYPERCALL_FLAGS, true);
  }

  /** `system_event.type`. */
  get systemEventType(): number {
    return this.#dv().getUint32(KVM_RUN_OFFSET.SYSTEM_EVENT_TYPE, true);
  }

  /** `system_event.ndata` (raw). */
  get systemEventNdata(): number {
    return this.#dv().getUint32(KVM_RUN_OFFSET.SYSTEM_EVENT_NDATA, true);
  }

  /** @internal Reads the u64 at `offset`. */
  u64(offset: number): bigint {
    return this.#dv().getBigUint64(offset, true);
  }

  /** @internal Reads the u32 at `offset`. */
  u32(offset: number): number {
    return this.#dv().getUint32(offset, true);
  }
}

const MMIO_MASK: readonly bigint[] = Array.from({ length: 9 }, (_, n) => (1n << BigInt(8 * n)) - 1n);

function checkMmioLen(len: number): void {
  if (!Number.isInteger(len) || len < 1 || len > 8) throw new KvmRunError('BAD_MMIO_LEN', `MMIO length must be 1..8, got ${String(len)}`, len);
}

function words(run: KvmRunView, ndataOffset: number, dataOffset: number): bigint[] {
  const n = run.u32(ndataOffset);
  if (n > KVM_EXIT_MAX_NDATA) throw new KvmRunError('BAD_NDATA', `ndata ${n} exceeds ${KVM_EXIT_MAX_NDATA}`, n);
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) out.push(run.u64(dataOffset + 8 * i));
  return out;
}

/**
 * Decode the exit currently described by a run page. Unknown exit reasons give
 * `{ kind: 'unknown' }`; impossible field values throw.
 *
 * @throws {KvmRunError} BAD_MMIO_LEN (MMIO `len` not 1…8), BAD_NDATA (`ndata` > 16), DETACHED
 */
export function decodeExit(run: KvmRunView): KvmExit {
  const reason = run.exitReason;
  switch (reason) {
    case KVM_EXIT.MMIO: {
      const len = run.mmioLen;
      const isWrite = run.mmioIsWrite;
      return { kind: 'mmio', addr: run.mmioPhysAddr, len, isWrite, data: isWrite ? run.mmioData(len) : (checkMmioLen(len), 0n) };
    }
    case KVM_EXIT.SYSTEM_EVENT: {
      const type = run.systemEventType;
      const data = words(run, KVM_RUN_OFFSET.SYSTEM_EVENT_NDATA, KVM_RUN_OFFSET.SYSTEM_EVENT_DATA);
      return { kind: 'system-event', event: SYSTEM_EVENT_NAMES.get(type) ?? 'other', type, data };
    }
    case KVM_EXIT.HYPERCALL: {
      const nr = run.hypercallNr;
      const flags = run.hypercallFlags;
      return { kind: 'hypercall', nr, functionId: Number(nr & 0xffff_ffffn), smc: (flags & BigInt(KVM_HYPERCALL_EXIT.SMC)) !== 0n, flags };
    }
    case KVM_EXIT.INTR:
      return { kind: 'interrupted' };
    case KVM_EXIT.FAIL_ENTRY:
      return { kind: 'fail-entry', reason: run.u64(KVM_RUN_OFFSET.FAIL_ENTRY_REASON), cpu: run.u32(KVM_RUN_OFFSET.FAIL_ENTRY_CPU) };
    case KVM_EXIT.INTERNAL_ERROR:
      return {
        kind: 'internal-error',
        suberror: run.u32(KVM_RUN_OFFSET.INTERNAL_SUBERROR),
        data: words(run, KVM_RUN_OFFSET.INTERNAL_NDATA, KVM_RUN_OFFSET.INTERNAL_DATA),
      };
    case KVM_EXIT.ARM_NISV:
      return { kind: 'arm-nisv', esrIss: run.u64(KVM_RUN_OFFSET.ARM_NISV_ESR_ISS), faultIpa: run.u64(KVM_RUN_OFFSET.ARM_NISV_FAULT_IPA) };
    default:
      return { kind: 'unknown', exitReason: reason };
  }
}
