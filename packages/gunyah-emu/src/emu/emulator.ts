/**
 * The emulated `/dev/gunyah`: a `BindingModule` that answers the Gunyah ioctls on fds it
 * creates (real memfds) with the driver model of one variant, an RM model behind a synchronous
 * in-process link, and KVM for execution; every other call goes to the native addon.
 *
 * @module
 */
import { FnDesc, GUNYAH_IOCTLS, UserspaceMemoryRegion, VmBootContext, VmDtbConfig, VmFirmwareConfig, MapMemArgs, CreateMemArgs, AddressRange, gunyahIoctlByRequest, ioctlAvailable, type GunyahIoctlSpec, type IoctlArg, type PointerField, type SysConstants } from '@gunyah-ts/sys';
import { DriverModel, rulesFor, type DriverHost, type GunyahDriverRules, type IoeventfdEntry, type IrqfdEntry, type VcpuModel } from '@gunyah-ts/sys/fake';
import { RM_EXIT_TYPE, RM_STOP_FLAGS, RM_STOP_REASON_FORCE_STOP, RM_VM_STATUS, RmSyncClient, createSyncTransportPair } from '@gunyah-ts/rm-proto';
import { emulatorAvailable } from './available.js';
import { EmuError } from './errors.js';
import { KvmExecutor, type EmuExecutor, type ExecIoeventfd, type ExecIrqfd, type ExecMemorySlot, type ExecVm, type ExecVcpu } from './executor.js';
import { DEV_MEMFD_NAME, EmuGuestMem, GMEM_MEMFD_NAME, ProcMem, VCPU_MEMFD_NAME, VM_MEMFD_NAME, VM_PAGE_MEMFD_NAME, createDriverHost } from './host.js';
import {
  VM_PAGE_MAX_VCPUS,
  VM_PAGE_STATUS,
  decodeVmPage,
  encodeVcpuPrivate,
  initVmPage,
  setVcpuFlag,
  setVcpuKvm,
  setVmReported,
  setVmSlotKvmFd,
  setVmStatus,
  VM_PAGE_SIZE,
} from './pages.js';
import { EmuRm, type GuestMemoryAccessor, type RmStartedVm } from './rm-model.js';
import { runStartSequence, type StartState } from './start-sequence.js';
import { ErrnoError, errnoValue, getBinding, type BindingModule } from './sys.js';
import { RmTraceDecoder, type RmTraceEntry } from './trace.js';
import { runEmulatedVcpu, type RunServices } from './translate.js';

/** Options of {@link createEmulator}. */
export interface EmulatorOptions {
  /** The `/dev/gunyah` ABI to emulate (spec/gunyah-uapi.md §0). */
  readonly variant: 'A' | 'B' | 'C';
  /** Newest C trees (reclaim, CMA, auth type, CHECK_EXTENSION); variant C only. */
  readonly cPlus?: boolean;
  /** `/dev/kvm` path; default `/dev/kvm`. */
  readonly kvmPath?: string;
  /** The path `open()` answers for; default `/dev/gunyah`. */
  readonly devicePath?: string;
  /** Receives every RM message both ways, decoded; without it the log is kept in {@link Emulator.rmLog}. */
  readonly rmTrace?: (entry: RmTraceEntry) => void;
  /**
   * The execution seam: builds the KVM side. Default: a {@link KvmExecutor} on `/dev/kvm`.
   * Tests inject a recording executor (then KVM is not required).
   */
  readonly executor?: EmuExecutor;
  /** The native binding the emulator passes everything else to; default `getBinding()`. */
  readonly binding?: BindingModule;
  /** `kaslr-seed` source of the RM model (tests make it deterministic). */
  readonly kaslrSeed?: () => bigint;
}

/** The emulated `/dev/gunyah`: pass it as the `binding` of `@gunyah-ts/ioctls`. */
export interface Emulator extends BindingModule {
  /** The variant emulated. */
  readonly variant: 'A' | 'B' | 'C';
  /** Module specifier for `VcpuRunner({ workerBinding })`: the `@gunyah-ts/emu/worker-binding` module (`createBinding()`), as a file URL. */
  readonly workerBinding: string;
  /** The RM conversation, when {@link EmulatorOptions.rmTrace} is not given. */
  readonly rmLog: readonly RmTraceEntry[];
  /**
   * Without an argument: tears down every VM still open and closes the emulator's fds. With an fd:
   * `close(fd)` of the `BindingModule` (the last VM/vCPU fd of a VM tears it down, spec §6.6).
   */
  close(fd?: number): void;
}

type Entry =
  | { readonly kind: 'dev' }
  | { readonly kind: 'vm'; readonly vm: EmuVm }
  | { readonly kind: 'vcpu'; readonly vm: EmuVm; readonly vcpu: EmuVcpu }
  | { readonly kind: 'gmem'; readonly file: EmuGuestMem };

interface EmuVcpu {
  readonly model: VcpuModel;
  readonly fd: number;
  readonly buffer: ArrayBuffer;
  readonly page: DataView;
  readonly slot: number;
}

function errno(name: string, syscall = 'ioctl', op?: string): never {
  throw new ErrnoError(errnoValue(name) ?? 22, syscall, op);
}

/** The emulator's driver model: `onStart` runs the RM sequence and builds the KVM VM. */
class EmuDriverModel extends DriverModel {
  startHook: (() => void) | undefined;
  bindingsSnapshot: EmuGuestMem[] = [];
  protected override onStart(): void {
    this.startHook?.();
  }
}

/** One emulated VM. */
class EmuVm {
  readonly model: EmuDriverModel;
  readonly fd: number;
  readonly pageFd: number;
  readonly pageBuffer: ArrayBuffer;
  readonly page: DataView;
  readonly vcpus: EmuVcpu[] = [];
  readonly st: StartState = { vmid: undefined, parcels: [], resources: undefined };
  exec: ExecVm | undefined;
  started: RmStartedVm | undefined;
  readonly mapped: ArrayBuffer[] = [];
  readonly irqAttached = new Map<IrqfdEntry, ExecIrqfd>();
  readonly ioAttached = new Map<IoeventfdEntry, ExecIoeventfd>();
  torn = false;

  constructor(model: EmuDriverModel, fd: number, pageFd: number, pageBuffer: ArrayBuffer) {
    this.model = model;
    this.fd = fd;
    this.pageFd = pageFd;
    this.pageBuffer = pageBuffer;
    this.page = new DataView(pageBuffer);
  }
}

const VARIANTS = new Set(['A', 'B', 'C']);

/** The module specifier of the worker binding (this package's `dist/worker-binding.js`). */
export const WORKER_BINDING_SPECIFIER: string = new URL('../worker-binding.js', import.meta.url).href;

/** Implementation of {@link Emulator}. */
class EmulatorImpl implements Emulator {
  readonly variant: 'A' | 'B' | 'C';
  readonly workerBinding = WORKER_BINDING_SPECIFIER;
  readonly rmLog: RmTraceEntry[] = [];
  readonly #native: BindingModule;
  readonly #rules: GunyahDriverRules;
  readonly #devicePath: string;
  readonly #executor: EmuExecutor;
  readonly #entries = new Map<number, Entry>();
  readonly #mem: ProcMem;
  readonly #host: DriverHost;
  readonly #rm: EmuRm;
  readonly #client: RmSyncClient;
  readonly #trace: (e: RmTraceEntry) => void;
  readonly #services: RunServices;
  readonly #vmPages = new Map<number, DataView>();
  #traceIndex = 0;
  #nextFileId = 1;
  #closed = false;

  constructor(o: EmulatorOptions, native: BindingModule, executor: EmuExecutor) {
    this.variant = o.variant;
    this.#native = native;
    this.#rules = rulesFor(o.variant, o.cPlus ?? false);
    this.#devicePath = o.devicePath ?? '/dev/gunyah';
    this.#executor = executor;
    this.#mem = new ProcMem(native);
    this.#host = createDriverHost(native, this.#mem, (fd) => {
      const e = this.#entries.get(fd);
      return e?.kind === 'gmem' ? e.file : undefined;
    });
    const sink = o.rmTrace;
    this.#trace = (e) => (sink ? sink(e) : this.rmLog.push(e));
    const [hostEnd, rmEnd] = createSyncTransportPair();
    const emit = (e: Omit<RmTraceEntry, 'index'>): void => this.#trace({ index: this.#traceIndex++, ...e });
    const toRm = new RmTraceDecoder('to-rm', emit);
    const fromRm = new RmTraceDecoder('from-rm', emit);
    hostEnd.tap = (m) => toRm.push(m);
    rmEnd.tap = (m) => fromRm.push(m);
    this.#rm = new EmuRm(rmEnd, o.kaslrSeed === undefined ? {} : { kaslrSeed: o.kaslrSeed });
    this.#client = new RmSyncClient(hostEnd);
    this.#services = {
      kvm: (fd, size) => this.#executor.vcpuPort(fd, size),
      vmPage: (fd) => {
        const p = this.#vmPages.get(fd);
        if (p === undefined) throw new EmuError('BAD_PAGE', `fd ${fd} is not a VM page of this emulator`);
        return p;
      },
      currentThread: () => native.currentThread(),
      kick: (t) => native.kick(t),
    };
  }

  /** The RM model (tests). */
  get rm(): EmuRm {
    return this.#rm;
  }

  // ------------------------------------------------------------------------------------------
  // BindingModule

  open(path: string, flags: number, mode?: number): number {
    this.#check();
    if (path === this.#devicePath) {
      const fd = this.#native.memfdCreate(DEV_MEMFD_NAME, this.#native.constants().MFD_CLOEXEC);
      this.#entries.set(fd, { kind: 'dev' });
      return fd;
    }
    return mode === undefined ? this.#native.open(path, flags) : this.#native.open(path, flags, mode);
  }

  close(fd?: number): void {
    if (fd === undefined) {
      this.#closeAll();
      return;
    }
    const e = this.#entries.get(fd);
    if (e === undefined) {
      this.#native.close(fd);
      return;
    }
    this.#entries.delete(fd);
    if (e.kind === 'gmem') {
      // bindings keep the file (the emulator's own fd); an unbound file can go
      const bound = [...this.#entries.values()].some((x) => x.kind === 'vm' && x.vm.model.bindings.some((b) => b.file === e.file));
      if (!bound) this.#native.close(e.file.ownFd);
    }
    this.#native.close(fd);
    if (e.kind === 'vm' || e.kind === 'vcpu') {
      const still = [...this.#entries.values()].some((x) => (x.kind === 'vm' || x.kind === 'vcpu') && x.vm === e.vm);
      if (!still) this.#teardown(e.vm);
    }
  }

  ioctl(fd: number, request: number, arg?: IoctlArg): number {
    const e = this.#entries.get(fd);
    if (e === undefined) return this.#native.ioctl(fd, request, arg);
    this.#check();
    return this.#ioctl(e, fd, request, arg);
  }

  ioctlWithPtrs(fd: number, request: number, buf: ArrayBufferView | ArrayBuffer, ptrs: readonly PointerField[]): number {
    const e = this.#entries.get(fd);
    if (e === undefined) return this.#native.ioctlWithPtrs(fd, request, buf, ptrs);
    this.#check();
    const outer = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    const dv = new DataView(outer.buffer, outer.byteOffset, outer.byteLength);
    for (const p of ptrs) {
      if (!Number.isInteger(p.offset) || p.offset < 0 || p.offset + 8 > outer.length) throw new RangeError('ptrs[].offset must leave room for 8 bytes inside buf');
      dv.setBigUint64(p.offset, this.#native.addressOf(p.buffer), true);
    }
    return this.#ioctl(e, fd, request, outer, ptrs);
  }

  mmap(fd: number, length: number | bigint, prot: number, flags: number, offset: number | bigint): ArrayBuffer {
    const e = this.#entries.get(fd);
    if (e?.kind === 'dev' || e?.kind === 'vm') errno('ENODEV', 'mmap');
    if (e?.kind === 'vcpu' && (BigInt(offset) !== 0n || BigInt(length) > BigInt(this.#host.pageSize))) errno('EINVAL', 'mmap');
    if (e?.kind === 'gmem' && (flags & this.#native.constants().MAP_SHARED) === 0) errno('EINVAL', 'mmap');
    const buf = this.#native.mmap(fd, length, prot, flags, offset);
    if (e?.kind === 'gmem') e.file.mappings.set(buf, [BigInt(offset), BigInt(length)]);
    return buf;
  }

  munmap(buffer: ArrayBuffer): void {
    for (const e of this.#entries.values()) if (e.kind === 'gmem') e.file.mappings.delete(buffer);
    this.#native.munmap(buffer);
  }

  addressOf(buffer: ArrayBufferView | ArrayBuffer): bigint {
    return this.#native.addressOf(buffer);
  }
  memfdCreate(name: string, flags: number): number {
    return this.#native.memfdCreate(name, flags);
  }
  ftruncate(fd: number, length: number | bigint): void {
    if (this.#entries.has(fd)) errno('EINVAL', 'ftruncate');
    this.#native.ftruncate(fd, length);
  }
  read(fd: number, buffer: ArrayBufferView | ArrayBuffer): number {
    this.#noIo(fd, 'read');
    return this.#native.read(fd, buffer);
  }
  write(fd: number, buffer: ArrayBufferView | ArrayBuffer): number {
    this.#noIo(fd, 'write');
    return this.#native.write(fd, buffer);
  }
  pread(fd: number, buffer: ArrayBufferView | ArrayBuffer, position: number | bigint): number {
    this.#noIo(fd, 'pread');
    return this.#native.pread(fd, buffer, position);
  }
  pwrite(fd: number, buffer: ArrayBufferView | ArrayBuffer, position: number | bigint): number {
    this.#noIo(fd, 'pwrite');
    return this.#native.pwrite(fd, buffer, position);
  }
  eventfd(initval: number, flags: number): number {
    return this.#native.eventfd(initval, flags);
  }
  poll(fd: number, events: number, timeoutMs: number): number {
    return this.#native.poll(fd, events, timeoutMs);
  }
  pageSize(): number {
    return this.#native.pageSize();
  }
  kickSignal(): number {
    return this.#native.kickSignal();
  }
  currentThread(): bigint {
    return this.#native.currentThread();
  }
  kick(thread: bigint): void {
    this.#native.kick(thread);
  }
  constants(): SysConstants {
    return this.#native.constants();
  }

  #noIo(fd: number, syscall: string): void {
    const e = this.#entries.get(fd);
    if (e !== undefined && e.kind !== 'gmem') errno('EINVAL', syscall);
  }

  #check(): void {
    if (this.#closed) throw new EmuError('CLOSED', 'the emulator was closed');
  }

  // ------------------------------------------------------------------------------------------
  // ioctl dispatch (same decoding as the fake, spec §4–§6)

  #copyIn(arg: IoctlArg, size: number): Uint8Array {
    if (arg === undefined) errno('EFAULT');
    if (typeof arg === 'number' || typeof arg === 'bigint') {
      const b = this.#mem.read(BigInt(arg), size);
      if (b === undefined) errno('EFAULT');
      return b;
    }
    const b = arg instanceof ArrayBuffer ? new Uint8Array(arg) : new Uint8Array(arg.buffer, arg.byteOffset, arg.byteLength);
    if (b.length < size) errno('EFAULT');
    return b.slice(0, size);
  }

  #has(s: GunyahIoctlSpec): boolean {
    return ioctlAvailable(s.name, this.#rules.variant, this.#rules.cPlus);
  }

  #ioctl(e: Entry, fd: number, request: number, arg: IoctlArg, _ptrs?: readonly PointerField[]): number {
    const spec = gunyahIoctlByRequest(request);
    if (e.kind === 'dev') {
      if (spec === GUNYAH_IOCTLS.CREATE_VM) {
        const v = arg === undefined ? 0n : typeof arg === 'number' || typeof arg === 'bigint' ? BigInt(arg) : 1n;
        if (v !== 0n) errno('EINVAL');
        return this.#createVm();
      }
      if (spec === GUNYAH_IOCTLS.CREATE_GUEST_MEM && this.#has(spec)) {
        const a = CreateMemArgs.decode(this.#copyIn(arg, 64));
        if (a.size % BigInt(this.#host.pageSize) !== 0n || (a.flags & ~3n) !== 0n) errno('EINVAL');
        const c = this.#native.constants();
        const gfd = this.#native.memfdCreate(GMEM_MEMFD_NAME, (a.flags & 1n) !== 0n ? c.MFD_CLOEXEC : 0);
        this.#native.ftruncate(gfd, a.size);
        const own = this.#native.open(`/proc/self/fd/${gfd}`, c.O_RDWR);
        this.#entries.set(gfd, { kind: 'gmem', file: new EmuGuestMem(this.#nextFileId++, a.size, a.flags, own) });
        return gfd;
      }
      errno('ENOTTY');
    }
    if (e.kind === 'gmem') errno('ENOTTY');
    if (e.kind === 'vcpu') {
      if (spec === GUNYAH_IOCTLS.VCPU_MMAP_SIZE) return this.#host.pageSize;
      if (spec === GUNYAH_IOCTLS.VCPU_RUN) {
        this.#sync(e.vm);
        return runEmulatedVcpu(e.vcpu.page, this.#services);
      }
      errno(this.#rules.unknownVcpuIoctlErrno);
    }
    if (spec === undefined || spec.fd !== 'vm' || !this.#has(spec)) errno('ENOTTY');
    const vm = e.vm;
    const m = vm.model;
    this.#sync(vm);
    switch (spec.name) {
      case 'SET_USER_MEM_REGION':
      case 'ANDROID_LEND_USER_MEM':
        m.setUserMemRegion(UserspaceMemoryRegion.decode(this.#copyIn(arg, 32)), spec.name === 'SET_USER_MEM_REGION' ? 'share' : 'lend');
        return 0;
      case 'SET_DTB_CONFIG':
        m.setDtbConfig(VmDtbConfig.decode(this.#copyIn(arg, 16)));
        return 0;
      case 'ANDROID_SET_FW_CONFIG':
        m.setFirmwareConfig(VmFirmwareConfig.decode(this.#copyIn(arg, 16)));
        return 0;
      case 'SET_BOOT_CONTEXT':
        m.setBootContext(VmBootContext.decode(this.#copyIn(arg, 16)));
        return 0;
      case 'MAP_MEM':
        m.mapMem(MapMemArgs.decode(this.#copyIn(arg, 32)));
        return 0;
      case 'VM_START':
        m.start();
        return 0;
      case 'ADD_FUNCTION':
      case 'REMOVE_FUNCTION': {
        const d = FnDesc.decode(this.#copyIn(arg, 16));
        if (d.argSize > 256) errno('EINVAL');
        const argBytes = d.argSize === 0 ? new Uint8Array(0) : this.#copyIn(d.arg, d.argSize);
        if (spec.name === 'REMOVE_FUNCTION') {
          this.#removeFunction(vm, d.type, argBytes);
          return 0;
        }
        return this.#addFunction(vm, d.type, argBytes);
      }
      case 'RECLAIM_REGION':
        m.reclaimRegion(AddressRange.decode(this.#copyIn(arg, 16)));
        return 0;
      case 'CHECK_EXTENSION': {
        const cap = typeof arg === 'number' || typeof arg === 'bigint' ? BigInt(arg) : -1n;
        return cap === 0n ? 1 : 0;
      }
      default:
        // CMA and QTVM auth are not emulated (README)
        errno(spec.name === 'ANDROID_MAP_CMA_MEM' || spec.name === 'ANDROID_SET_AUTH_TYPE' ? 'EOPNOTSUPP' : 'ENOTTY');
    }
  }

  #createVm(): number {
    const n = this.#native;
    const c = n.constants();
    const ps = this.#host.pageSize;
    const vmFd = n.memfdCreate(VM_MEMFD_NAME, c.MFD_CLOEXEC);
    const pageFd = n.memfdCreate(VM_PAGE_MEMFD_NAME, c.MFD_CLOEXEC);
    const size = Math.max(ps, Math.ceil(VM_PAGE_SIZE / ps) * ps);
    n.ftruncate(pageFd, size);
    const buf = n.mmap(pageFd, size, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
    const model = new EmuDriverModel(this.#rules, this.#host);
    const vm = new EmuVm(model, vmFd, pageFd, buf);
    initVmPage(vm.page);
    model.startHook = () => this.#start(vm);
    this.#vmPages.set(pageFd, vm.page);
    this.#entries.set(vmFd, { kind: 'vm', vm });
    return vmFd;
  }

  #addFunction(vm: EmuVm, type: number, arg: Uint8Array): number {
    const m = vm.model;
    const irqBefore = new Set(m.irqfds);
    const ioBefore = new Set(m.ioeventfds);
    const v = m.addFunction(type, arg);
    if (v !== undefined) {
      const n = this.#native;
      const c = n.constants();
      const slot = vm.vcpus.length;
      if (slot >= VM_PAGE_MAX_VCPUS) {
        v.removed = true;
        errno('ENOMEM');
      }
      const fd = n.memfdCreate(VCPU_MEMFD_NAME, c.MFD_CLOEXEC);
      n.ftruncate(fd, this.#host.pageSize);
      const buffer = n.mmap(fd, this.#host.pageSize, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
      const page = new DataView(buffer);
      encodeVcpuPrivate(page, {
        variant: this.variant,
        cPlus: this.#rules.cPlus,
        removed: false,
        unusable: v.unusable,
        terminal: false,
        vcpuId: v.id,
        slot,
        kvmFd: -1,
        vmPageFd: vm.pageFd,
        kvmRunSize: 0,
        pending: undefined,
      });
      const ev: EmuVcpu = { model: v, fd, buffer, page, slot };
      vm.vcpus.push(ev);
      this.#entries.set(fd, { kind: 'vcpu', vm, vcpu: ev });
      return fd;
    }
    // after start, attach the new irqfd/ioeventfd to KVM at once (spec §5.0)
    if (vm.exec !== undefined) {
      for (const i of m.irqfds) if (!irqBefore.has(i)) this.#attachIrq(vm, i);
      for (const i of m.ioeventfds) if (!ioBefore.has(i)) this.#attachIo(vm, i);
    }
    return 0;
  }

  #removeFunction(vm: EmuVm, type: number, arg: Uint8Array): void {
    const m = vm.model;
    m.removeFunction(type, arg);
    for (const v of vm.vcpus) if (v.model.removed) setVcpuFlag(v.page, 'removed', true);
    for (const [i, x] of vm.irqAttached) {
      if (m.irqfds.includes(i)) continue;
      vm.irqAttached.delete(i);
      vm.exec?.detachIrqfd(x);
    }
    for (const [i, x] of vm.ioAttached) {
      if (m.ioeventfds.includes(i)) continue;
      vm.ioAttached.delete(i);
      vm.exec?.detachIoeventfd(x);
    }
  }

  #attachIrq(vm: EmuVm, i: IrqfdEntry): void {
    const bell = vm.started?.doorbells.get(i.label);
    if (bell === undefined || vm.exec === undefined) return; // no doorbell with this label: signals go nowhere (spec §5.7)
    const x: ExecIrqfd = { fd: i.fd, spi: bell.spi, level: i.level };
    vm.exec.attachIrqfd(x);
    vm.irqAttached.set(i, x);
  }

  #attachIo(vm: EmuVm, i: IoeventfdEntry): void {
    if (vm.exec === undefined) return;
    const x: ExecIoeventfd = { addr: i.addr, len: i.len, datamatch: i.len === 0 ? undefined : i.datamatch, fd: i.fd };
    vm.exec.attachIoeventfd(x);
    vm.ioAttached.set(i, x);
  }

  // ------------------------------------------------------------------------------------------
  // start: RM sequence, then KVM

  #accessor(vm: EmuVm): GuestMemoryAccessor {
    const m = vm.model;
    const locate = (ipa: bigint, len: number): { kind: 'va'; at: bigint } | { kind: 'file'; fd: number; at: bigint } | undefined => {
      const end = ipa + BigInt(len);
      if (this.variant === 'B') {
        const b = m.bindings.find((x) => ipa >= x.guestAddr && end <= x.guestAddr + x.size);
        return b === undefined ? undefined : { kind: 'file', fd: (b.file as EmuGuestMem).ownFd, at: b.offset + (ipa - b.guestAddr) };
      }
      const r = m.regions.find((x) => ipa >= x.guestPhysAddr && end <= x.guestPhysAddr + x.memorySize);
      return r === undefined ? undefined : { kind: 'va', at: r.userspaceAddr + (ipa - r.guestPhysAddr) };
    };
    return {
      read: (ipa, len) => {
        const l = locate(ipa, len);
        if (l === undefined) return undefined;
        if (l.kind === 'va') return this.#mem.read(l.at, len);
        const out = new Uint8Array(len);
        return this.#native.pread(l.fd, out, l.at) === len ? out : undefined;
      },
      write: (ipa, bytes) => {
        const l = locate(ipa, bytes.length);
        if (l === undefined) return false;
        if (l.kind === 'va') return this.#mem.write(l.at, bytes);
        return this.#native.pwrite(l.fd, bytes, l.at) === bytes.length;
      },
    };
  }

  #start(vm: EmuVm): void {
    const m = vm.model;
    try {
      runStartSequence(this.#client, m, vm.st, (vmid) => this.#rm.attachMemory(vmid, this.#accessor(vm)));
    } catch (e) {
      const s = vm.st.vmid === undefined ? undefined : this.#rm.vm(vm.st.vmid)?.status;
      m.initFailed = s === RM_VM_STATUS.INIT_FAILED;
      setVmStatus(vm.page, VM_PAGE_STATUS.START_FAILED);
      throw e;
    }
    const vmid = vm.st.vmid as number;
    const started = this.#rm.started(vmid);
    if (started === undefined) errno('EBADMSG', 'ioctl', 'VM_START');
    vm.started = started;
    try {
      vm.exec = this.#executor.start(this.#plan(vm, started));
    } catch (e) {
      setVmStatus(vm.page, VM_PAGE_STATUS.START_FAILED);
      throw e instanceof ErrnoError ? e : new ErrnoError(errnoValue('EINVAL') ?? 22, 'ioctl', 'VM_START', { cause: e });
    }
    for (const v of vm.vcpus) {
      const kfd = vm.exec.vcpuFds.get(v.model.id);
      if (kfd === undefined || v.model.unusable || v.model.removed) continue;
      setVcpuKvm(v.page, kfd, vm.exec.kvmRunSize);
      setVmSlotKvmFd(vm.page, v.slot, kfd);
    }
    for (const i of m.irqfds) {
      const bell = started.doorbells.get(i.label);
      if (bell !== undefined) vm.irqAttached.set(i, { fd: i.fd, spi: bell.spi, level: i.level });
    }
    for (const i of m.ioeventfds) vm.ioAttached.set(i, { addr: i.addr, len: i.len, datamatch: i.len === 0 ? undefined : i.datamatch, fd: i.fd });
    setVmStatus(vm.page, VM_PAGE_STATUS.RUNNING);
  }

  #plan(vm: EmuVm, s: RmStartedVm) {
    const m = vm.model;
    const n = this.#native;
    const c = n.constants();
    const memory: ExecMemorySlot[] = [];
    if (this.variant === 'B') {
      for (const b of m.bindings) {
        const buf = n.mmap((b.file as EmuGuestMem).ownFd, b.size, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, b.offset);
        vm.mapped.push(buf);
        memory.push({ guestPhysAddr: b.guestAddr, size: b.size, userspaceAddr: n.addressOf(buf), readonly: (b.flags & 0x20) === 0 });
      }
    } else {
      for (const r of m.regions) {
        if (r.afterStart) continue;
        memory.push({ guestPhysAddr: r.guestPhysAddr, size: r.memorySize, userspaceAddr: r.userspaceAddr, readonly: (r.flags & 2) === 0 });
      }
    }
    const labels = new Set(vm.st.resources?.vcpuLabels ?? []);
    const vcpus: ExecVcpu[] = [];
    const seen = new Set<number>();
    for (const v of vm.vcpus) {
      const id = v.model.id;
      if (v.model.removed || v.model.unusable || !labels.has(id) || seen.has(id)) continue;
      seen.add(id);
      const boot = s.config.cpus[id]?.boot ?? id === 0;
      const regs = new Map<string, bigint>();
      if (boot) {
        regs.set('pc', s.bootContext.get(0x100) ?? s.entry);
        regs.set('x0', s.bootContext.get(0x000) ?? s.dtbAddress);
        for (const [k, val] of s.bootContext) {
          if (k >> 8 === 0 && (k & 0xff) <= 30) regs.set(`x${k & 0xff}`, val);
          if (k === 0x200) regs.set('sp', val);
          if (k === 0x201) regs.set('sp_el1', val);
        }
      }
      vcpus.push({ slot: id, boot, regs });
    }
    const irqfds: ExecIrqfd[] = [];
    for (const i of m.irqfds) {
      const bell = s.doorbells.get(i.label);
      if (bell !== undefined) irqfds.push({ fd: i.fd, spi: bell.spi, level: i.level });
    }
    const ioeventfds = m.ioeventfds.map((i) => ({ addr: i.addr, len: i.len, datamatch: i.len === 0 ? undefined : i.datamatch, fd: i.fd }));
    return { vmid: s.vmid, memory, gicdBase: s.gicdBase, gicrBase: s.gicrBase, vcpus, irqfds, ioeventfds };
  }

  /** Report a stop seen by a vCPU thread to the RM model (design decision 3) and to the driver model. */
  #sync(vm: EmuVm): void {
    const st = decodeVmPage(vm.page);
    if ((st.status !== VM_PAGE_STATUS.EXITED && st.status !== VM_PAGE_STATUS.CRASHED) || st.reported) return;
    setVmReported(vm.page);
    vm.model.status = st.status === VM_PAGE_STATUS.EXITED ? 'EXITED' : 'CRASHED';
    vm.model.exitInfo = { type: st.exitType, reasonSize: st.reasonSize, reason: st.reason };
    if (vm.st.vmid !== undefined) {
      const type = st.status === VM_PAGE_STATUS.CRASHED ? RM_EXIT_TYPE.SOFTWARE_ERROR : st.exitType;
      this.#rm.vmExited(vm.st.vmid, type, [0]);
    }
  }

  // ------------------------------------------------------------------------------------------
  // teardown: spec §6.6 (synchronous for every variant in the emulator)

  #teardown(vm: EmuVm): void {
    if (vm.torn) return;
    vm.torn = true;
    this.#sync(vm);
    const vmid = vm.st.vmid;
    const rm = this.#client;
    const status = (): number | undefined => (vmid === undefined ? undefined : this.#rm.vm(vmid)?.status);
    const attempt = (f: () => void): void => {
      try {
        f();
      } catch {
        /* teardown goes on; the RM log shows the refusal */
      }
    };
    if (vmid !== undefined && (status() === RM_VM_STATUS.RUNNING || status() === RM_VM_STATUS.PAUSED)) {
      attempt(() => rm.call('VM_STOP', { vmid, flags: RM_STOP_FLAGS.FORCE, stopReason: RM_STOP_REASON_FORCE_STOP }));
    }
    setVmStatus(vm.page, vm.page.getUint8(6) === VM_PAGE_STATUS.RUNNING ? VM_PAGE_STATUS.EXITED : vm.page.getUint8(6));
    // functions go, then the KVM VM
    vm.irqAttached.clear();
    vm.ioAttached.clear();
    attempt(() => vm.exec?.close());
    vm.exec = undefined;
    if (vmid !== undefined) {
      const s = status();
      if (s === RM_VM_STATUS.EXITED || s === RM_VM_STATUS.READY || s === RM_VM_STATUS.INIT_FAILED) attempt(() => rm.call('VM_RESET', { vmid }));
      for (const h of vm.st.parcels) attempt(() => rm.call('MEM_RECLAIM', { handle: h, flags: 0 }));
      const s2 = status();
      if (s2 === RM_VM_STATUS.LOAD || s2 === RM_VM_STATUS.RESET) attempt(() => rm.call('VM_DEALLOC_VMID', { vmid }));
      this.#rm.forget(vmid);
    }
    vm.model.bindingsSnapshot = vm.model.bindings.map((x) => x.file as EmuGuestMem);
    vm.model.teardown();
    for (const b of vm.mapped) attempt(() => this.#native.munmap(b));
    for (const v of vm.vcpus) attempt(() => this.#native.munmap(v.buffer));
    this.#vmPages.delete(vm.pageFd);
    attempt(() => this.#native.munmap(vm.pageBuffer));
    attempt(() => this.#native.close(vm.pageFd));
    for (const b of new Set(vm.model.bindingsSnapshot)) {
      const open = [...this.#entries.values()].some((x) => x.kind === 'gmem' && x.file === b);
      if (!open) attempt(() => this.#native.close(b.ownFd));
    }
  }

  #closeAll(): void {
    if (this.#closed) return;
    for (const fd of [...this.#entries.keys()]) {
      try {
        this.close(fd);
      } catch {
        /* keep closing */
      }
    }
    this.#mem.close();
    this.#client.close();
    this.#closed = true;
  }
}

/**
 * Creates an emulated `/dev/gunyah` for `variant` on Linux KVM (arm64).
 *
 * @example
 * ```ts
 * const emu = createEmulator({ variant: 'C' });
 * const gunyah = Gunyah.open({ binding: emu });          // @gunyah-ts/ioctls
 * // … VcpuRunner.start({ vcpus, mmio, workerBinding: emu.workerBinding })
 * emu.close();
 * ```
 * @throws {EmuError} NO_KVM when this machine cannot run guests (see {@link emulatorAvailable});
 *   BAD_OPTIONS for an unknown variant or `cPlus` without C.
 */
export function createEmulator(options: EmulatorOptions): Emulator {
  if (!VARIANTS.has(options.variant)) throw new EmuError('BAD_OPTIONS', `unknown variant ${String(options.variant)}`);
  if (options.cPlus === true && options.variant !== 'C') throw new EmuError('BAD_OPTIONS', 'cPlus applies to variant C only');
  const kvmPath = options.kvmPath ?? '/dev/kvm';
  let executor = options.executor;
  const native = options.binding ?? getBinding();
  if (executor === undefined) {
    const a = emulatorAvailable({ kvmPath });
    if (!a.ok) throw new EmuError('NO_KVM', a.reason);
    executor = new KvmExecutor({ binding: native, kvmPath });
  }
  return new EmulatorImpl(options, native, executor);
}

/** The RM model behind an emulator (tests and tools). @internal */
export function emulatorRm(emu: Emulator): EmuRm {
  if (!(emu instanceof EmulatorImpl)) throw new EmuError('BAD_OPTIONS', 'not an emulator made by createEmulator');
  return emu.rm;
}

/** The RM VM status values, re-exported for README examples. @internal */
export { RM_VM_STATUS };
