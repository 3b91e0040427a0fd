/**
 * The 40-byte vCPU run page (`gh_vcpu_run` / `gunyah_vcpu_run`, spec/gunyah-uapi.md §3.14) as a live
 * view over the mmapped page, and the exit decoder (STYLE §8, crosvm's STATUS mapping, STYLE §3).
 *
 * @module
 */
import { EXIT_REASON, RESUME_ACTION, VM_EXIT_TYPE, VM_STATUS, type GunyahVariant } from './constants.js';
import { UapiError } from './errors.js';
import { toU64, toUint } from './structs.js';

/** Size of the run struct; the mapping itself is `VCPU_MMAP_SIZE` (one kernel page). */
export const VCPU_RUN_SIZE = 40;

/** Offsets of the run page fields (spec §3.14, Appendix A `vcpu_run`). */
export const VCPU_RUN_OFFSETS = {
  /** u8, user → kernel. */
  immediate_exit: 0,
  /** u32, kernel → user. */
  exit_reason: 8,
  /** u64 `mmio.phys_addr`. */
  mmio_phys_addr: 16,
  /** u8[8] `mmio.data`. */
  mmio_data: 24,
  /** u32 `mmio.len`. */
  mmio_len: 32,
  /** u8 `mmio.is_write`. */
  mmio_is_write: 36,
  /** u8 `mmio.resume_action` (B/C; padding in A). */
  mmio_resume_action: 37,
  /** u32 `status.status`. */
  status_status: 16,
  /** u16 `status.exit_info.type`. */
  status_exit_type: 20,
  /** u16 `status.exit_info.padding`. */
  status_exit_padding: 22,
  /** u32 `status.exit_info.reason_size`. */
  status_reason_size: 24,
  /** u8[8] `status.exit_info.reason`. */
  status_reason: 28,
  /** u64 `page_fault.phys_addr` (B/C). */
  page_fault_phys_addr: 16,
  /** s32 `page_fault.attempt` (B/C). */
  page_fault_attempt: 24,
  /** u8 `page_fault.resume_action` (B/C). */
  page_fault_resume_action: 28,
} as const;

const O = VCPU_RUN_OFFSETS;
const STRUCT = 'gunyah_vcpu_run';

/** How a STATUS exit is classified (crosvm's mapping of status and RM exit type). */
export type VcpuStatusKind = 'shutdown' | 'reset' | 'crash' | 'load-failed';

/** An MMIO exit: the guest touched unbacked IPA `addr`. */
export interface VcpuMmioExit {
  /** Discriminant. */
  readonly kind: 'mmio';
  /** Guest IPA. */
  readonly addr: bigint;
  /** Access length, 1..8. */
  readonly len: number;
  /** Write access. */
  readonly isWrite: boolean;
  /** Value written (little-endian, `len` bytes); 0n for reads. */
  readonly data: bigint;
}

/** The VM is not runnable any more; `status`, `exitType` and the reason keep the raw values. */
export interface VcpuStatusExit {
  /** Discriminant: crosvm's classification of status and exit type. */
  readonly kind: VcpuStatusKind;
  /** `status.status` ({@link VM_STATUS}). */
  readonly status: number;
  /** `exit_info.type` ({@link VM_EXIT_TYPE}). */
  readonly exitType: number;
  /** `exit_info.reason_size` as RM reported it. */
  readonly reasonSize: number;
  /** The first min(8, reasonSize) reason bytes. */
  readonly reason: Uint8Array;
}

/** The kernel could not provide memory at `addr` (B, C). */
export interface VcpuPageFaultExit {
  /** Discriminant. */
  readonly kind: 'page-fault';
  /** Faulting IPA. */
  readonly addr: bigint;
  /** Negative errno of the kernel's own attempt (−ENOENT: no binding, −EPERM: read-only…). */
  readonly attempt: number;
}

/** `RUN` returned `EINTR` (a kick, `immediate_exit`, a signal). Produced by callers of `RUN`, not by the decoder. */
export interface VcpuInterruptedExit {
  /** Discriminant. */
  readonly kind: 'interrupted';
}

/** An exit reason or value this library does not know (a newer kernel, or a hostile page). */
export interface VcpuUnknownExit {
  /** Discriminant. */
  readonly kind: 'unknown';
  /** `exit_reason` as read. */
  readonly raw: number;
  /** Why it was not decoded. */
  readonly detail: string;
}

/** A decoded vCPU exit (STYLE §8). */
export type VcpuExit = VcpuMmioExit | VcpuStatusExit | VcpuPageFaultExit | VcpuInterruptedExit | VcpuUnknownExit;

/**
 * Classify a STATUS exit: LOAD_FAILED → `load-failed`; EXITED with VM exit, PSCI power-off or forced
 * stop → `shutdown`; reset/reset2 → `reset`; watchdog, hypervisor error, async abort, unknown types
 * and CRASHED (or any other status) → `crash`.
 */
export function classifyStatus(status: number, exitType: number): VcpuStatusKind {
  if (status === VM_STATUS.LOAD_FAILED) return 'load-failed';
  if (status !== VM_STATUS.EXITED) return 'crash';
  switch (exitType) {
    case VM_EXIT_TYPE.VM_EXIT:
    case VM_EXIT_TYPE.PSCI_POWER_OFF:
    case VM_EXIT_TYPE.VM_FORCE_STOPPED:
      return 'shutdown';
    case VM_EXIT_TYPE.PSCI_SYSTEM_RESET:
    case VM_EXIT_TYPE.PSCI_SYSTEM_RESET2:
      return 'reset';
    default:
      return 'crash';
  }
}

/**
 * A live view of a vCPU run page: every getter reads the mapped page, every setter writes it; nothing
 * is cached. Accessors of fields a variant lacks (`resume_action` and `page_fault` in A) throw
 * `UapiError` `NOT_IN_VARIANT`. After `munmap` (a detached buffer) accessors throw `DETACHED`.
 *
 * @example
 * ```ts
 * const page = new VcpuRunPage(mmap(vcpuFd, size), 'C');
 * if (page.exitReason === EXIT_REASON.MMIO && !page.mmioIsWrite) page.setMmioData(0x42n);
 * ```
 */
export class VcpuRunPage {
  /** The ABI variant that decides which union members exist. */
  readonly variant: GunyahVariant;
  readonly #buffer: ArrayBuffer;
  readonly #offset: number;

  /**
   * @param buffer - the mapping (at least 40 bytes from `offset`)
   * @param variant - the ABI variant
   * @param offset - byte offset of the struct in `buffer` (0 for a real mapping)
   * @throws {UapiError} TRUNCATED, DETACHED
   */
  constructor(buffer: ArrayBuffer, variant: GunyahVariant, offset = 0) {
    this.#buffer = buffer;
    this.#offset = offset;
    this.variant = variant;
    this.#view();
  }

  #view(): DataView {
    if ((this.#buffer as ArrayBuffer & { detached?: boolean }).detached === true || this.#buffer.byteLength === 0) {
      throw new UapiError('DETACHED', STRUCT, 'run page is unmapped');
    }
    if (!Number.isSafeInteger(this.#offset) || this.#offset < 0 || this.#offset + VCPU_RUN_SIZE > this.#buffer.byteLength) {
      throw new UapiError('TRUNCATED', STRUCT, `run page needs ${VCPU_RUN_SIZE} bytes at ${this.#offset}, mapping has ${this.#buffer.byteLength}`);
    }
    return new DataView(this.#buffer, this.#offset, VCPU_RUN_SIZE);
  }

  #requireBC(field: string): void {
    if (this.variant === 'A') throw new UapiError('NOT_IN_VARIANT', STRUCT, 'not present in variant A', field);
  }

  /** The underlying mapping. */
  get buffer(): ArrayBuffer {
    return this.#buffer;
  }

  /** `immediate_exit` @0: non-zero makes the next `RUN` return `EINTR` at once. The kernel never clears it. */
  get immediateExit(): number {
    return this.#view().getUint8(O.immediate_exit);
  }
  /** Write `immediate_exit` (0 or 1 in practice). */
  set immediateExit(v: number) {
    this.#view().setUint8(O.immediate_exit, toUint(v, 8, STRUCT, 'immediate_exit'));
  }

  /** `exit_reason` @8 ({@link EXIT_REASON}). */
  get exitReason(): number {
    return this.#view().getUint32(O.exit_reason, true);
  }

  /** `mmio.phys_addr` @16. */
  get mmioPhysAddr(): bigint {
    return this.#view().getBigUint64(O.mmio_phys_addr, true);
  }
  /** `mmio.len` @32 as the kernel wrote it (1..8 when sane). */
  get mmioLen(): number {
    return this.#view().getUint32(O.mmio_len, true);
  }
  /** `mmio.is_write` @36. */
  get mmioIsWrite(): boolean {
    return this.#view().getUint8(O.mmio_is_write) !== 0;
  }
  /** `mmio.data` @24 as a live 8-byte window onto the page. */
  get mmioDataBytes(): Uint8Array {
    this.#view();
    return new Uint8Array(this.#buffer, this.#offset + O.mmio_data, 8);
  }
  /** The first min(len, 8) bytes of `mmio.data`, little-endian. */
  get mmioData(): bigint {
    const d = this.#view();
    const n = Math.min(8, d.getUint32(O.mmio_len, true));
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(d.getUint8(O.mmio_data + i));
    return v;
  }
  /**
   * Complete an MMIO read: write `value` little-endian into the first `len` bytes of `mmio.data`
   * (`len` defaults to the page's `mmio.len`, clamped to 8). Bits above `len` bytes are dropped.
   *
   * @throws {UapiError} FIELD_OUT_OF_RANGE when value is not a u64
   */
  setMmioData(value: bigint | number, len?: number): void {
    const d = this.#view();
    let v = toU64(value, STRUCT, 'mmio.data');
    const n = Math.min(8, len ?? d.getUint32(O.mmio_len, true));
    for (let i = 0; i < 8; i++) {
      d.setUint8(O.mmio_data + i, i < n ? Number(v & 0xffn) : 0);
      v >>= 8n;
    }
  }
  /** `mmio.resume_action` @37 (B, C). */
  get mmioResumeAction(): number {
    this.#requireBC('mmio.resume_action');
    return this.#view().getUint8(O.mmio_resume_action);
  }
  /** Write `mmio.resume_action` ({@link RESUME_ACTION}) before the next `RUN` (B, C). */
  set mmioResumeAction(v: number) {
    this.#requireBC('mmio.resume_action');
    this.#view().setUint8(O.mmio_resume_action, toUint(v, 8, STRUCT, 'mmio.resume_action'));
  }

  /** `status.status` @16 ({@link VM_STATUS}). */
  get status(): number {
    return this.#view().getUint32(O.status_status, true);
  }
  /** `status.exit_info.type` @20. */
  get exitType(): number {
    return this.#view().getUint16(O.status_exit_type, true);
  }
  /** `status.exit_info.reason_size` @24. */
  get exitReasonSize(): number {
    return this.#view().getUint32(O.status_reason_size, true);
  }
  /** A copy of the first min(8, reason_size) bytes of `status.exit_info.reason` @28. */
  get exitReasonBytes(): Uint8Array {
    this.#view();
    const n = Math.min(8, this.exitReasonSize);
    return new Uint8Array(this.#buffer.slice(this.#offset + O.status_reason, this.#offset + O.status_reason + n));
  }

  /** `page_fault.phys_addr` @16 (B, C). */
  get pageFaultPhysAddr(): bigint {
    this.#requireBC('page_fault.phys_addr');
    return this.#view().getBigUint64(O.page_fault_phys_addr, true);
  }
  /** `page_fault.attempt` @24, a negative errno (B, C). */
  get pageFaultAttempt(): number {
    this.#requireBC('page_fault.attempt');
    return this.#view().getInt32(O.page_fault_attempt, true);
  }
  /** `page_fault.resume_action` @28 (B, C; the kernel writes 1 and never reads it back, spec §6.3.4). */
  get pageFaultResumeAction(): number {
    this.#requireBC('page_fault.resume_action');
    return this.#view().getUint8(O.page_fault_resume_action);
  }

  /**
   * Decode the current exit (a snapshot; the page stays live). Never throws on hostile contents:
   * unknown reasons, variant-impossible reasons and MMIO lengths outside 1..8 decode as `unknown`.
   *
   * @throws {UapiError} DETACHED when the page was unmapped
   */
  decode(): VcpuExit {
    return decodeVcpuExit(this.#view(), this.variant);
  }
}

/**
 * Decode a run page (a DataView over at least its 40 bytes) for `variant`. See {@link VcpuExit}.
 *
 * @throws {UapiError} TRUNCATED when the view is shorter than 40 bytes
 */
export function decodeVcpuExit(page: DataView, variant: GunyahVariant): VcpuExit {
  if (page.byteLength < VCPU_RUN_SIZE) throw new UapiError('TRUNCATED', STRUCT, `need ${VCPU_RUN_SIZE} bytes, have ${page.byteLength}`);
  const reason = page.getUint32(O.exit_reason, true);
  switch (reason) {
    case EXIT_REASON.MMIO: {
      const len = page.getUint32(O.mmio_len, true);
      if (len < 1 || len > 8) return { kind: 'unknown', raw: reason, detail: `MMIO length ${len} outside 1..8` };
      const isWrite = page.getUint8(O.mmio_is_write) !== 0;
      let data = 0n;
      if (isWrite) for (let i = len - 1; i >= 0; i--) data = (data << 8n) | BigInt(page.getUint8(O.mmio_data + i));
      return { kind: 'mmio', addr: page.getBigUint64(O.mmio_phys_addr, true), len, isWrite, data };
    }
    case EXIT_REASON.STATUS: {
      const status = page.getUint32(O.status_status, true);
      const exitType = page.getUint16(O.status_exit_type, true);
      const reasonSize = page.getUint32(O.status_reason_size, true);
      const n = Math.min(8, reasonSize);
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = page.getUint8(O.status_reason + i);
      return { kind: classifyStatus(status, exitType), status, exitType, reasonSize, reason: bytes };
    }
    case EXIT_REASON.PAGE_FAULT:
      if (variant === 'A') return { kind: 'unknown', raw: reason, detail: 'PAGE_FAULT exit does not exist in variant A' };
      return { kind: 'page-fault', addr: page.getBigUint64(O.page_fault_phys_addr, true), attempt: page.getInt32(O.page_fault_attempt, true) };
    default:
      return { kind: 'unknown', raw: reason, detail: reason === EXIT_REASON.UNKNOWN ? 'exit reason UNKNOWN (0)' : `exit reason ${reason}` };
  }
}

/** The resume actions by name (B, C; C accepts only `handled` and `fault`). */
export type ResumeActionName = 'handled' | 'fault' | 'retry';

/** Map a {@link ResumeActionName} to its {@link RESUME_ACTION} value. */
export function resumeActionValue(name: ResumeActionName): number {
  return name === 'handled' ? RESUME_ACTION.HANDLED : name === 'fault' ? RESUME_ACTION.FAULT : RESUME_ACTION.RETRY;
}
