/**
 * The two shared pages behind emulated fds (design decision: emulated fds are real memfds, so they
 * work in every thread and `mmap` is a real shared mapping).
 *
 * - A vCPU fd is a one-page memfd. Bytes 0–39 are the Gunyah run page (spec/gunyah-uapi.md
 *   §3.14); from {@link PRIVATE_OFFSET} a private area holds what any thread needs to run the vCPU:
 *   the KVM vCPU fd, the fd of the VM page, the variant and the pending MMIO access.
 * - A VM page (another one-page memfd per VM) holds the VM status and exit info, and per vCPU
 *   slot the thread token of the thread inside `KVM_RUN` and its KVM vCPU fd, so the vCPU that
 *   sees a power-off can stop its siblings.
 *
 * Both are little-endian, written out with their offsets, and guarded by a magic and a version.
 * Decoders check every field and throw {@link EmuError} `BAD_PAGE`.
 *
 * @module
 */
import { EmuError } from './errors.js';

/** Offset of the private area in a vCPU page (the run page ends at 40; the header may grow). */
export const PRIVATE_OFFSET = 2048;
/** Bytes of the private area. */
export const PRIVATE_SIZE = 56;
/** `'EMUV'` little-endian. */
export const VCPU_MAGIC = 0x5655_4d45;
/** `'EMUM'` little-endian. */
export const VM_MAGIC = 0x4d55_4d45;
/** Layout version of both pages. */
export const PAGE_VERSION = 1;
/** Most vCPU slots in a VM page (spec/gunyah-vm-devicetree.md: 256 vCPUs at most). */
export const VM_PAGE_MAX_VCPUS = 256;
/** Offset of the first vCPU slot in the VM page. */
export const VM_SLOT_OFFSET = 64;
/** Bytes per vCPU slot: u64 thread token, s32 KVM vCPU fd, u32 reserved. */
export const VM_SLOT_SIZE = 16;
/** Bytes a VM page needs. */
export const VM_PAGE_SIZE = VM_SLOT_OFFSET + VM_PAGE_MAX_VCPUS * VM_SLOT_SIZE;

const VARIANTS = ['A', 'B', 'C'] as const;

/** The pending MMIO access of a vCPU (between a Gunyah MMIO exit and the next `RUN`). */
export interface PendingAccess {
  /** `read` or `write`. */
  readonly kind: 'read' | 'write';
  /** Access length, 1…8. */
  readonly len: number;
  /** Guest IPA. */
  readonly addr: bigint;
  /** Written value (writes), for re-issuing on RETRY. */
  readonly data: bigint;
}

/** The private area of an emulated vCPU page. */
export interface VcpuPrivate {
  /** The ABI variant emulated. */
  readonly variant: 'A' | 'B' | 'C';
  /** C+ rules. */
  readonly cPlus: boolean;
  /** `REMOVE_FUNCTION` removed the vCPU: `RUN` → `ENODEV`. */
  readonly removed: boolean;
  /** Accepted but never given a resource (C+ duplicate id): `RUN` → `ENODEV`. */
  readonly unusable: boolean;
  /** A STATUS exit was produced: later `RUN`s return 0 at once (spec §6.3.5). */
  readonly terminal: boolean;
  /** The Gunyah vCPU id. */
  readonly vcpuId: number;
  /** Slot in the VM page. */
  readonly slot: number;
  /** The KVM vCPU fd, or −1 before start (or for a vCPU added after the vGIC was initialised). */
  readonly kvmFd: number;
  /** The VM page memfd. */
  readonly vmPageFd: number;
  /** `KVM_GET_VCPU_MMAP_SIZE` (0 before start). */
  readonly kvmRunSize: number;
  /** The MMIO access waiting for completion. */
  readonly pending: PendingAccess | undefined;
}

const FLAG = { REMOVED: 1, UNUSABLE: 2, TERMINAL: 4, CPLUS: 8 } as const;

function bad(what: string): never {
  throw new EmuError('BAD_PAGE', `emulated vCPU page: ${what}`);
}

/**
 * Encodes a private area into `page` at {@link PRIVATE_OFFSET}.
 *
 * @throws {EmuError} BAD_PAGE when the page is too small or a value is out of range.
 */
export function encodeVcpuPrivate(page: DataView, v: VcpuPrivate): void {
  if (page.byteLength < PRIVATE_OFFSET + PRIVATE_SIZE) bad(`page of ${page.byteLength} bytes is too small`);
  const o = PRIVATE_OFFSET;
  const s32 = (n: number): boolean => Number.isInteger(n) && n >= -1 && n <= 0x7fffffff;
  if (!s32(v.kvmFd) || !s32(v.vmPageFd) || !Number.isInteger(v.slot) || v.slot < 0 || v.slot >= VM_PAGE_MAX_VCPUS) bad('field out of range');
  if (!Number.isInteger(v.vcpuId) || v.vcpuId < 0 || v.vcpuId > 0xffffffff || !Number.isInteger(v.kvmRunSize) || v.kvmRunSize < 0) bad('field out of range');
  page.setUint32(o, VCPU_MAGIC, true);
  page.setUint16(o + 4, PAGE_VERSION, true);
  page.setUint8(o + 6, VARIANTS.indexOf(v.variant));
  page.setUint8(o + 7, (v.removed ? FLAG.REMOVED : 0) | (v.unusable ? FLAG.UNUSABLE : 0) | (v.terminal ? FLAG.TERMINAL : 0) | (v.cPlus ? FLAG.CPLUS : 0));
  page.setUint32(o + 8, v.vcpuId, true);
  page.setUint32(o + 12, v.slot, true);
  page.setInt32(o + 16, v.kvmFd, true);
  page.setInt32(o + 20, v.vmPageFd, true);
  page.setUint32(o + 24, v.kvmRunSize, true);
  setPending(page, v.pending);
}

/** Writes (or clears) only the pending access. */
export function setPending(page: DataView, p: PendingAccess | undefined): void {
  const o = PRIVATE_OFFSET;
  if (p !== undefined && (!Number.isInteger(p.len) || p.len < 1 || p.len > 8)) bad('pending length out of range');
  page.setUint8(o + 28, p === undefined ? 0 : p.kind === 'read' ? 1 : 2);
  page.setUint8(o + 29, p?.len ?? 0);
  page.setUint16(o + 30, 0, true);
  page.setBigUint64(o + 32, p?.addr ?? 0n, true);
  page.setBigUint64(o + 40, p?.data ?? 0n, true);
}

/** Sets or clears one flag. */
export function setVcpuFlag(page: DataView, flag: 'removed' | 'unusable' | 'terminal', on: boolean): void {
  const bit = flag === 'removed' ? FLAG.REMOVED : flag === 'unusable' ? FLAG.UNUSABLE : FLAG.TERMINAL;
  const o = PRIVATE_OFFSET + 7;
  page.setUint8(o, on ? page.getUint8(o) | bit : page.getUint8(o) & ~bit);
}

/** Sets the KVM side of a vCPU once its KVM vCPU exists. */
export function setVcpuKvm(page: DataView, kvmFd: number, kvmRunSize: number): void {
  page.setInt32(PRIVATE_OFFSET + 16, kvmFd, true);
  page.setUint32(PRIVATE_OFFSET + 24, kvmRunSize, true);
}

/** Whether `page` starts a private area with the vCPU magic (cheap check before decoding). */
export function hasVcpuMagic(page: DataView): boolean {
  return page.byteLength >= PRIVATE_OFFSET + PRIVATE_SIZE && page.getUint32(PRIVATE_OFFSET, true) === VCPU_MAGIC;
}

/**
 * Decodes the private area of an emulated vCPU page.
 *
 * @throws {EmuError} BAD_PAGE for a short page, a bad magic or version, or any field out of range.
 */
export function decodeVcpuPrivate(page: DataView): VcpuPrivate {
  if (page.byteLength < PRIVATE_OFFSET + PRIVATE_SIZE) bad(`page of ${page.byteLength} bytes is too small`);
  const o = PRIVATE_OFFSET;
  if (page.getUint32(o, true) !== VCPU_MAGIC) bad('bad magic (not an emulated vCPU page)');
  if (page.getUint16(o + 4, true) !== PAGE_VERSION) bad(`unknown version ${page.getUint16(o + 4, true)}`);
  const variant = VARIANTS[page.getUint8(o + 6)];
  if (variant === undefined) bad(`unknown variant code ${page.getUint8(o + 6)}`);
  const flags = page.getUint8(o + 7);
  if ((flags & ~15) !== 0) bad(`unknown flags 0x${flags.toString(16)}`);
  if ((flags & FLAG.CPLUS) !== 0 && variant !== 'C') bad('C+ flag on a non-C vCPU');
  const slot = page.getUint32(o + 12, true);
  if (slot >= VM_PAGE_MAX_VCPUS) bad(`slot ${slot} out of range`);
  const kvmFd = page.getInt32(o + 16, true);
  const vmPageFd = page.getInt32(o + 20, true);
  if (kvmFd < -1 || vmPageFd < 0) bad('negative fd');
  const kvmRunSize = page.getUint32(o + 24, true);
  if (kvmRunSize > 1 << 24) bad(`kvm_run size ${kvmRunSize} out of range`);
  const kind = page.getUint8(o + 28);
  const len = page.getUint8(o + 29);
  if (kind > 2) bad(`pending kind ${kind}`);
  if (page.getUint16(o + 30, true) !== 0) bad('reserved bytes set');
  let pending: PendingAccess | undefined;
  if (kind !== 0) {
    if (len < 1 || len > 8) bad(`pending length ${len}`);
    pending = { kind: kind === 1 ? 'read' : 'write', len, addr: page.getBigUint64(o + 32, true), data: page.getBigUint64(o + 40, true) };
  } else if (len !== 0) bad('pending length without an access');
  return {
    variant,
    cPlus: (flags & FLAG.CPLUS) !== 0,
    removed: (flags & FLAG.REMOVED) !== 0,
    unusable: (flags & FLAG.UNUSABLE) !== 0,
    terminal: (flags & FLAG.TERMINAL) !== 0,
    vcpuId: page.getUint32(o + 8, true),
    slot,
    kvmFd,
    vmPageFd,
    kvmRunSize,
    pending,
  };
}

// ---------------------------------------------------------------------------------------------
// VM page

/** VM states in the VM page. */
export const VM_PAGE_STATUS = {
  /** Not started yet. */
  NOT_STARTED: 0,
  /** Running. */
  RUNNING: 1,
  /** Stopped cleanly (power-off, reset): STATUS EXITED with the exit info. */
  EXITED: 2,
  /** Crashed (KVM internal error, failed entry, crash event): STATUS CRASHED. */
  CRASHED: 3,
  /** `VM_START` failed before resources were assigned: `RUN` → `ENODEV`. */
  START_FAILED: 4,
  /** RM failed in `VM_INIT`: STATUS LOAD_FAILED. */
  LOAD_FAILED: 5,
} as const;

/** What the VM page says about the VM. */
export interface VmPageState {
  /** {@link VM_PAGE_STATUS} value. */
  readonly status: number;
  /** Whether the main thread reported the exit to the RM model. */
  readonly reported: boolean;
  /** Exit type (spec §6.3.5 table). */
  readonly exitType: number;
  /** Reason size as reported. */
  readonly reasonSize: number;
  /** Up to 8 reason bytes. */
  readonly reason: Uint8Array;
}

function badVm(what: string): never {
  throw new EmuError('BAD_PAGE', `emulated VM page: ${what}`);
}

/** Initialises a VM page: magic, version, NOT_STARTED, empty slots (KVM fd −1). */
export function initVmPage(page: DataView): void {
  if (page.byteLength < VM_PAGE_SIZE) badVm(`page of ${page.byteLength} bytes is too small`);
  for (let i = 0; i < VM_SLOT_OFFSET; i++) page.setUint8(i, 0);
  page.setUint32(0, VM_MAGIC, true);
  page.setUint16(4, PAGE_VERSION, true);
  for (let i = 0; i < VM_PAGE_MAX_VCPUS; i++) {
    page.setBigUint64(VM_SLOT_OFFSET + i * VM_SLOT_SIZE, 0n, true);
    page.setInt32(VM_SLOT_OFFSET + i * VM_SLOT_SIZE + 8, -1, true);
  }
}

/**
 * Decodes the VM state of a VM page.
 *
 * @throws {EmuError} BAD_PAGE for a short page, bad magic or version, or out-of-range fields.
 */
export function decodeVmPage(page: DataView): VmPageState {
  if (page.byteLength < VM_PAGE_SIZE) badVm(`page of ${page.byteLength} bytes is too small`);
  if (page.getUint32(0, true) !== VM_MAGIC) badVm('bad magic');
  if (page.getUint16(4, true) !== PAGE_VERSION) badVm(`unknown version ${page.getUint16(4, true)}`);
  const status = page.getUint8(6);
  if (status > VM_PAGE_STATUS.LOAD_FAILED) badVm(`unknown status ${status}`);
  const reported = page.getUint8(7);
  if (reported > 1) badVm('bad reported flag');
  const reasonSize = page.getUint32(12, true);
  return {
    status,
    reported: reported === 1,
    exitType: page.getUint16(8, true),
    reasonSize,
    reason: new Uint8Array(page.buffer.slice(page.byteOffset + 16, page.byteOffset + 16 + Math.min(8, reasonSize))),
  };
}

/** Records that the VM stopped (first writer wins: a later exit does not overwrite it). Returns whether this call set it. */
export function markVmStopped(page: DataView, status: 2 | 3, exitType: number, reason: Uint8Array = new Uint8Array(0)): boolean {
  const cur = page.getUint8(6);
  if (cur === VM_PAGE_STATUS.EXITED || cur === VM_PAGE_STATUS.CRASHED) return false;
  page.setUint16(8, exitType & 0xffff, true);
  page.setUint32(12, reason.length, true);
  for (let i = 0; i < 8; i++) page.setUint8(16 + i, reason[i] ?? 0);
  page.setUint8(6, status);
  return true;
}

/** Sets the VM status byte. */
export function setVmStatus(page: DataView, status: number): void {
  page.setUint8(6, status);
}

/** Marks the stop as reported to the RM model. */
export function setVmReported(page: DataView): void {
  page.setUint8(7, 1);
}

/** One vCPU slot of the VM page. */
export interface VmSlot {
  /** Kick token of the thread inside `KVM_RUN` (0 = none). */
  readonly thread: bigint;
  /** KVM vCPU fd (−1 = none). */
  readonly kvmFd: number;
}

/** The thread token and KVM vCPU fd of a slot. */
export function readVmSlot(page: DataView, slot: number): VmSlot {
  const o = VM_SLOT_OFFSET + slot * VM_SLOT_SIZE;
  return { thread: page.getBigUint64(o, true), kvmFd: page.getInt32(o + 8, true) };
}

/** Writes a slot's thread token (0 = not inside `KVM_RUN`). */
export function setVmSlotThread(page: DataView, slot: number, thread: bigint): void {
  page.setBigUint64(VM_SLOT_OFFSET + slot * VM_SLOT_SIZE, thread, true);
}

/** Writes a slot's KVM vCPU fd (−1 = none). */
export function setVmSlotKvmFd(page: DataView, slot: number, fd: number): void {
  page.setInt32(VM_SLOT_OFFSET + slot * VM_SLOT_SIZE + 8, fd, true);
}
