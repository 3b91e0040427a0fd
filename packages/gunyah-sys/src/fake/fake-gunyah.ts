/**
 * The in-memory fake `/dev/gunyah`: a {@link BindingModule} that runs purely in JavaScript and answers
 * like the driver of one variant (rules in {@link GUNYAH_RULES}, state in {@link DriverModel}).
 *
 * @module
 */
import type { BindingModule, IoctlArg, PointerField, SysConstants } from '../binding.js';
import { ErrnoError, errnoValue } from '../errno.js';
import { GUNYAH_IOCTLS, gunyahIoctlByRequest, ioctlAvailable, type GunyahIoctlSpec, type GunyahVariant } from '../uapi/constants.js';
import {
  AddressRange,
  AuthDesc,
  CreateMemArgs,
  FnDesc,
  FnIoeventfdArg,
  FnIrqfdArg,
  FnVcpuArg,
  MapCmaMemArgs,
  MapMemArgs,
  QtvmAuthArg,
  UserspaceMemoryRegion,
  VmBootContext,
  VmDtbConfig,
  VmFirmwareConfig,
} from '../uapi/structs.js';
import { decodeVcpuExit, type VcpuExit } from '../uapi/run-page.js';
import { DriverModel, driverFail, type DriverHost, type VcpuModel } from './driver-model.js';
import { AddressSpace, MemFile, detach, isDetached } from './memory.js';
import { rulesFor, type GunyahDriverRules } from './rules.js';

/** Options of {@link createFakeGunyah}. */
export interface FakeGunyahOptions {
  /** The driver variant to imitate. */
  readonly variant: GunyahVariant;
  /** Newest C trees (reclaim, CMA, auth type, CHECK_EXTENSION); only with variant C. */
  readonly cPlus?: boolean;
  /** Kernel page size; default 4096. */
  readonly pageSize?: number;
  /** Path of the device node; default `/dev/gunyah`. */
  readonly devicePath?: string;
  /**
   * Build the driver model of each new VM (an emulator passes a subclass of {@link DriverModel}).
   * Default: `new DriverModel(rules, host)`.
   */
  readonly createModel?: (rules: GunyahDriverRules, host: DriverHost) => DriverModel;
}

/** One recorded syscall of the fake, with decoded ioctl arguments. */
export interface FakeCallRecord {
  /** Sequence number from 1. */
  readonly seq: number;
  /** The syscall. */
  readonly call: 'open' | 'close' | 'ioctl' | 'mmap' | 'munmap' | 'eventfd' | 'memfd_create' | 'ftruncate';
  /** The fd it was issued on (the result for fd-creating calls is in `result`). */
  readonly fd: number | undefined;
  /** The ioctl name in the variant's spelling, or a description for other calls. */
  readonly name: string;
  /** The request number (ioctl only). */
  readonly request: number | undefined;
  /** Decoded arguments. */
  readonly args: unknown;
  /** The result, when the call succeeded. */
  result: number | undefined;
  /** The errno name, when the call failed. */
  error: string | undefined;
}

type FdEntry =
  | { readonly kind: 'dev' }
  | { readonly kind: 'vm'; readonly model: DriverModel }
  | { readonly kind: 'vcpu'; readonly model: DriverModel; readonly vcpu: VcpuModel }
  | { readonly kind: 'memfd' | 'guest-mem'; readonly file: MemFile }
  | { readonly kind: 'eventfd'; counter: bigint; readonly semaphore: boolean };

const LINUX_CONSTANTS: SysConstants = Object.freeze({
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_CLOEXEC: 0o2000000,
  O_NONBLOCK: 0o4000,
  PROT_NONE: 0,
  PROT_READ: 1,
  PROT_WRITE: 2,
  PROT_EXEC: 4,
  MAP_SHARED: 1,
  MAP_PRIVATE: 2,
  MAP_ANONYMOUS: 0x20,
  MAP_NORESERVE: 0x4000,
  MFD_CLOEXEC: 1,
  MFD_ALLOW_SEALING: 2,
  EFD_CLOEXEC: 0o2000000,
  EFD_NONBLOCK: 0o4000,
  EFD_SEMAPHORE: 1,
  POLLIN: 1,
  POLLOUT: 4,
  POLLERR: 8,
  POLLHUP: 0x10,
});

const EVENTFD_MAX = (1n << 64n) - 2n;

function bytesOf(buf: ArrayBufferView | ArrayBuffer): Uint8Array {
  return buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function u64Arg(v: number | bigint, what: string): bigint {
  const b = typeof v === 'bigint' ? v : Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : -1n;
  if (b < 0n || b >= 1n << 64n) throw new RangeError(`${what} must be a u64`);
  return b;
}

/**
 * The fake kernel. Use {@link createFakeGunyah} to make one; pass it as the `binding` of
 * `@gunyah-ts/ioctls` objects or to `setBinding()`.
 *
 * Deviations from a real kernel, all documented: nothing blocks (an eventfd read with a zero counter
 * fails with `EAGAIN`; `VCPU_RUN` plays the scripted guest and powers the VM off when the script is
 * empty, see {@link DriverModel.idle}); a memory file can be mapped at one range once (the exact
 * same range again returns the same ArrayBuffer, a partial overlap fails with `EINVAL`); the
 * run page can only be mapped at offset 0 with at most one page; creator-process checks (`EPERM`)
 * never trigger (one process).
 */
export class FakeGunyah implements BindingModule {
  /** The rules in force. */
  readonly rules: GunyahDriverRules;
  /** The variant imitated. */
  readonly variant: GunyahVariant;
  /** The kernel page size. */
  readonly page: number;
  /** Every syscall, in order. */
  readonly log: FakeCallRecord[] = [];
  readonly #devicePath: string;
  readonly #fds = new Map<number, FdEntry>();
  readonly #space: AddressSpace;
  readonly #createModel: (rules: GunyahDriverRules, host: DriverHost) => DriverModel;
  readonly #host: DriverHost;
  readonly #models = new Set<DriverModel>();
  #nextFd = 3;
  #nextFileId = 1;

  /**
   * @param options - variant, page size, model factory
   */
  constructor(options: FakeGunyahOptions) {
    if (!['A', 'B', 'C'].includes(options.variant)) throw new RangeError(`unknown variant ${String(options.variant)}`);
    if (options.cPlus === true && options.variant !== 'C') throw new RangeError('cPlus applies to variant C only');
    const ps = options.pageSize ?? 4096;
    if (!Number.isInteger(ps) || ps < 4096 || (ps & (ps - 1)) !== 0) throw new RangeError(`bad page size ${ps}`);
    this.rules = rulesFor(options.variant, options.cPlus ?? false);
    this.variant = options.variant;
    this.page = ps;
    this.#devicePath = options.devicePath ?? '/dev/gunyah';
    this.#space = new AddressSpace(ps);
    this.#createModel = options.createModel ?? ((r, h) => new DriverModel(r, h));
    const self = this;
    this.#host = {
      pageSize: ps,
      isOpenFd: (fd) => self.#fds.has(fd),
      isEventfd: (fd) => self.#fds.get(fd)?.kind === 'eventfd',
      signalEventfd: (fd) => {
        const e = self.#fds.get(fd);
        if (e?.kind === 'eventfd' && e.counter < EVENTFD_MAX) e.counter += 1n;
      },
      isUserRangeMapped: (addr, size) => self.#space.resolve(addr, size) !== undefined,
      readUser: (addr, size) => self.#space.resolve(addr, BigInt(size))?.slice(),
      guestMem: (fd) => {
        const e = self.#fds.get(fd);
        return e?.kind === 'guest-mem' ? e.file : undefined;
      },
    };
  }

  // -------------------------------------------------------------------------------------------
  // test hooks

  /** The driver model of a VM fd (or of the VM a vCPU fd belongs to). */
  vm(fd: number): DriverModel {
    const e = this.#fds.get(fd);
    if (e?.kind === 'vm' || e?.kind === 'vcpu') return e.model;
    throw new RangeError(`fd ${fd} is not a fake VM or vCPU fd`);
  }

  /** The driver state of a vCPU fd. */
  vcpu(fd: number): VcpuModel {
    const e = this.#fds.get(fd);
    if (e?.kind === 'vcpu') return e.vcpu;
    throw new RangeError(`fd ${fd} is not a fake vCPU fd`);
  }

  /** Every VM model alive (not torn down). */
  get models(): readonly DriverModel[] {
    return [...this.#models];
  }

  /** The number of open fds (leak checks). */
  get openFdCount(): number {
    return this.#fds.size;
  }

  /** The counter of an eventfd (without reading it). */
  eventfdCounter(fd: number): bigint {
    const e = this.#fds.get(fd);
    if (e?.kind !== 'eventfd') throw new RangeError(`fd ${fd} is not a fake eventfd`);
    return e.counter;
  }

  /** The log as text, one call a line (`ioctl(4, GUNYAH_VM_START) = 0`). */
  formatLog(): string {
    return this.log.map(formatCall).join('\n');
  }

  // -------------------------------------------------------------------------------------------
  // BindingModule

  #record(call: FakeCallRecord['call'], fd: number | undefined, name: string, request: number | undefined, args: unknown): FakeCallRecord {
    const r: FakeCallRecord = { seq: this.log.length + 1, call, fd, name, request, args, result: undefined, error: undefined };
    this.log.push(r);
    return r;
  }

  #run<T extends number | void>(r: FakeCallRecord, fn: () => T): T {
    try {
      const v = fn();
      r.result = typeof v === 'number' ? v : 0;
      return v;
    } catch (e) {
      r.error = e instanceof ErrnoError ? e.code : e instanceof Error ? e.name : String(e);
      throw e;
    }
  }

  #alloc(entry: FdEntry): number {
    const fd = this.#nextFd++;
    this.#fds.set(fd, entry);
    return fd;
  }

  #entry(fd: number, syscall: string): FdEntry {
    const e = Number.isInteger(fd) ? this.#fds.get(fd) : undefined;
    if (e === undefined) driverFail('EBADF', syscall);
    return e;
  }

  /** `open`: only the device path exists. */
  open(path: string, _flags: number, _mode?: number): number {
    const r = this.#record('open', undefined, path, undefined, { path });
    return this.#run(r, () => {
      if (path !== this.#devicePath) driverFail('ENOENT', 'open');
      return this.#alloc({ kind: 'dev' });
    });
  }

  /** `close`: the VM is torn down when its fd and all its vCPU fds are closed. */
  close(fd: number): void {
    const r = this.#record('close', fd, 'close', undefined, undefined);
    this.#run(r, () => {
      const e = this.#entry(fd, 'close');
      this.#fds.delete(fd);
      if (e.kind === 'vm' || e.kind === 'vcpu') {
        const still = [...this.#fds.values()].some((x) => (x.kind === 'vm' || x.kind === 'vcpu') && x.model === e.model);
        if (!still) {
          e.model.teardown();
          this.#models.delete(e.model);
        }
      }
    });
  }

  /** `ioctl`: dispatched by fd kind and request, with the variant's rules. */
  ioctl(fd: number, request: number, arg?: IoctlArg): number {
    const spec = gunyahIoctlByRequest(request);
    const r = this.#record('ioctl', fd, spec ? this.#spelling(spec) : `0x${(request >>> 0).toString(16)}`, request, undefined);
    return this.#run(r, () => this.#ioctl(r, fd, spec, arg));
  }

  /** `ioctl` after writing the fake addresses of `ptrs` into `buf`. */
  ioctlWithPtrs(fd: number, request: number, buf: ArrayBufferView | ArrayBuffer, ptrs: readonly PointerField[]): number {
    const outer = bytesOf(buf);
    const dv = new DataView(outer.buffer, outer.byteOffset, outer.byteLength);
    for (const p of ptrs) {
      if (!Number.isInteger(p.offset) || p.offset < 0 || p.offset + 8 > outer.length) {
        throw new RangeError('ptrs[].offset must leave room for 8 bytes inside buf');
      }
      dv.setBigUint64(p.offset, this.addressOf(p.buffer), true);
    }
    return this.ioctl(fd, request, buf);
  }

  #spelling(spec: GunyahIoctlSpec): string {
    const gunyah = spec.names.find((n) => n.startsWith('GUNYAH_'));
    const gh = spec.names.find((n) => n.startsWith('GH_'));
    if (this.variant === 'A') return gh ?? spec.names[0]!;
    return gunyah ?? gh ?? spec.names[0]!;
  }

  /** Copy `size` bytes of an ioctl argument (a buffer, or an address in the fake space). */
  #copyIn(arg: IoctlArg, size: number): Uint8Array {
    if (arg === undefined) driverFail('EFAULT');
    if (typeof arg === 'number' || typeof arg === 'bigint') {
      const addr = typeof arg === 'bigint' ? arg : BigInt(arg);
      const b = this.#space.resolve(addr, BigInt(size));
      if (b === undefined) driverFail('EFAULT');
      return b.slice();
    }
    const b = bytesOf(arg);
    if (isDetached(b.buffer) || b.length < size) driverFail('EFAULT');
    return b.slice(0, size);
  }

  #ioctl(r: FakeCallRecord, fd: number, spec: GunyahIoctlSpec | undefined, arg: IoctlArg): number {
    const e = this.#entry(fd, 'ioctl');
    const setArgs = (a: unknown): void => {
      (r as { args: unknown }).args = a;
    };
    const has = (s: GunyahIoctlSpec): boolean => ioctlAvailable(s.name, this.rules.variant, this.rules.cPlus);
    if (e.kind === 'dev') {
      if (spec === GUNYAH_IOCTLS.CREATE_VM) {
        const v = arg === undefined ? 0n : typeof arg === 'number' || typeof arg === 'bigint' ? BigInt(arg) : 1n;
        setArgs(v);
        if (v !== 0n) driverFail('EINVAL');
        const model = this.#createModel(this.rules, this.#host);
        this.#models.add(model);
        return this.#alloc({ kind: 'vm', model });
      }
      if (spec === GUNYAH_IOCTLS.CREATE_GUEST_MEM && has(spec)) {
        const a = CreateMemArgs.decode(this.#copyIn(arg, 64));
        setArgs(a);
        if (a.size % BigInt(this.page) !== 0n || (a.flags & ~3n) !== 0n) driverFail('EINVAL');
        return this.#alloc({ kind: 'guest-mem', file: new MemFile(this.#nextFileId++, this.page, a.size, true, a.flags) });
      }
      driverFail('ENOTTY');
    }
    if (e.kind === 'vcpu') {
      if (spec === GUNYAH_IOCTLS.VCPU_MMAP_SIZE) return this.page;
      if (spec === GUNYAH_IOCTLS.VCPU_RUN) {
        setArgs({ vcpu: e.vcpu.id });
        const result = e.model.run(e.vcpu);
        setArgs({ vcpu: e.vcpu.id, exit: describeExit(decodeVcpuExit(new DataView(e.vcpu.runPage), this.variant)) });
        return result;
      }
      driverFail(this.rules.unknownVcpuIoctlErrno);
    }
    if (e.kind !== 'vm' || spec === undefined || spec.fd !== 'vm' || !has(spec)) driverFail('ENOTTY');
    const m = e.model;
    switch (spec.name) {
      case 'SET_USER_MEM_REGION':
      case 'ANDROID_LEND_USER_MEM': {
        const a = UserspaceMemoryRegion.decode(this.#copyIn(arg, 32));
        setArgs(a);
        m.setUserMemRegion(a, spec.name === 'SET_USER_MEM_REGION' ? 'share' : 'lend');
        return 0;
      }
      case 'SET_DTB_CONFIG': {
        const a = VmDtbConfig.decode(this.#copyIn(arg, 16));
        setArgs(a);
        m.setDtbConfig(a);
        return 0;
      }
      case 'ANDROID_SET_FW_CONFIG': {
        const a = VmFirmwareConfig.decode(this.#copyIn(arg, 16));
        setArgs(a);
        m.setFirmwareConfig(a);
        return 0;
      }
      case 'SET_BOOT_CONTEXT': {
        const a = VmBootContext.decode(this.#copyIn(arg, 16));
        setArgs(a);
        m.setBootContext(a);
        return 0;
      }
      case 'MAP_MEM': {
        const a = MapMemArgs.decode(this.#copyIn(arg, 32));
        setArgs(a);
        m.mapMem(a);
        return 0;
      }
      case 'VM_START':
        m.start();
        return 0;
      case 'ADD_FUNCTION':
      case 'REMOVE_FUNCTION': {
        const d = FnDesc.decode(this.#copyIn(arg, 16));
        if (d.argSize > 256) {
          setArgs(d);
          driverFail('EINVAL');
        }
        const argBytes = d.argSize === 0 ? new Uint8Array(0) : this.#copyIn(d.arg, d.argSize);
        setArgs({ ...d, decoded: decodeFnArg(d.type, argBytes) });
        if (spec.name === 'REMOVE_FUNCTION') {
          m.removeFunction(d.type, argBytes);
          return 0;
        }
        const v = m.addFunction(d.type, argBytes);
        return v === undefined ? 0 : this.#alloc({ kind: 'vcpu', model: m, vcpu: v });
      }
      case 'RECLAIM_REGION': {
        const a = AddressRange.decode(this.#copyIn(arg, 16));
        setArgs(a);
        m.reclaimRegion(a);
        return 0;
      }
      case 'ANDROID_MAP_CMA_MEM': {
        const a = MapCmaMemArgs.decode(this.#copyIn(arg, 40));
        setArgs(a);
        if (a.size === 0n || a.size % BigInt(this.page) !== 0n || a.guestAddr % BigInt(this.page) !== 0n) driverFail('EINVAL');
        if (a.guestAddr + a.size > 1n << 64n) driverFail('EOVERFLOW');
        if (!this.#fds.has(a.guestMemFd)) driverFail('EBADF');
        driverFail('EINVAL'); // the fake has no CMA pools, so no fd is a CMA fd
      }
      // falls through (unreachable)
      case 'ANDROID_SET_AUTH_TYPE': {
        const d = AuthDesc.decode(this.#copyIn(arg, 16));
        let qtvm: ReturnType<typeof QtvmAuthArg.decode> | undefined;
        if (d.type === 1 && d.argSize > 0 && d.argSize <= 24) {
          const raw = new Uint8Array(24);
          raw.set(this.#copyIn(d.arg, d.argSize));
          qtvm = QtvmAuthArg.decode(raw);
        }
        setArgs({ ...d, decoded: qtvm });
        m.setAuthType(d.type, d.argSize, qtvm);
        return 0;
      }
      case 'CHECK_EXTENSION': {
        const cap = typeof arg === 'number' || typeof arg === 'bigint' ? BigInt(arg) : -1n;
        setArgs(cap);
        return cap === 0n ? 1 : 0;
      }
      default:
        driverFail('ENOTTY');
    }
  }

  /** `mmap`: vCPU run pages, memfds and guest_memfds. */
  mmap(fd: number, length: number | bigint, prot: number, flags: number, offset: number | bigint): ArrayBuffer {
    const len = Number(u64Arg(length, 'length'));
    const off = Number(u64Arg(offset, 'offset'));
    if (len === 0) throw new RangeError('length must be greater than zero');
    const r = this.#record('mmap', fd, 'mmap', undefined, { length: len, prot, flags, offset: off });
    let result: ArrayBuffer | undefined;
    this.#run(r, () => {
      const e = this.#entry(fd, 'mmap');
      if ((flags & LINUX_CONSTANTS.MAP_SHARED) === 0 && e.kind !== 'memfd') driverFail('EINVAL', 'mmap');
      if (e.kind === 'vcpu') {
        if (off !== 0 || len > this.page) driverFail('EINVAL', 'mmap');
        if (isDetached(e.vcpu.runPage)) e.vcpu.runPage = new ArrayBuffer(this.page);
        result = e.vcpu.runPage;
        this.#space.addressOf(result);
        return 0;
      }
      if (e.kind === 'memfd' || e.kind === 'guest-mem') {
        if (e.kind === 'guest-mem' && BigInt(off + len) > e.file.size) driverFail('EINVAL', 'mmap');
        result = e.file.map(off, len);
        this.#space.addressOf(result);
        this.#mapped.set(result, e.file);
        return 0;
      }
      driverFail('ENODEV', 'mmap');
    });
    return result!;
  }

  readonly #mapped = new Map<ArrayBuffer, MemFile>();

  /** `munmap`: detach the buffer; memory files keep their bytes. */
  munmap(buffer: ArrayBuffer): void {
    const r = this.#record('munmap', undefined, 'munmap', undefined, { length: buffer.byteLength });
    this.#run(r, () => {
      const file = this.#mapped.get(buffer);
      if (file) {
        this.#mapped.delete(buffer);
        file.unmap(buffer);
        return;
      }
      for (const e of this.#fds.values()) {
        if (e.kind === 'vcpu' && e.vcpu.runPage === buffer) {
          e.vcpu.runPage = detach(buffer);
          return;
        }
      }
      driverFail('EINVAL', 'munmap');
    });
  }

  /** A stable fake address for the buffer's first byte. */
  addressOf(buffer: ArrayBufferView | ArrayBuffer): bigint {
    if (buffer instanceof ArrayBuffer) return this.#space.addressOf(buffer);
    return this.#space.addressOf(buffer.buffer) + BigInt(buffer.byteOffset);
  }

  /** `memfd_create`. */
  memfdCreate(name: string, flags: number): number {
    const r = this.#record('memfd_create', undefined, name, undefined, { name, flags });
    return this.#run(r, () => this.#alloc({ kind: 'memfd', file: new MemFile(this.#nextFileId++, this.page, 0n, false) }));
  }

  /** `ftruncate` on a memfd. */
  ftruncate(fd: number, length: number | bigint): void {
    const r = this.#record('ftruncate', fd, 'ftruncate', undefined, { length });
    this.#run(r, () => {
      const e = this.#entry(fd, 'ftruncate');
      if (e.kind !== 'memfd') driverFail('EINVAL', 'ftruncate');
      e.file.size = u64Arg(length, 'length');
    });
  }

  /** `read`: eventfds (never blocks: `EAGAIN` at zero) and memory files. */
  read(fd: number, buffer: ArrayBufferView | ArrayBuffer): number {
    const e = this.#entry(fd, 'read');
    const out = bytesOf(buffer);
    if (e.kind === 'eventfd') {
      if (out.length < 8) driverFail('EINVAL', 'read');
      if (e.counter === 0n) driverFail('EAGAIN', 'read');
      const v = e.semaphore ? 1n : e.counter;
      e.counter -= v;
      new DataView(out.buffer, out.byteOffset, 8).setBigUint64(0, v, true);
      return 8;
    }
    if (e.kind === 'memfd' || e.kind === 'guest-mem') return e.file.read(0, out);
    driverFail('EINVAL', 'read');
  }

  /** `write`: eventfds (ringing irqfds) and memory files. */
  write(fd: number, buffer: ArrayBufferView | ArrayBuffer): number {
    const e = this.#entry(fd, 'write');
    const data = bytesOf(buffer);
    if (e.kind === 'eventfd') {
      if (data.length < 8) driverFail('EINVAL', 'write');
      const v = new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true);
      if (v === (1n << 64n) - 1n) driverFail('EINVAL', 'write');
      if (e.counter + v > EVENTFD_MAX) driverFail('EAGAIN', 'write');
      e.counter += v;
      if (e.counter > 0n) {
        for (const m of this.#models) {
          if (m.ringIrqfd(fd)) e.counter = 0n;
        }
      }
      return 8;
    }
    if (e.kind === 'memfd' || e.kind === 'guest-mem') return e.file.write(0, data);
    driverFail('EINVAL', 'write');
  }

  /** `pread` on memory files. */
  pread(fd: number, buffer: ArrayBufferView | ArrayBuffer, position: number | bigint): number {
    const e = this.#entry(fd, 'pread');
    if (e.kind !== 'memfd' && e.kind !== 'guest-mem') driverFail('ESPIPE', 'pread');
    return e.file.read(Number(u64Arg(position, 'position')), bytesOf(buffer));
  }

  /** `pwrite` on memory files. */
  pwrite(fd: number, buffer: ArrayBufferView | ArrayBuffer, position: number | bigint): number {
    const e = this.#entry(fd, 'pwrite');
    if (e.kind !== 'memfd' && e.kind !== 'guest-mem') driverFail('ESPIPE', 'pwrite');
    return e.file.write(Number(u64Arg(position, 'position')), bytesOf(buffer));
  }

  /** `eventfd`. */
  eventfd(initval: number, flags: number): number {
    const r = this.#record('eventfd', undefined, 'eventfd', undefined, { initval, flags });
    return this.#run(r, () => {
      if (!Number.isInteger(initval) || initval < 0) throw new RangeError('initval must be non-negative');
      return this.#alloc({ kind: 'eventfd', counter: BigInt(initval), semaphore: (flags & LINUX_CONSTANTS.EFD_SEMAPHORE) !== 0 });
    });
  }

  /** `poll` on one fd (never waits). */
  poll(fd: number, events: number, _timeoutMs: number): number {
    const e = this.#entry(fd, 'poll');
    const ready = e.kind === 'eventfd' ? (e.counter > 0n ? LINUX_CONSTANTS.POLLIN : 0) | LINUX_CONSTANTS.POLLOUT : LINUX_CONSTANTS.POLLIN | LINUX_CONSTANTS.POLLOUT;
    return ready & (events | LINUX_CONSTANTS.POLLERR | LINUX_CONSTANTS.POLLHUP);
  }

  /** The configured page size. */
  pageSize(): number {
    return this.page;
  }

  /** SIGRTMIN+2 on glibc (the fake has no signals). */
  kickSignal(): number {
    return 36;
  }

  /** The only thread of the fake. */
  currentThread(): bigint {
    return 1n;
  }

  /** Nothing blocks in the fake, so a kick only checks its token. */
  kick(thread: bigint): void {
    if (thread !== 1n) throw new ErrnoError(errnoValue('ESRCH') ?? 3, 'pthread_kill');
  }

  /** Linux's values (identical on x86-64 and arm64). */
  constants(): SysConstants {
    return LINUX_CONSTANTS;
  }
}

function decodeFnArg(type: number, b: Uint8Array): unknown {
  try {
    if (type === 1 && b.length === 4) return FnVcpuArg.decode(b);
    if (type === 2 && b.length === 16) return FnIrqfdArg.decode(b);
    if (type === 3 && b.length === 32) return FnIoeventfdArg.decode(b);
  } catch {
    /* fall through */
  }
  return undefined;
}

function describeExit(e: VcpuExit): string {
  switch (e.kind) {
    case 'mmio':
      return `mmio ${e.isWrite ? 'write' : 'read'} 0x${e.addr.toString(16)}/${e.len}${e.isWrite ? ` = 0x${e.data.toString(16)}` : ''}`;
    case 'page-fault':
      return `page-fault 0x${e.addr.toString(16)} attempt ${e.attempt}`;
    case 'unknown':
    case 'interrupted':
      return e.kind;
    default:
      return `${e.kind} (status ${e.status}, type ${e.exitType})`;
  }
}

function show(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return `[${[...v].join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{ ${Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${k}: ${show(x)}`)
      .join(', ')} }`;
  }
  return JSON.stringify(v);
}

/** One log line: `ioctl(4, GUNYAH_VM_SET_DTB_CONFIG, { guestPhysAddr: 0x… }) = 0` or `= -EINVAL`. */
export function formatCall(r: FakeCallRecord): string {
  const outcome = r.error !== undefined ? `-${r.error}` : String(r.result);
  const a = show(r.args);
  switch (r.call) {
    case 'ioctl':
      return `ioctl(${r.fd}, ${r.name}${a ? `, ${a}` : ''}) = ${outcome}`;
    case 'open':
      return `open("${r.name}", O_RDWR|O_CLOEXEC) = ${outcome}`;
    case 'close':
      return `close(${r.fd}) = ${outcome}`;
    case 'mmap':
      return `mmap(${r.fd}, ${a}) = ${r.error !== undefined ? `-${r.error}` : 'ok'}`;
    default:
      return `${r.call}(${r.fd !== undefined ? `${r.fd}, ` : ''}${a}) = ${outcome}`;
  }
}

/**
 * Create a fake `/dev/gunyah` for `variant`.
 *
 * @example
 * ```ts
 * const fake = createFakeGunyah({ variant: 'C' });
 * const gunyah = Gunyah.open({ binding: fake }); // @gunyah-ts/ioctls
 * ```
 */
export function createFakeGunyah(options: FakeGunyahOptions): FakeGunyah {
  return new FakeGunyah(options);
}
