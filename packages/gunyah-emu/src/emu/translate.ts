/**
 * `VCPU_RUN` translated to `KVM_RUN` (design decision 3). One function serves the main thread
 * (inline runs through the emulator binding) and vCPU workers (the worker binding): all state it
 * needs is in the shared vCPU page (run page + private area) and the VM page.
 *
 * @module
 */
import {
  DEFAULT_IDENTIFY_RESULT,
  ErrnoError,
  EXIT_REASON,
  RESUME_ACTION,
  VCPU_RUN_OFFSETS as O,
  VM_EXIT_TYPE,
  VM_STATUS,
  answerGunyahSmcccCall,
  errnoValue,
  rulesForVariant,
  type GunyahIdentity,
} from './sys.js';
import { KVM_RUN_OFFSET as K, type KvmExit } from '../kvm/index.js';
import {
  PRIVATE_OFFSET,
  PAGE_VERSION,
  VM_MAGIC,
  VM_PAGE_MAX_VCPUS,
  VM_PAGE_SIZE,
  VM_PAGE_STATUS,
  decodeVcpuPrivate,
  decodeVmPage,
  markVmStopped,
  readVmSlot,
  setPending,
  setVcpuFlag,
  setVmSlotThread,
  type PendingAccess,
} from './pages.js';

/** What the translation needs of one KVM vCPU (the real one wraps `KvmVcpu`; tests script it). */
export interface KvmVcpuPort {
  /** `KVM_RUN`, decoded (`EINTR` → `interrupted`). */
  run(): KvmExit;
  /** Write the data of a pending MMIO read into `kvm_run` (consumed by the next `KVM_RUN`). */
  completeMmioRead(value: bigint, len: number): void;
  /** Answer a forwarded SMCCC call (x0…x3). */
  completeHypercall(registers: readonly bigint[]): void;
  /** Inject an external data abort (`KVM_SET_VCPU_EVENTS`, `ext_dabt_pending`). */
  injectExternalAbort(): void;
  /** Set `kvm_run.immediate_exit` (to stop the vCPU from another thread). */
  setImmediateExit(value: number): void;
  /**
   * Optional allocation-free form of {@link KvmVcpuPort.run} (the hot path of every MMIO exit):
   * `undefined` when the exit is an MMIO access of 1–8 bytes, left undecoded in {@link kvmRun};
   * any other exit decoded as `run()` would. Used together with `kvmRun`.
   */
  runLean?(): KvmExit | undefined;
  /** The `kvm_run` mapping, for `runLean`'s MMIO exits and for completing reads in place. */
  readonly kvmRun?: DataView;
  /**
   * Optional {@link KvmVcpuPort.runLean} through the addon's native run loop with an MMIO write
   * sink: the writes `sink` absorbs are served without leaving it (`runMmioSink` of `@gunyah-ts/sys`).
   */
  runLeanSink?(sink: SinkArgs): KvmExit | undefined;
}

/** A caller's MMIO write sink as the addon takes it (`encodeMmioSink`, its words and its buffer). */
export interface SinkArgs {
  /** The encoded descriptor. */
  readonly descriptor: Int32Array;
  /** The sink's words (over a `SharedArrayBuffer`). */
  readonly state: Int32Array;
  /** The sink's buffer (over a `SharedArrayBuffer`). */
  readonly bytes: Uint8Array;
}

/** Per-thread services of the translation. */
export interface RunServices {
  /** The KVM vCPU behind a KVM vCPU fd (cached per thread). */
  kvm(kvmFd: number, kvmRunSize: number): KvmVcpuPort;
  /** The VM page behind its memfd (cached per thread). */
  vmPage(fd: number): DataView;
  /** This thread's kick token. */
  currentThread(): bigint;
  /** Kick another thread (errors are ignored by the caller). */
  kick(thread: bigint): void;
  /** What guests learn from Gunyah's identify/UID calls; default `DEFAULT_IDENTIFY_RESULT` of `@gunyah-ts/sys`. */
  readonly identity?: GunyahIdentity;
}

function fail(name: string): never {
  throw new ErrnoError(errnoValue(name) ?? 22, 'ioctl', 'GUNYAH_VCPU_RUN');
}

const DEFAULT_IDENTITY: GunyahIdentity = { identify: DEFAULT_IDENTIFY_RESULT };
const SMCCC_NOT_SUPPORTED = 0xffff_ffff_ffff_ffffn;

function clearUnion(page: DataView): void {
  for (let i = 16; i < 40; i++) page.setUint8(i, 0);
}

/** The VM page's status byte after the cheap checks of `decodeVmPage` (magic, version, range). */
function vmStatus(vmPage: DataView): number {
  if (vmPage.byteLength < VM_PAGE_SIZE || vmPage.getUint32(0, true) !== VM_MAGIC || vmPage.getUint16(4, true) !== PAGE_VERSION) {
    return decodeVmPage(vmPage).status; // throws BAD_PAGE with the precise reason
  }
  const status = vmPage.getUint8(6);
  return status > VM_PAGE_STATUS.LOAD_FAILED ? decodeVmPage(vmPage).status : status;
}

function writeStatus(page: DataView, vm: ReturnType<typeof decodeVmPage>): number {
  clearUnion(page);
  page.setUint32(O.exit_reason, EXIT_REASON.STATUS, true);
  const status =
    vm.status === VM_PAGE_STATUS.LOAD_FAILED ? VM_STATUS.LOAD_FAILED : vm.status === VM_PAGE_STATUS.EXITED ? VM_STATUS.EXITED : VM_STATUS.CRASHED;
  page.setUint32(O.status_status, status, true);
  if (status === VM_STATUS.EXITED) {
    page.setUint16(O.status_exit_type, vm.exitType, true);
    page.setUint32(O.status_reason_size, vm.reasonSize, true);
    vm.reason.forEach((b, i) => page.setUint8(O.status_reason + i, b));
  }
  setVcpuFlag(page, 'terminal', true);
  return 0;
}

function writeMmio(page: DataView, p: PendingAccess, hasResume: boolean): number {
  clearUnion(page);
  page.setUint32(O.exit_reason, EXIT_REASON.MMIO, true);
  page.setBigUint64(O.mmio_phys_addr, p.addr, true);
  // the access's bytes, little-endian, the rest zero (one 64-bit store: no per-byte BigInt work)
  page.setBigUint64(O.mmio_data, p.kind === 'write' ? BigInt.asUintN(8 * p.len, p.data) : 0n, true);
  page.setUint32(O.mmio_len, p.len, true);
  page.setUint8(O.mmio_is_write, p.kind === 'write' ? 1 : 0);
  if (hasResume) page.setUint8(O.mmio_resume_action, RESUME_ACTION.HANDLED);
  setPending(page, p);
  return 0;
}

/** Low `len` bytes (1–4) of a u32 as a u32. */
function low(v: number, len: number): number {
  return len >= 4 ? v >>> 0 : (v & ((1 << (8 * len)) - 1)) >>> 0;
}

/**
 * {@link writeMmio} straight from `kvm_run` (a `runLean` MMIO exit): the same bytes in the run page
 * and the private area, copied as 32-bit words with no exit object and no BigInt.
 */
function writeMmioFromKvm(page: DataView, kr: DataView, hasResume: boolean): number {
  const len = kr.getUint32(K.MMIO_LEN, true);
  const isWrite = kr.getUint8(K.MMIO_IS_WRITE) !== 0;
  const aLo = kr.getUint32(K.MMIO_PHYS_ADDR, true);
  const aHi = kr.getUint32(K.MMIO_PHYS_ADDR + 4, true);
  let dLo = 0;
  let dHi = 0;
  if (isWrite) {
    dLo = low(kr.getUint32(K.MMIO_DATA, true), len);
    dHi = len > 4 ? low(kr.getUint32(K.MMIO_DATA + 4, true), len - 4) : 0;
  }
  for (let i = 16; i < 40; i += 4) page.setUint32(i, 0, true); // the exit union
  page.setUint32(O.exit_reason, EXIT_REASON.MMIO, true);
  page.setUint32(O.mmio_phys_addr, aLo, true);
  page.setUint32(O.mmio_phys_addr + 4, aHi, true);
  page.setUint32(O.mmio_data, dLo, true);
  page.setUint32(O.mmio_data + 4, dHi, true);
  page.setUint32(O.mmio_len, len, true);
  page.setUint8(O.mmio_is_write, isWrite ? 1 : 0);
  if (hasResume) page.setUint8(O.mmio_resume_action, RESUME_ACTION.HANDLED);
  // the pending access (pages.ts setPending's layout: kind, len, reserved, addr, data)
  const o = PRIVATE_OFFSET;
  page.setUint8(o + 28, isWrite ? 2 : 1);
  page.setUint8(o + 29, len);
  page.setUint16(o + 30, 0, true);
  page.setUint32(o + 32, aLo, true);
  page.setUint32(o + 36, aHi, true);
  page.setUint32(o + 40, dLo, true);
  page.setUint32(o + 44, dHi, true);
  return 0;
}

/**
 * Stops the sibling vCPUs of `slot`: sets their `kvm_run.immediate_exit` and kicks the thread
 * inside `KVM_RUN` (their next entry sees the VM page and reports STATUS).
 */
export function stopSiblings(vmPage: DataView, slot: number, s: RunServices, kvmRunSize: number): void {
  for (let i = 0; i < VM_PAGE_MAX_VCPUS; i++) {
    if (i === slot) continue;
    const { thread, kvmFd } = readVmSlot(vmPage, i);
    if (kvmFd >= 0) {
      try {
        s.kvm(kvmFd, kvmRunSize).setImmediateExit(1);
      } catch {
        /* the sibling was closed */
      }
    }
    if (thread !== 0n) {
      try {
        s.kick(thread);
      } catch {
        /* the thread left KVM_RUN */
      }
    }
  }
}

/**
 * `VCPU_RUN` on an emulated vCPU page, with the rules of its variant (spec/gunyah-uapi.md §6.3):
 * `ENODEV` when removed, unusable, not started or without a KVM vCPU; `EINTR` for
 * `immediate_exit` or a kick; STATUS (terminal) once the VM stopped; completes a pending MMIO
 * access (B/C resume actions: HANDLED; FAULT → external data abort; RETRY (B) → the same MMIO exit
 * again, since every binding is mapped at start; above the variant's maximum → `EINVAL`, still
 * pending); then loops on `KVM_RUN`: MMIO → Gunyah MMIO exit; PSCI SYSTEM_OFF/RESET → VM EXITED
 * with exit type 1/2; crash, failed entry, internal error or an unhandled exit → CRASHED; Gunyah
 * identify/UID SMCCC calls are answered, other forwarded calls get NOT_SUPPORTED.
 *
 * With `sink` (and a port with `runLeanSink`), `KVM_RUN` goes through the addon's native loop,
 * which serves the MMIO writes the sink absorbs without coming back here: for the guest and the
 * caller, as if each had been a `VCPU_RUN` whose MMIO write exit the caller's sink absorbed.
 *
 * @param page - the whole vCPU page (run page + private area).
 * @param s - per-thread services.
 * @param sink - the caller's MMIO write sink (`BindingModule.runMmioSink`), if any.
 * @returns 0 after writing an exit into the run page.
 * @throws {ErrnoError} ENODEV, EINTR, EINVAL as the driver; errors of `KVM_RUN` itself.
 * @throws {EmuError} BAD_PAGE when the page is not an emulated vCPU page.
 */
export function runEmulatedVcpu(page: DataView, s: RunServices, sink?: SinkArgs): number {
  const priv = decodeVcpuPrivate(page);
  const rules = rulesForVariant(priv.variant, priv.cPlus);
  if (priv.removed || priv.unusable) fail('ENODEV');
  if (page.getUint8(O.immediate_exit) !== 0) fail('EINTR');
  if (priv.terminal) return 0;
  const vmPage = s.vmPage(priv.vmPageFd);
  const status = vmStatus(vmPage);
  if (status === VM_PAGE_STATUS.NOT_STARTED || status === VM_PAGE_STATUS.START_FAILED) fail('ENODEV');
  if (status !== VM_PAGE_STATUS.RUNNING) return writeStatus(page, decodeVmPage(vmPage));
  if (priv.kvmFd < 0) fail('ENODEV');
  const kvm = s.kvm(priv.kvmFd, priv.kvmRunSize);
  const hasResume = rules.maxMmioResumeAction !== undefined;
  if (priv.pending !== undefined) {
    const p = priv.pending;
    let action: number = RESUME_ACTION.HANDLED;
    if (hasResume) {
      action = page.getUint8(O.mmio_resume_action);
      if (action > (rules.maxMmioResumeAction ?? 0)) fail('EINVAL');
    }
    if (action === RESUME_ACTION.RETRY) return writeMmio(page, p, hasResume);
    if (action === RESUME_ACTION.FAULT) {
      kvm.injectExternalAbort();
    } else if (p.kind === 'read') {
      const kr = kvm.kvmRun;
      if (kr !== undefined) {
        // in place: the read's bytes, the rest of mmio.data zero
        for (let i = 0; i < 8; i++) kr.setUint8(K.MMIO_DATA + i, i < p.len ? page.getUint8(O.mmio_data + i) : 0);
      } else {
        let v = 0n;
        for (let i = p.len - 1; i >= 0; i--) v = (v << 8n) | BigInt(page.getUint8(O.mmio_data + i));
        kvm.completeMmioRead(v, p.len);
      }
    }
    setPending(page, undefined);
  }
  const lean = kvm.runLean !== undefined && kvm.kvmRun !== undefined;
  const sinking = sink !== undefined && kvm.runLeanSink !== undefined && kvm.kvmRun !== undefined;
  for (;;) {
    setVmSlotThread(vmPage, priv.slot, s.currentThread());
    let exit: KvmExit | undefined;
    try {
      // a sibling may have stopped the VM between the check above and now
      if (vmStatus(vmPage) !== VM_PAGE_STATUS.RUNNING) return writeStatus(page, decodeVmPage(vmPage));
      exit = sinking ? kvm.runLeanSink!(sink) : lean ? kvm.runLean!() : kvm.run();
    } finally {
      setVmSlotThread(vmPage, priv.slot, 0n);
    }
    if (exit === undefined) return writeMmioFromKvm(page, kvm.kvmRun!, hasResume);
    switch (exit.kind) {
      case 'interrupted': {
        kvm.setImmediateExit(0);
        if (vmStatus(vmPage) !== VM_PAGE_STATUS.RUNNING) return writeStatus(page, decodeVmPage(vmPage));
        fail('EINTR');
      }
      // falls through (unreachable)
      case 'mmio':
        return writeMmio(page, { kind: exit.isWrite ? 'write' : 'read', len: exit.len, addr: exit.addr, data: exit.isWrite ? exit.data : 0n }, hasResume);
      case 'hypercall': {
        const a = answerGunyahSmcccCall(exit.functionId, s.identity ?? DEFAULT_IDENTITY);
        kvm.completeHypercall(a.kind === 'answer' ? a.registers : [SMCCC_NOT_SUPPORTED]);
        continue;
      }
      case 'system-event': {
        if (exit.event === 'shutdown') markVmStopped(vmPage, 2, VM_EXIT_TYPE.PSCI_POWER_OFF);
        else if (exit.event === 'reset') markVmStopped(vmPage, 2, VM_EXIT_TYPE.PSCI_SYSTEM_RESET);
        else if (exit.event === 'suspend' || exit.event === 'wakeup') continue;
        else markVmStopped(vmPage, 3, VM_EXIT_TYPE.HYP_ERROR);
        break;
      }
      default:
        // fail-entry, internal-error, arm-nisv (an access KVM cannot decode), unknown
        markVmStopped(vmPage, 3, VM_EXIT_TYPE.HYP_ERROR);
    }
    stopSiblings(vmPage, priv.slot, s, priv.kvmRunSize);
    return writeStatus(page, decodeVmPage(vmPage));
  }
}
