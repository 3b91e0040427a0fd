/**
 * `DriverModel`: the state machine of one Gunyah VM as the kernel driver keeps it (memory, DTB and
 * firmware config, boot context, functions, start, vCPU runs), with the validation order and errnos
 * of spec/gunyah-uapi.md §4–§6 for each variant, taken from a {@link GunyahDriverRules} entry.
 * The fake `/dev/gunyah` uses it; an emulator can extend it (override {@link DriverModel.onStart}
 * and {@link DriverModel.nextGuestEvent}).
 *
 * @module
 */
import { ErrnoError, errnoValue } from '../errno.js';
import {
  BOOT_CONTEXT_REG_SET,
  EXIT_REASON,
  FN_ARG_SIZE,
  FN_MAX_ARG_SIZE,
  FN_TYPE,
  IOEVENTFD_FLAGS,
  MEM_FLAGS_B,
  RESUME_ACTION,
  USER_MEM_FLAGS,
  VM_EXIT_TYPE,
  VM_STATUS,
} from '../uapi/constants.js';
import { VCPU_RUN_OFFSETS as O } from '../uapi/run-page.js';
import {
  FnIoeventfdArg,
  FnIrqfdArg,
  FnVcpuArg,
  type CreateMemArgs,
  type GuestRange,
  type MapMemArgs,
  type UserspaceMemoryRegion,
  type VmBootContext,
} from '../uapi/structs.js';
import type { DriverErrno, GunyahDriverRules } from './rules.js';

const U64_LIMIT = 1n << 64n;

/**
 * Throw the errno a driver returns, as an {@link ErrnoError} from `syscall` (default `ioctl`).
 *
 * @internal
 */
export function driverFail(name: DriverErrno, syscall = 'ioctl'): never {
  throw new ErrnoError(errnoValue(name) ?? 22, syscall);
}

/** What the driver needs from the rest of the (fake or emulated) kernel. */
export interface DriverHost {
  /** The kernel page size. */
  readonly pageSize: number;
  /** Whether `fd` is open in the process. */
  isOpenFd(fd: number): boolean;
  /** Whether `fd` is an eventfd. */
  isEventfd(fd: number): boolean;
  /** Add 1 to an eventfd's counter (an ioeventfd match). */
  signalEventfd(fd: number): void;
  /** Whether `[addr, addr+size)` of the process address space is mapped (pinning would succeed). */
  isUserRangeMapped(addr: bigint, size: bigint): boolean;
  /** Read guest memory through the process mapping, or `undefined` when unmapped. */
  readUser(addr: bigint, size: number): Uint8Array | undefined;
  /** The guest_memfd behind `fd`, when it is one (B). */
  guestMem(fd: number): GuestMemFile | undefined;
}

/** A guest_memfd as the driver sees it (B). */
export interface GuestMemFile {
  /** Unique id. */
  readonly id: number;
  /** File size (fixed at creation). */
  readonly size: bigint;
  /** Creation flags. */
  readonly flags: bigint;
  /** Whether any byte of `[offset, offset+size)` is currently mmapped by the host. */
  isMapped(offset: bigint, size: bigint): boolean;
}

/** A user-memory region or binding (A, C). */
export interface UserRegion extends UserspaceMemoryRegion {
  /** `share` ('G' 0x01) or `lend` ('A' 0x11). */
  readonly mode: 'share' | 'lend';
  /** Added after a successful `VM_START` (never given to the VM: spec §5.0, UNCONFIRMED). */
  readonly afterStart: boolean;
}

/** A guest_memfd binding (B). */
export interface GuestMemBinding {
  /** The guest_memfd. */
  readonly file: GuestMemFile;
  /** Guest IPA. */
  readonly guestAddr: bigint;
  /** Offset into the file. */
  readonly offset: bigint;
  /** Bytes. */
  readonly size: bigint;
  /** Flags as mapped (without UNMAP). */
  readonly flags: number;
}

/** A registered ioeventfd. */
export interface IoeventfdEntry {
  /** Guest IPA. */
  readonly addr: bigint;
  /** Stored length: 0 unless datamatch (spec §5.7). */
  readonly len: number;
  /** Stored datamatch value (0n unless datamatch). */
  readonly datamatch: bigint;
  /** Flags as registered. */
  readonly flags: number;
  /** The length the caller passed (for removal matching). */
  readonly argLen: number;
  /** The eventfd. */
  readonly fd: number;
}

/** A registered irqfd. */
export interface IrqfdEntry {
  /** The eventfd. */
  readonly fd: number;
  /** Doorbell label. */
  readonly label: number;
  /** Level-triggered. */
  readonly level: boolean;
}

/** Scripted guest step: an MMIO access (writes first try the ioeventfds, like the kernel). */
export interface GuestMmioEvent {
  /** Discriminant. */
  readonly kind: 'mmio';
  /** Guest IPA. */
  readonly addr: bigint;
  /** Access length. */
  readonly len: 1 | 2 | 4 | 8;
  /** Write access. */
  readonly isWrite: boolean;
  /** Value written (writes). */
  readonly data?: bigint;
}

/** Scripted guest step: a stage-2 fault the kernel tries to resolve by demand paging (B, C). */
export interface GuestPageFaultEvent {
  /** Discriminant. */
  readonly kind: 'page-fault';
  /** Faulting IPA. */
  readonly addr: bigint;
  /** Write access (checked against the binding's permissions). */
  readonly isWrite?: boolean;
}

/** Scripted guest step: the VM stops (RM reports it exited or crashed). */
export interface GuestExitEvent {
  /** Discriminant. */
  readonly kind: 'exit';
  /** Default `EXITED`. */
  readonly status?: 'EXITED' | 'CRASHED' | 'LOAD_FAILED';
  /** RM exit type (default 0, VM exit). */
  readonly exitType?: number;
  /** Reason bytes (up to 8 are reported). */
  readonly reason?: Uint8Array;
  /** Reported reason size (default `reason.length`). */
  readonly reasonSize?: number;
}

/** Scripted guest step: a signal arrives, `RUN` returns `EINTR`. */
export interface GuestSignalEvent {
  /** Discriminant. */
  readonly kind: 'signal';
}

/** One step of a scripted guest, consumed by `VCPU_RUN`. */
export type GuestEvent = GuestMmioEvent | GuestPageFaultEvent | GuestExitEvent | GuestSignalEvent;

/** The MMIO access a vCPU waits to complete. */
export interface PendingMmio {
  /** Guest IPA. */
  readonly addr: bigint;
  /** Access length. */
  readonly len: number;
  /** Write access. */
  readonly isWrite: boolean;
}

/** A completed MMIO access, as the driver passed it back to the hypervisor. */
export interface MmioCompletion {
  /** vCPU id. */
  readonly vcpu: number;
  /** Guest IPA. */
  readonly addr: bigint;
  /** Access length. */
  readonly len: number;
  /** Write access. */
  readonly isWrite: boolean;
  /** `handled`, `fault` or `retry` (A: always `handled`). */
  readonly action: 'handled' | 'fault' | 'retry';
  /** Value read (reads completed as handled), else 0n. */
  readonly data: bigint;
}

/** The driver-side state of one vCPU. */
export class VcpuModel {
  /** The vCPU id (RM label). */
  readonly id: number;
  /** The run page (one kernel page, zero-filled at creation). */
  runPage: ArrayBuffer;
  /** Removed with `REMOVE_FUNCTION`: `RUN` returns `ENODEV`. */
  removed = false;
  /** C+ duplicate: accepted but never given a resource. */
  unusable = false;
  /** A STATUS exit was produced: every later `RUN` returns 0 without rewriting the page. */
  terminal = false;
  /** The MMIO access waiting for completion on the next `RUN`. */
  pending: PendingMmio | undefined;
  /** Scripted guest events for this vCPU. */
  readonly script: GuestEvent[] = [];

  /**
   * @param id - the vCPU id
   * @param pageSize - size of the run page mapping
   */
  constructor(id: number, pageSize: number) {
    this.id = id;
    this.runPage = new ArrayBuffer(pageSize);
  }
}

/** The VM exit info the driver stores (reported in STATUS exits). */
export interface ModelExitInfo {
  /** RM exit type. */
  type: number;
  /** Reason size as RM reported it. */
  reasonSize: number;
  /** Up to 8 reason bytes. */
  reason: Uint8Array;
}

/** A Resource Manager refusal to model at the next `VM_START`. */
export interface RmStartError {
  /** The errno `VM_START` returns. */
  errno: DriverErrno;
  /** Whether RM failed in `VM_INIT` (vCPUs then report LOAD_FAILED). */
  initFailed: boolean;
}

/** VM life-cycle states of the driver (spec §5.0, §5.6). */
export type VmModelStatus = 'NO_STATE' | 'RUNNING' | 'START_FAILED' | 'EXITED' | 'CRASHED';

/** What `VM_START` handed to the Resource Manager (recorded by the model). */
export interface StartRecord {
  /** DTB bytes read from guest memory at start (when readable by the host). */
  readonly dtb: Uint8Array | undefined;
  /** DTB config. */
  readonly dtbConfig: GuestRange;
  /** Boot context registers (`reg` → value). */
  readonly bootContext: ReadonlyMap<number, bigint>;
  /** Authentication: none, Android pVM (firmware config) or QTVM. */
  readonly auth: 'none' | 'pvm' | 'qtvm';
}

function isAligned(v: bigint, a: number): boolean {
  return v % BigInt(a) === 0n;
}

/**
 * One VM's driver state with the rules of one variant. Methods mirror the ioctls and throw
 * {@link ErrnoError} with the driver's errno, checks in the driver's order.
 */
export class DriverModel {
  /** The variant rules in force. */
  readonly rules: GunyahDriverRules;
  /** The kernel services. */
  readonly host: DriverHost;
  /** Life-cycle state. */
  status: VmModelStatus = 'NO_STATE';
  /** Whether a failed start died in RM `VM_INIT` (then vCPUs report LOAD_FAILED). */
  initFailed = false;
  /** User-memory regions / bindings (A, C). */
  readonly regions: UserRegion[] = [];
  /** guest_memfd bindings (B). */
  readonly bindings: GuestMemBinding[] = [];
  /** Last DTB config. */
  dtbConfig: GuestRange | undefined;
  /** Last firmware config (A, C). */
  fwConfig: GuestRange | undefined;
  /** Authentication type. */
  auth: 'none' | 'pvm' | 'qtvm' = 'none';
  /** Boot context (`reg` → value). */
  readonly bootContext = new Map<number, bigint>();
  /** vCPUs by id (including C+ duplicates, keyed by insertion). */
  readonly vcpus: VcpuModel[] = [];
  /** irqfds. */
  readonly irqfds: IrqfdEntry[] = [];
  /** ioeventfds. */
  readonly ioeventfds: IoeventfdEntry[] = [];
  /** Completed MMIO accesses. */
  readonly completions: MmioCompletion[] = [];
  /** Exit info of the VM (after an `exit` event). */
  exitInfo: ModelExitInfo = { type: 0, reasonSize: 0, reason: new Uint8Array(0) };
  /** Recorded at a successful start. */
  started: StartRecord | undefined;
  /** An errno RM will return at the next start (to model RM refusals, spec §11.2). */
  rmStartError: RmStartError | undefined;
  /** Doorbell rings per label after start (irqfd signals). */
  readonly doorbells = new Map<number, number>();
  /** irqfd signals dropped before start. */
  droppedDoorbells = 0;
  /** What the guest does when a vCPU's script is empty: power off (default) or behave as if signalled. */
  idle: 'power-off' | 'signal' = 'power-off';

  /**
   * @param rules - the variant rules
   * @param host - kernel services
   */
  constructor(rules: GunyahDriverRules, host: DriverHost) {
    this.rules = rules;
    this.host = host;
  }

  // -------------------------------------------------------------------------------------------
  // memory (A, C): spec §5.1, §5.2

  /** `GH_VM_SET_USER_MEM_REGION` (`share`) / `GH_VM_ANDROID_LEND_USER_MEM` (`lend`). */
  setUserMemRegion(r: UserspaceMemoryRegion, mode: 'share' | 'lend'): void {
    const ps = this.host.pageSize;
    if ((r.flags & ~USER_MEM_FLAGS.ALLOW_RWX) !== 0) driverFail('EINVAL');
    if (r.memorySize === 0n || !isAligned(r.memorySize, ps) || !isAligned(r.userspaceAddr, ps) || !isAligned(r.guestPhysAddr, ps)) {
      driverFail('EINVAL');
    }
    if (r.guestPhysAddr + r.memorySize > U64_LIMIT) driverFail('EOVERFLOW');
    if (this.rules.uniqueRegionLabels && this.regions.some((x) => x.label === r.label)) driverFail('EEXIST');
    const end = r.guestPhysAddr + r.memorySize;
    if (this.regions.some((x) => r.guestPhysAddr < x.guestPhysAddr + x.memorySize && x.guestPhysAddr < end)) driverFail('EEXIST');
    if (this.rules.pinAtIoctl && !this.host.isUserRangeMapped(r.userspaceAddr, r.memorySize)) driverFail('EFAULT');
    this.regions.push({ ...r, mode, afterStart: this.status !== 'NO_STATE' });
  }

  // -------------------------------------------------------------------------------------------
  // guest_memfd (B): spec §6.5

  /** Validate `GUNYAH_CREATE_GUEST_MEM` arguments (the caller creates the file). */
  checkCreateGuestMem(a: CreateMemArgs): void {
    if (!isAligned(a.size, this.host.pageSize)) driverFail('EINVAL');
    if ((a.flags & ~3n) !== 0n) driverFail('EINVAL');
  }

  /** `GUNYAH_VM_MAP_MEM` (B): add a binding, or remove one with `GUNYAH_MEM_UNMAP`. */
  mapMem(a: MapMemArgs): void {
    const file = this.host.guestMem(a.guestMemFd);
    if (file === undefined) driverFail('EINVAL');
    const F = MEM_FLAGS_B;
    if ((a.flags & ~(F.ALLOW_RWX | F.UNMAP | F.ACCESS_MASK)) !== 0) driverFail('EINVAL');
    if ((a.flags & F.ALLOW_RWX) === 0) driverFail('EINVAL');
    const access = a.flags & F.ACCESS_MASK;
    if (access > F.FORCE_SHARE) driverFail('EINVAL');
    const ps = this.host.pageSize;
    const align = (file.flags & 2n) !== 0n ? ps * (ps / 8) : ps;
    if (!isAligned(a.guestAddr, align) || !isAligned(a.offset, align) || !isAligned(a.size, align)) driverFail('EINVAL');
    const flags = a.flags & ~F.UNMAP;
    if ((a.flags & F.UNMAP) !== 0) {
      const i = this.bindings.findIndex(
        (b) =>
          b.file === file &&
          b.flags === flags &&
          a.guestAddr >= b.guestAddr &&
          a.guestAddr + a.size <= b.guestAddr + b.size &&
          a.offset - b.offset === a.guestAddr - b.guestAddr,
      );
      if (i < 0) driverFail('ENOENT');
      const b = this.bindings[i]!;
      const atStart = a.guestAddr === b.guestAddr;
      const atEnd = a.guestAddr + a.size === b.guestAddr + b.size;
      let next: GuestMemBinding | undefined;
      if (atStart && atEnd) next = undefined;
      else if (atStart) next = { ...b, guestAddr: b.guestAddr + a.size, offset: b.offset + a.size, size: b.size - a.size };
      else if (atEnd) next = { ...b, size: b.size - a.size };
      else driverFail('EINVAL');
      const all = allBindings.get(file) ?? [];
      spliceWhere(all, (x) => x === b);
      if (next) {
        this.bindings[i] = next;
        all.push(next);
      } else {
        this.bindings.splice(i, 1);
      }
      return;
    }
    if (a.size === 0n || a.offset + a.size > file.size) driverFail('EINVAL');
    const all = allBindings.get(file) ?? [];
    if (all.some((b) => a.offset < b.offset + b.size && b.offset < a.offset + a.size)) driverFail('EEXIST');
    const end = a.guestAddr + a.size;
    if (this.bindings.some((b) => a.guestAddr < b.guestAddr + b.size && b.guestAddr < end)) driverFail('EEXIST');
    const binding: GuestMemBinding = { file, guestAddr: a.guestAddr, offset: a.offset, size: a.size, flags };
    this.bindings.push(binding);
    all.push(binding);
    allBindings.set(file, all);
  }

  // -------------------------------------------------------------------------------------------
  // configuration: spec §5.3–§5.5, §5.9

  /** `SET_DTB_CONFIG`: overflow check, then store (checked at start). */
  setDtbConfig(c: GuestRange): void {
    if (c.guestPhysAddr + c.size > U64_LIMIT) driverFail('EOVERFLOW');
    this.dtbConfig = c;
  }

  /** `GH_VM_ANDROID_SET_FW_CONFIG` (A, C): store; switches auth to Android pVM. */
  setFirmwareConfig(c: GuestRange): void {
    if (this.rules.fwOverflowCheck && c.guestPhysAddr + c.size > U64_LIMIT) driverFail('EOVERFLOW');
    this.fwConfig = c;
    if (!this.rules.cPlus || this.auth === 'none') this.auth = 'pvm';
  }

  /** `GUNYAH_VM_SET_BOOT_CONTEXT` (B, C). */
  setBootContext(c: VmBootContext): void {
    if (this.rules.bootContextRegHighBitsCheck && c.reg >>> 16 !== 0) driverFail('EINVAL');
    const set = (c.reg >>> 8) & 0xff;
    const index = c.reg & 0xff;
    const ok =
      (set === BOOT_CONTEXT_REG_SET.X && index <= 31) ||
      (set === BOOT_CONTEXT_REG_SET.PC && index === 0) ||
      (set === BOOT_CONTEXT_REG_SET.SP && index <= 2);
    if (!ok || c.reg >>> 16 !== 0) driverFail('EINVAL');
    if (this.status !== 'NO_STATE') driverFail('EINVAL');
    if (this.rules.bootContextXarrayQuirk) {
      if (c.value === 0n) {
        this.bootContext.delete(c.reg);
        return;
      }
      if ((c.value & 3n) === 2n && c.value <= 1026n) driverFail('EINVAL');
    }
    this.bootContext.set(c.reg, c.value);
  }

  /** `GH_VM_RECLAIM_REGION` (C+): alignment check only (the fake has no demand-paged pages). */
  reclaimRegion(r: GuestRange): void {
    if (!isAligned(r.guestPhysAddr, this.host.pageSize) || !isAligned(r.size, this.host.pageSize)) driverFail('EINVAL');
  }

  /** `GH_VM_ANDROID_SET_AUTH_TYPE` (C+): type 1 (QTVM) with at most 24 argument bytes. */
  setAuthType(type: number, argSize: number, arg: { guestPhysAddr: bigint; size: bigint } | undefined): void {
    if (type !== 1) driverFail('ENOENT');
    if (argSize > 24) driverFail('EINVAL');
    if (arg !== undefined && arg.guestPhysAddr + arg.size > U64_LIMIT) driverFail('EOVERFLOW');
    this.auth = 'qtvm';
  }

  // -------------------------------------------------------------------------------------------
  // start: spec §5.6, §7

  /** `VM_START`. Idempotent once started; terminal after a failure. */
  start(): void {
    if (this.status === 'RUNNING') return;
    if (this.status !== 'NO_STATE') driverFail('ENODEV');
    try {
      this.checkStart();
      if (this.rmStartError) {
        this.initFailed = this.rmStartError.initFailed;
        driverFail(this.rmStartError.errno);
      }
      this.onStart();
    } catch (e) {
      this.status = 'START_FAILED';
      throw e;
    }
    this.status = 'RUNNING';
  }

  /** The kernel-side checks of `VM_START` for this variant (DTB and firmware placement). */
  protected checkStart(): void {
    const ps = BigInt(this.host.pageSize);
    const dtb = this.dtbConfig ?? { guestPhysAddr: 0n, size: 0n };
    const rule = this.rules.dtbRule;
    let dtbBytes: Uint8Array | undefined;
    if (rule.kind === 'region-overlap') {
      const end = dtb.guestPhysAddr + dtb.size;
      const r = this.regions.find((x) => dtb.guestPhysAddr < x.guestPhysAddr + x.memorySize && x.guestPhysAddr < end);
      if (r === undefined || dtb.guestPhysAddr < r.guestPhysAddr) driverFail('EINVAL');
      dtbBytes = this.readRegion(r, dtb);
      if (this.fwConfig) {
        const fw = this.fwConfig;
        const fwEnd = fw.guestPhysAddr + fw.size;
        if (!this.regions.some((x) => fw.guestPhysAddr >= x.guestPhysAddr && fwEnd <= x.guestPhysAddr + x.memorySize)) driverFail('EINVAL');
      }
    } else if (rule.kind === 'whole-pages-in-binding') {
      if (dtb.size / ps < 1n) driverFail('EINVAL');
      const first = (dtb.guestPhysAddr / ps) * ps;
      const last = first + (dtb.size / ps) * ps;
      const b = this.bindings.find((x) => first >= x.guestAddr && last <= x.guestAddr + x.size);
      if (b === undefined) driverFail('ENOENT');
      // The DTB pages are lent at start (the B tree forces lend): no host mapping may remain.
      if (b.file.isMapped(b.offset + (first - b.guestAddr), last - first)) driverFail('EPERM');
    } else {
      if (dtb.size / ps < 1n) driverFail('EINVAL');
      const page = (dtb.guestPhysAddr / ps) * ps;
      const r = this.regions.find((x) => page >= x.guestPhysAddr && page < x.guestPhysAddr + x.memorySize);
      if (r === undefined) driverFail('ENOENT');
      const offset = page - r.guestPhysAddr;
      const pages = ((dtb.guestPhysAddr + dtb.size - page + ps - 1n) / ps) * ps;
      if (!this.host.isUserRangeMapped(r.userspaceAddr + offset, pages < r.memorySize - offset ? pages : r.memorySize - offset)) {
        driverFail('EFAULT');
      }
      dtbBytes = this.readRegion(r, dtb);
      if (this.fwConfig) {
        const fw = this.fwConfig;
        const fwPage = (fw.guestPhysAddr / ps) * ps;
        if (!this.regions.some((x) => fwPage >= x.guestPhysAddr && fwPage < x.guestPhysAddr + x.memorySize)) driverFail('ENOENT');
      }
    }
    this.started = { dtb: dtbBytes, dtbConfig: dtb, bootContext: new Map(this.bootContext), auth: this.auth };
  }

  private readRegion(r: UserRegion, dtb: GuestRange): Uint8Array | undefined {
    const len = dtb.size > 0x20_0000n ? 0x20_0000 : Number(dtb.size);
    const regionEnd = r.guestPhysAddr + r.memorySize;
    const avail = regionEnd - dtb.guestPhysAddr;
    const n = BigInt(len) < avail ? len : Number(avail);
    return this.host.readUser(r.userspaceAddr + (dtb.guestPhysAddr - r.guestPhysAddr), n);
  }

  /** Hook run after the start checks pass (the Resource Manager part). Emulators override it. */
  protected onStart(): void {}

  // -------------------------------------------------------------------------------------------
  // functions: spec §5.7, §5.8

  /**
   * `ADD_FUNCTION` after the descriptor was copied: `arg` holds exactly `arg_size` bytes. Returns the
   * new vCPU for type 1, else `undefined`.
   */
  addFunction(type: number, arg: Uint8Array): VcpuModel | undefined {
    if (arg.length > FN_MAX_ARG_SIZE) driverFail('EINVAL');
    switch (type) {
      case FN_TYPE.VCPU: {
        if (arg.length !== FN_ARG_SIZE.VCPU) driverFail('EINVAL');
        const { id } = FnVcpuArg.decode(arg);
        const dup = this.vcpus.some((v) => v.id === id && !v.removed);
        if (dup && this.rules.duplicateVcpu === 'EEXIST') driverFail('EEXIST');
        const v = new VcpuModel(id, this.host.pageSize);
        v.unusable = dup;
        this.vcpus.push(v);
        return v;
      }
      case FN_TYPE.IRQFD: {
        if (arg.length !== FN_ARG_SIZE.IRQFD) driverFail('EINVAL');
        const a = FnIrqfdArg.decode(arg);
        if ((a.flags & ~1) !== 0) driverFail('EINVAL');
        if (a.fd > 0x7fffffff || !this.host.isOpenFd(a.fd)) driverFail('EBADF');
        if (!this.host.isEventfd(a.fd)) driverFail('EINVAL');
        if (this.irqfds.some((x) => x.label === a.label)) driverFail('EEXIST');
        this.irqfds.push({ fd: a.fd, label: a.label, level: (a.flags & 1) !== 0 });
        return undefined;
      }
      case FN_TYPE.IOEVENTFD: {
        if (arg.length !== FN_ARG_SIZE.IOEVENTFD) driverFail('EINVAL');
        const a = FnIoeventfdArg.decode(arg);
        if ((a.flags & ~IOEVENTFD_FLAGS.DATAMATCH) !== 0) driverFail('EINVAL');
        if (![0, 1, 2, 4, 8].includes(a.len)) driverFail('EINVAL');
        if (a.addr + BigInt(a.len) >= U64_LIMIT) driverFail('EINVAL');
        const dm = (a.flags & IOEVENTFD_FLAGS.DATAMATCH) !== 0;
        if (a.len === 0 && dm) driverFail('EINVAL');
        if (a.fd < 0 || !this.host.isOpenFd(a.fd)) driverFail('EBADF');
        if (!this.host.isEventfd(a.fd)) driverFail('EINVAL');
        const entry: IoeventfdEntry = { addr: a.addr, len: dm ? a.len : 0, datamatch: dm ? a.datamatch : 0n, flags: a.flags, argLen: a.len, fd: a.fd };
        const conflict = this.ioeventfds.some(
          (x) => x.addr === entry.addr && (x.len === 0 || entry.len === 0 || (x.len === entry.len && x.datamatch === entry.datamatch)),
        );
        if (conflict) driverFail('EEXIST');
        this.ioeventfds.push(entry);
        return undefined;
      }
      default:
        driverFail('ENOENT');
    }
  }

  /** `REMOVE_FUNCTION` after the descriptor was copied. */
  removeFunction(type: number, arg: Uint8Array): void {
    if (arg.length > FN_MAX_ARG_SIZE) driverFail('EINVAL');
    if (arg.length === 0 && this.rules.removeZeroArgSizeSucceeds) return;
    let removed = 0;
    switch (type) {
      case FN_TYPE.VCPU: {
        if (arg.length !== 4) break;
        const { id } = FnVcpuArg.decode(arg);
        for (const v of this.vcpus) {
          if (v.id === id && !v.removed) {
            v.removed = true;
            removed++;
          }
        }
        break;
      }
      case FN_TYPE.IRQFD: {
        if (arg.length !== 16) break;
        const { label } = FnIrqfdArg.decode(arg);
        removed = spliceWhere(this.irqfds, (x) => x.label === label);
        break;
      }
      case FN_TYPE.IOEVENTFD: {
        if (arg.length !== 32) break;
        const a = FnIoeventfdArg.decode(arg);
        const dm = (a.flags & 1) !== 0;
        removed = spliceWhere(this.ioeventfds, (x) =>
          this.rules.ioeventfdRemoveMatch === 'addr'
            ? x.addr === a.addr
            : x.addr === a.addr && x.argLen === a.len && x.flags === a.flags && (!dm || x.datamatch === a.datamatch),
        );
        break;
      }
      default:
        driverFail('ENOENT');
    }
    if (removed === 0) driverFail('ENOENT');
  }

  // -------------------------------------------------------------------------------------------
  // irqfd signalling

  /** An irqfd's eventfd became readable: ring the doorbell (after start) or drop the signal. */
  ringIrqfd(fd: number): boolean {
    const irq = this.irqfds.find((x) => x.fd === fd);
    if (irq === undefined) return false;
    if (this.status === 'RUNNING') this.doorbells.set(irq.label, (this.doorbells.get(irq.label) ?? 0) + 1);
    else this.droppedDoorbells++;
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // vCPU run: spec §6.3

  /** Queue scripted guest events for vCPU `id`. */
  script(id: number, ...events: GuestEvent[]): void {
    for (const e of events) {
      if (e.kind === 'page-fault' && !this.rules.exitReasons.includes(EXIT_REASON.PAGE_FAULT)) {
        throw new RangeError(`variant ${this.rules.variant} has no PAGE_FAULT exits`);
      }
    }
    const v = this.vcpus.find((x) => x.id === id && !x.removed && !x.unusable);
    if (v === undefined) throw new RangeError(`no usable vCPU ${id}`);
    v.script.push(...events);
  }

  /** Queue one guest event for vCPU `vcpu` (default 0): the next `RUN` produces it. Same as {@link DriverModel.script}. */
  injectExit(event: GuestEvent, vcpu = 0): void {
    this.script(vcpu, event);
  }

  /** The next guest event for `v` (scripted; emulators override). */
  protected nextGuestEvent(v: VcpuModel): GuestEvent {
    return v.script.shift() ?? (this.idle === 'power-off' ? { kind: 'exit', status: 'EXITED', exitType: VM_EXIT_TYPE.PSCI_POWER_OFF } : { kind: 'signal' });
  }

  /** `VCPU_RUN` on `v`. Returns 0 after writing an exit to the run page; throws the errno otherwise. */
  run(v: VcpuModel): number {
    if (v.removed || v.unusable) driverFail('ENODEV');
    const page = new DataView(v.runPage);
    if (v.runPage.byteLength === 0) driverFail('EFAULT');
    if (page.getUint8(O.immediate_exit) !== 0) driverFail('EINTR');
    if (v.terminal) return 0;
    if (this.status === 'NO_STATE' || this.status === 'START_FAILED') driverFail('ENODEV');
    if (v.pending) {
      const p = v.pending;
      let action: MmioCompletion['action'] = 'handled';
      if (this.rules.maxMmioResumeAction !== undefined) {
        const ra = page.getUint8(O.mmio_resume_action);
        if (ra > this.rules.maxMmioResumeAction) driverFail('EINVAL');
        action = ra === RESUME_ACTION.HANDLED ? 'handled' : ra === RESUME_ACTION.FAULT ? 'fault' : 'retry';
      }
      let data = 0n;
      if (!p.isWrite && action === 'handled') {
        for (let i = p.len - 1; i >= 0; i--) data = (data << 8n) | BigInt(page.getUint8(O.mmio_data + i));
      }
      this.completions.push({ vcpu: v.id, addr: p.addr, len: p.len, isWrite: p.isWrite, action, data });
      v.pending = undefined;
    }
    for (;;) {
      if (this.status !== 'RUNNING') return this.writeStatus(v, page);
      const e = this.nextGuestEvent(v);
      switch (e.kind) {
        case 'signal':
          driverFail('EINTR');
        // falls through (unreachable)
        case 'exit': {
          this.status = e.status === 'CRASHED' ? 'CRASHED' : 'EXITED';
          if (e.status === 'LOAD_FAILED') this.initFailed = true;
          const reason = e.reason ?? new Uint8Array(0);
          this.exitInfo = { type: e.exitType ?? VM_EXIT_TYPE.VM_EXIT, reasonSize: e.reasonSize ?? reason.length, reason: reason.slice(0, 8) };
          continue;
        }
        case 'page-fault': {
          const attempt = this.resolveFault(e.addr, e.isWrite ?? false);
          if (attempt === 0) continue;
          this.clearUnion(page);
          page.setUint32(O.exit_reason, EXIT_REASON.PAGE_FAULT, true);
          page.setBigUint64(O.page_fault_phys_addr, e.addr, true);
          page.setInt32(O.page_fault_attempt, -attempt, true);
          page.setUint8(O.page_fault_resume_action, RESUME_ACTION.FAULT);
          return 0;
        }
        case 'mmio': {
          if (e.isWrite) {
            const data = e.data ?? 0n;
            const hit = this.ioeventfds.find((x) => x.addr === e.addr && (x.len === 0 || (x.len === e.len && x.datamatch === data)));
            if (hit) {
              this.host.signalEventfd(hit.fd);
              continue;
            }
          }
          this.clearUnion(page);
          page.setUint32(O.exit_reason, EXIT_REASON.MMIO, true);
          page.setBigUint64(O.mmio_phys_addr, e.addr, true);
          let d = e.isWrite ? (e.data ?? 0n) : 0n;
          for (let i = 0; i < 8; i++) {
            page.setUint8(O.mmio_data + i, i < e.len ? Number(d & 0xffn) : 0);
            d >>= 8n;
          }
          page.setUint32(O.mmio_len, e.len, true);
          page.setUint8(O.mmio_is_write, e.isWrite ? 1 : 0);
          if (this.rules.maxMmioResumeAction !== undefined) page.setUint8(O.mmio_resume_action, RESUME_ACTION.HANDLED);
          v.pending = { addr: e.addr, len: e.len, isWrite: e.isWrite };
          return 0;
        }
      }
    }
  }

  /** Demand paging (B, C): 0 when a binding provides the page, else the positive errno of the attempt. */
  protected resolveFault(addr: bigint, isWrite: boolean): number {
    const ENOENT = errnoValue('ENOENT') ?? 2;
    const EPERM = errnoValue('EPERM') ?? 1;
    if (this.rules.memoryModel === 'guest-memfd') {
      const b = this.bindings.find((x) => addr >= x.guestAddr && addr < x.guestAddr + x.size);
      if (b === undefined) return ENOENT;
      return isWrite && (b.flags & MEM_FLAGS_B.ALLOW_WRITE) === 0 ? EPERM : 0;
    }
    const r = this.regions.find((x) => addr >= x.guestPhysAddr && addr < x.guestPhysAddr + x.memorySize);
    if (r === undefined) return ENOENT;
    if (isWrite && (r.flags & USER_MEM_FLAGS.ALLOW_WRITE) === 0) return EPERM;
    return this.host.isUserRangeMapped(r.userspaceAddr + (addr - r.guestPhysAddr), 1n) ? 0 : (errnoValue('EFAULT') ?? 14);
  }

  private clearUnion(page: DataView): void {
    for (let i = 16; i < 40; i++) page.setUint8(i, 0);
  }

  private writeStatus(v: VcpuModel, page: DataView): number {
    this.clearUnion(page);
    page.setUint32(O.exit_reason, EXIT_REASON.STATUS, true);
    const status = this.initFailed ? VM_STATUS.LOAD_FAILED : this.status === 'EXITED' ? VM_STATUS.EXITED : VM_STATUS.CRASHED;
    page.setUint32(O.status_status, status, true);
    if (status === VM_STATUS.EXITED) {
      page.setUint16(O.status_exit_type, this.exitInfo.type, true);
      page.setUint32(O.status_reason_size, this.exitInfo.reasonSize, true);
      this.exitInfo.reason.forEach((b, i) => page.setUint8(O.status_reason + i, b));
    }
    v.terminal = true;
    return 0;
  }

  /** Forget this VM's guest_memfd bindings (teardown). */
  teardown(): void {
    for (const b of this.bindings) {
      const all = allBindings.get(b.file);
      if (all) spliceWhere(all, (x) => x === b);
    }
    this.bindings.length = 0;
  }
}

// Bindings of each guest_memfd across all VMs (a range may be bound once, spec §6.5).
const allBindings = new WeakMap<GuestMemFile, GuestMemBinding[]>();

function spliceWhere<T>(list: T[], pred: (x: T) => boolean): number {
  let n = 0;
  for (let i = list.length - 1; i >= 0; i--) {
    if (pred(list[i]!)) {
      list.splice(i, 1);
      n++;
    }
  }
  return n;
}
