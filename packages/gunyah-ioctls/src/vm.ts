/**
 * `Vm`: owner of a VM fd (`GUNYAH_CREATE_VM`). Memory, configuration, functions and start.
 *
 * @module
 */
import {
  AddressRange,
  AuthDesc,
  BOOT_CONTEXT_REG_SET,
  FN_TYPE,
  FnDesc,
  FnIoeventfdArg,
  FnIrqfdArg,
  FnVcpuArg,
  IOEVENTFD_FLAGS,
  IRQFD_FLAGS,
  MEM_FLAGS_B,
  MapCmaMemArgs,
  MapMemArgs,
  QtvmAuthArg,
  USER_MEM_FLAGS,
  UapiError,
  UserspaceMemoryRegion,
  VmBootContext,
  VmDtbConfig,
  VmFirmwareConfig,
  bootContextReg,
  type BindingModule,
  type EncodeInput,
  type GunyahIoctlName,
  type GunyahVariant,
  type MapCmaMemArgs as MapCmaMemArgsValue,
  type QtvmAuthArg as QtvmAuthArgValue,
} from '@gunyah-ts/sys';
import { sysCall } from './backend.js';
import { IoctlsError } from './errors.js';
import { gate, hasFeature, type GunyahFeature, type VariantInfo } from './variant.js';
import { Vcpu } from './vcpu.js';

/** A 64-bit input: `bigint`, or a safe-integer `number`. */
export type U64Input = bigint | number;

/** A user-memory region for `setUserMemRegion` / `lendUserMem` (A, C). */
export interface UserMemRegionInput {
  /** Label (unique per VM in A). */
  readonly label: number;
  /** Guest IPA, page aligned. */
  readonly guestPhysAddr: U64Input;
  /** Bytes, page aligned, non-zero. */
  readonly memorySize: U64Input;
  /** Host address of the backing mapping, page aligned (`addressOf(mapping)`). */
  readonly userspaceAddr: U64Input;
  /** {@link USER_MEM_FLAGS} bits; default RWX. */
  readonly flags?: number;
}

/** An IPA range (DTB config, firmware config, reclaim range). */
export interface GuestRangeInput {
  /** Guest IPA. */
  readonly guestPhysAddr: U64Input;
  /** Bytes. */
  readonly size: U64Input;
}

/** A guest_memfd binding for `mapMem` / `unmapMem` (B). */
export interface MapMemInput {
  /** Guest IPA. */
  readonly guestAddr: U64Input;
  /** The guest_memfd. */
  readonly guestMemFd: number;
  /** Offset into the guest_memfd. */
  readonly offset: U64Input;
  /** Bytes. */
  readonly size: U64Input;
  /** {@link MEM_FLAGS_B} bits (a permission bit is required). */
  readonly flags: number;
}

/** An irqfd: `label` is the doorbell label in the VM's devicetree. */
export interface IrqfdInput {
  /** The eventfd. */
  readonly fd: number;
  /** Doorbell label. */
  readonly label: number;
  /** Level-triggered (default edge). */
  readonly level?: boolean;
}

/** An ioeventfd: writes of `len` bytes at `addr` (matching `datamatch` when given) signal `fd`. */
export interface IoeventfdInput {
  /** Guest IPA (exact match). */
  readonly addr: U64Input;
  /** 0 (any length, no datamatch), 1, 2, 4 or 8. */
  readonly len: 0 | 1 | 2 | 4 | 8;
  /** The eventfd. */
  readonly fd: number;
  /** Match only writes of this value (needs `len` ≥ 1). */
  readonly datamatch?: U64Input;
}

/** Boot-context register sets by name. */
export type BootRegSet = 'x' | 'pc' | 'sp';

/** Guest permissions of a memory range, as letters in order. */
export type GuestMemoryPerms = 'r' | 'w' | 'x' | 'rw' | 'rx' | 'wx' | 'rwx';

/** A guest memory range for {@link Vm.addGuestMemory}. */
export interface GuestMemoryInput {
  /** Guest IPA, page aligned. */
  readonly guestAddr: U64Input;
  /** Bytes, page aligned. */
  readonly size: U64Input;
  /** `share` (host keeps access) or `lend` (host loses access while the VM runs). */
  readonly mode: 'share' | 'lend';
  /** Guest permissions; default `rwx`. */
  readonly perms?: GuestMemoryPerms;
  /** A/C: host address of the backing mapping. */
  readonly hostAddr?: U64Input;
  /** B: the guest_memfd. */
  readonly fd?: number;
  /** B: offset into the guest_memfd (default 0). */
  readonly offset?: U64Input;
  /** A/C: region label (default: the next free label of this `Vm`, from 0). */
  readonly label?: number;
}

/** What {@link Vm.addGuestMemory} issued. */
export interface GuestMemoryPlan {
  /** The ioctl name. */
  readonly op: string;
  /** The label used (A/C). */
  readonly label: number | undefined;
  /** The flags passed. */
  readonly flags: number;
}

function u64(v: U64Input, op: string, what: string): bigint {
  if (typeof v === 'bigint' && v >= 0n && v < 1n << 64n) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new IoctlsError('INVALID_ARGUMENT', op, `${what} must be a u64, got ${String(v)}`);
}

function bytes(dv: DataView): Uint8Array {
  return new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
}

/**
 * A VM. Knows its ABI variant and refuses calls the variant lacks with {@link UnsupportedIoctlError}
 * before any syscall. Owns its fd; vCPUs it creates own theirs.
 *
 * @example
 * ```ts
 * using vm = gunyah.createVm();
 * vm.addGuestMemory({ guestAddr: 0x8000_0000n, size: ram.size, mode: 'share', hostAddr: ram.hostAddress });
 * vm.setDtbConfig({ guestPhysAddr: dtbAddr, size: 0x1000 });
 * if (vm.supports('boot-context')) vm.setBootContext('pc', 0, kernelEntry);
 * const vcpu = vm.addVcpu(0);
 * vm.start();
 * ```
 */
export class Vm {
  /** The backend. */
  readonly binding: BindingModule;
  /** The detected (or declared) variant. */
  readonly info: VariantInfo;
  #fd: number;
  #closed = false;
  #nextLabel = 0;

  /** @internal Use {@link Gunyah.createVm} or {@link Vm.fromRawFd}. */
  constructor(fd: number, info: VariantInfo, binding: BindingModule) {
    this.#fd = fd;
    this.info = info;
    this.binding = binding;
  }

  /** Adopt a VM fd of a VM of variant `info`; the object owns and closes it. */
  static fromRawFd(fd: number, info: VariantInfo, binding: BindingModule): Vm {
    return new Vm(fd, info, binding);
  }

  /** The fd (−1 after close). */
  get fd(): number {
    return this.#fd;
  }

  /** The ABI variant. */
  get variant(): GunyahVariant {
    return this.info.variant;
  }

  /** Whether this VM's kernel has `feature` (spec §8). */
  supports(feature: GunyahFeature): boolean {
    return hasFeature(this.info, feature);
  }

  #ioctl(name: GunyahIoctlName, arg?: number | bigint | Uint8Array): number {
    const { spec, op } = gate(this.info, name);
    return sysCall(op, () => this.binding.ioctl(this.#fd, spec.request, arg));
  }

  #encode<T>(op: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof UapiError) throw new IoctlsError('INVALID_ARGUMENT', op, e.message, { cause: e });
      throw e;
    }
  }

  #region(name: 'SET_USER_MEM_REGION' | 'ANDROID_LEND_USER_MEM', r: UserMemRegionInput): void {
    const { op } = gate(this.info, name);
    const buf = this.#encode(op, () =>
      UserspaceMemoryRegion.encode({
        label: r.label,
        flags: r.flags ?? USER_MEM_FLAGS.ALLOW_RWX,
        guestPhysAddr: r.guestPhysAddr,
        memorySize: r.memorySize,
        userspaceAddr: r.userspaceAddr,
      }),
    );
    this.#ioctl(name, bytes(buf));
    this.#nextLabel = Math.max(this.#nextLabel, r.label + 1);
  }

  /**
   * Share a host range with the guest. Wraps `GH_VM_SET_USER_MEM_REGION` (A, C).
   *
   * @throws {UnsupportedIoctlError} ENOTTY in B
   * @throws {ErrnoError} EINVAL (flags, alignment), EEXIST (overlap; A: label), EOVERFLOW, EFAULT (A: unmapped), EPERM
   */
  setUserMemRegion(region: UserMemRegionInput): void {
    this.#region('SET_USER_MEM_REGION', region);
  }

  /**
   * Lend a host range to the guest (the host loses access while lent). Wraps `GH_VM_ANDROID_LEND_USER_MEM` (A, C).
   *
   * @throws {UnsupportedIoctlError} ENOTTY in B
   * @throws {ErrnoError} as {@link Vm.setUserMemRegion}
   */
  lendUserMem(region: UserMemRegionInput): void {
    this.#region('ANDROID_LEND_USER_MEM', region);
  }

  /**
   * Bind a guest_memfd range at a guest address. Wraps `GUNYAH_VM_MAP_MEM` (B).
   *
   * @throws {UnsupportedIoctlError} ENOTTY in A and C
   * @throws {ErrnoError} EINVAL (flags, alignment, fd), EEXIST (overlap or range already bound)
   */
  mapMem(args: MapMemInput): void {
    const { op } = gate(this.info, 'MAP_MEM');
    const buf = this.#encode(op, () => MapMemArgs.encode(args));
    this.#ioctl('MAP_MEM', bytes(buf));
  }

  /**
   * Remove (part of) a binding: `GUNYAH_VM_MAP_MEM` with `GUNYAH_MEM_UNMAP` and the binding's flags (B).
   *
   * @throws {UnsupportedIoctlError} ENOTTY in A and C
   * @throws {ErrnoError} ENOENT (no such binding), EINVAL (hole in the middle)
   */
  unmapMem(args: MapMemInput): void {
    this.mapMem({ ...args, flags: args.flags | MEM_FLAGS_B.UNMAP });
  }

  /**
   * Register guest memory, choosing the ioctl for the variant: A/C `share` →
   * `GH_VM_SET_USER_MEM_REGION`, `lend` → `GH_VM_ANDROID_LEND_USER_MEM` (needs `hostAddr`);
   * B → `GUNYAH_VM_MAP_MEM` with FORCE_SHARE/FORCE_LEND and the B permission bits (needs `fd`).
   * In B put the DTB in a `lend` range (v17 as posted fails `VM_START` with ENOMEM for a DTB in a
   * FORCE_SHARE binding, spec §5.3) and unmap it from the host before start. A/C labels default to
   * 0, 1, 2… (A requires them unique per VM).
   *
   * @throws {IoctlsError} INVALID_ARGUMENT when `hostAddr` (A/C) or `fd` (B) is missing
   * @throws {ErrnoError} as the chosen ioctl
   */
  addGuestMemory(m: GuestMemoryInput): GuestMemoryPlan {
    const perms = m.perms ?? 'rwx';
    if (!/^r?w?x?$/.test(perms) || perms.length === 0) throw new IoctlsError('INVALID_ARGUMENT', 'addGuestMemory', `bad perms ${String(perms)}`);
    const r = perms.includes('r');
    const w = perms.includes('w');
    const x = perms.includes('x');
    if (this.info.variant === 'B') {
      if (m.fd === undefined) throw new IoctlsError('INVALID_ARGUMENT', 'addGuestMemory', 'variant B needs the guest_memfd `fd`');
      const flags =
        (r ? MEM_FLAGS_B.ALLOW_READ : 0) |
        (w ? MEM_FLAGS_B.ALLOW_WRITE : 0) |
        (x ? MEM_FLAGS_B.ALLOW_EXEC : 0) |
        (m.mode === 'lend' ? MEM_FLAGS_B.FORCE_LEND : MEM_FLAGS_B.FORCE_SHARE);
      this.mapMem({ guestAddr: m.guestAddr, guestMemFd: m.fd, offset: m.offset ?? 0, size: m.size, flags });
      return { op: 'GUNYAH_VM_MAP_MEM', label: undefined, flags };
    }
    if (m.hostAddr === undefined) throw new IoctlsError('INVALID_ARGUMENT', 'addGuestMemory', `variant ${this.info.variant} needs \`hostAddr\``);
    const flags = (r ? USER_MEM_FLAGS.ALLOW_READ : 0) | (w ? USER_MEM_FLAGS.ALLOW_WRITE : 0) | (x ? USER_MEM_FLAGS.ALLOW_EXEC : 0);
    const label = m.label ?? this.#nextLabel;
    const region = { label, flags, guestPhysAddr: m.guestAddr, memorySize: m.size, userspaceAddr: m.hostAddr };
    if (m.mode === 'lend') this.lendUserMem(region);
    else this.setUserMemRegion(region);
    return { op: m.mode === 'lend' ? 'GH_VM_ANDROID_LEND_USER_MEM' : 'GH_VM_SET_USER_MEM_REGION', label, flags };
  }

  /**
   * Tell the driver where the DTB is (read at start; last call wins). Wraps
   * `GH_VM_SET_DTB_CONFIG` / `GUNYAH_VM_SET_DTB_CONFIG` (A, B, C). B/C want it page aligned, ≥ one page.
   *
   * @throws {ErrnoError} EOVERFLOW, EFAULT
   */
  setDtbConfig(config: GuestRangeInput): void {
    const { op } = gate(this.info, 'SET_DTB_CONFIG');
    this.#ioctl('SET_DTB_CONFIG', bytes(this.#encode(op, () => VmDtbConfig.encode(config))));
  }

  /**
   * Protected-VM firmware region (switches RM auth to Android pVM). Wraps `GH_VM_ANDROID_SET_FW_CONFIG` (A, C).
   *
   * @throws {UnsupportedIoctlError} ENOTTY in B
   * @throws {ErrnoError} EOVERFLOW (C), EFAULT
   */
  setFirmwareConfig(config: GuestRangeInput): void {
    const { op } = gate(this.info, 'ANDROID_SET_FW_CONFIG');
    this.#ioctl('ANDROID_SET_FW_CONFIG', bytes(this.#encode(op, () => VmFirmwareConfig.encode(config))));
  }

  /**
   * Set a register of the boot vCPU before start. Wraps `GUNYAH_VM_SET_BOOT_CONTEXT` (B, C).
   * `x` index 0–31, `pc` index 0, `sp` index 0–2 (the EL). In B a value of 0 may be dropped
   * (spec §5.5 quirk).
   *
   * @throws {UnsupportedIoctlError} ENOTTY in A (load the kernel at offset 0 of the DTB's region instead)
   * @throws {IoctlsError} INVALID_ARGUMENT for an index outside the set's range
   * @throws {ErrnoError} EINVAL (after start)
   */
  setBootContext(regSet: BootRegSet, index: number, value: U64Input): void {
    const { op } = gate(this.info, 'SET_BOOT_CONTEXT');
    const max = regSet === 'x' ? 31 : regSet === 'pc' ? 0 : regSet === 'sp' ? 2 : -1;
    if (!Number.isInteger(index) || index < 0 || index > max) {
      throw new IoctlsError('INVALID_ARGUMENT', op, `index ${index} is outside ${String(regSet)} 0..${max}`);
    }
    const set = regSet === 'x' ? BOOT_CONTEXT_REG_SET.X : regSet === 'pc' ? BOOT_CONTEXT_REG_SET.PC : BOOT_CONTEXT_REG_SET.SP;
    const buf = this.#encode(op, () => VmBootContext.encode({ reg: bootContextReg(set, index), value }));
    this.#ioctl('SET_BOOT_CONTEXT', bytes(buf));
  }

  /**
   * Start the VM (synchronous RM sequence, spec §7). Wraps `GH_VM_START` / `GUNYAH_VM_START` (A, B, C).
   * A failed start is terminal: close the VM and create a new one.
   *
   * @throws {ErrnoError} EINVAL, ENOENT, EPERM, EFAULT, ENOMEM, ENODEV (after exit or failure), RM errors
   */
  start(): void {
    this.#ioctl('VM_START');
  }

  #fn(name: 'ADD_FUNCTION' | 'REMOVE_FUNCTION', type: number, arg: Uint8Array): number {
    const { spec, op } = gate(this.info, name);
    const desc = new Uint8Array(16);
    const dv = new DataView(desc.buffer);
    dv.setUint32(0, type, true);
    dv.setUint32(4, arg.length, true);
    if (arg.length === 0) return sysCall(op, () => this.binding.ioctl(this.#fd, spec.request, desc));
    return sysCall(op, () => this.binding.ioctlWithPtrs(this.#fd, spec.request, desc, [{ offset: FnDesc.fields['arg']!, buffer: arg }]));
  }

  /**
   * Add a function from raw argument bytes (`arg_size` = `arg.length`, `arg` points at them). Wraps
   * `GH_VM_ADD_FUNCTION` / `GUNYAH_VM_ADD_FUNCTION` (A, B, C). Returns the ioctl result (a vCPU fd for type 1).
   *
   * @throws {IoctlsError} INVALID_ARGUMENT when `arg` is longer than 256 bytes
   * @throws {ErrnoError} EINVAL, ENOENT (unknown type), EEXIST, EBADF, EFAULT
   */
  addFunction(type: number, arg: Uint8Array): number {
    if (arg.length > 256) throw new IoctlsError('INVALID_ARGUMENT', 'addFunction', 'arg is longer than 256 bytes');
    return this.#fn('ADD_FUNCTION', type, arg);
  }

  /**
   * Remove every function of `type` matching `arg` (spec §5.8). On the oldest Android 6.1 builds
   * removal is unverified (spec §13 item 8): prefer closing the VM there. Wraps
   * `GH_VM_REMOVE_FUNCTION` / `GUNYAH_VM_REMOVE_FUNCTION` (A, B, C).
   *
   * @throws {ErrnoError} ENOENT when nothing matched
   */
  removeFunction(type: number, arg: Uint8Array): void {
    if (arg.length > 256) throw new IoctlsError('INVALID_ARGUMENT', 'removeFunction', 'arg is longer than 256 bytes');
    this.#fn('REMOVE_FUNCTION', type, arg);
  }

  /**
   * Create vCPU `id` (the RM label; 0..n−1). `ADD_FUNCTION` with a vCPU descriptor (A, B, C).
   *
   * @throws {IoctlsError} INVALID_ARGUMENT when `id` is not a u32
   * @throws {ErrnoError} EEXIST (duplicate id), EINVAL, …
   */
  addVcpu(id: number): Vcpu {
    const { op } = gate(this.info, 'ADD_FUNCTION');
    const arg = bytes(this.#encode(op, () => FnVcpuArg.encode({ id })));
    const fd = this.#fn('ADD_FUNCTION', FN_TYPE.VCPU, arg);
    return new Vcpu(fd, id, this.info, this.binding);
  }

  /**
   * Remove vCPU `id` (its fd stays open; `RUN` returns ENODEV). `REMOVE_FUNCTION` (A, B, C).
   *
   * @throws {ErrnoError} ENOENT
   */
  removeVcpu(id: number): void {
    const { op } = gate(this.info, 'REMOVE_FUNCTION');
    this.#fn('REMOVE_FUNCTION', FN_TYPE.VCPU, bytes(this.#encode(op, () => FnVcpuArg.encode({ id }))));
  }

  #irqfdArg(op: string, i: IrqfdInput): Uint8Array {
    return bytes(this.#encode(op, () => FnIrqfdArg.encode({ fd: i.fd, label: i.label, flags: i.level === true ? IRQFD_FLAGS.LEVEL : 0 })));
  }

  /**
   * Ring doorbell `label` whenever `fd` is written. `ADD_FUNCTION` with an irqfd descriptor (A, B, C).
   * Signals before start are dropped.
   *
   * @throws {ErrnoError} EBADF, EINVAL (not an eventfd), EEXIST (label in use)
   */
  addIrqfd(irqfd: IrqfdInput): void {
    const { op } = gate(this.info, 'ADD_FUNCTION');
    this.#fn('ADD_FUNCTION', FN_TYPE.IRQFD, this.#irqfdArg(op, irqfd));
  }

  /**
   * Remove the irqfd with `label`. `REMOVE_FUNCTION` (A, B, C).
   *
   * @throws {ErrnoError} ENOENT
   */
  removeIrqfd(irqfd: IrqfdInput): void {
    const { op } = gate(this.info, 'REMOVE_FUNCTION');
    this.#fn('REMOVE_FUNCTION', FN_TYPE.IRQFD, this.#irqfdArg(op, irqfd));
  }

  #ioeventfdArg(op: string, i: IoeventfdInput): Uint8Array {
    if (![0, 1, 2, 4, 8].includes(i.len)) throw new IoctlsError('INVALID_ARGUMENT', op, `ioeventfd len must be 0, 1, 2, 4 or 8, got ${String(i.len)}`);
    if (i.datamatch !== undefined && i.len === 0) throw new IoctlsError('INVALID_ARGUMENT', op, 'datamatch needs len 1, 2, 4 or 8');
    const addr = u64(i.addr, op, 'addr');
    const datamatch = i.datamatch === undefined ? 0n : u64(i.datamatch, op, 'datamatch');
    const flags = i.datamatch === undefined ? 0 : IOEVENTFD_FLAGS.DATAMATCH;
    return bytes(this.#encode(op, () => FnIoeventfdArg.encode({ datamatch, addr, len: i.len, fd: i.fd, flags })));
  }

  /**
   * Signal `fd` on guest writes at `addr` instead of an MMIO exit. `ADD_FUNCTION` with an ioeventfd
   * descriptor (A, B, C); the DATAMATCH flag is 1 (spec §10).
   *
   * @throws {IoctlsError} INVALID_ARGUMENT (len, datamatch with len 0)
   * @throws {ErrnoError} EBADF, EINVAL, EEXIST (conflict at that address)
   */
  addIoeventfd(ioeventfd: IoeventfdInput): void {
    const { op } = gate(this.info, 'ADD_FUNCTION');
    this.#fn('ADD_FUNCTION', FN_TYPE.IOEVENTFD, this.#ioeventfdArg(op, ioeventfd));
  }

  /**
   * Remove an ioeventfd; pass exactly what was added (B/C match addr, len, flags and datamatch).
   * `REMOVE_FUNCTION` (A, B, C).
   *
   * @throws {ErrnoError} ENOENT
   */
  removeIoeventfd(ioeventfd: IoeventfdInput): void {
    const { op } = gate(this.info, 'REMOVE_FUNCTION');
    this.#fn('REMOVE_FUNCTION', FN_TYPE.IOEVENTFD, this.#ioeventfdArg(op, ioeventfd));
  }

  /**
   * Unmap and unpin demand-paged memory in a range (bindings remain). Wraps `GH_VM_RECLAIM_REGION` (C+).
   * A zero `size` is refused here (the driver would reclaim everything above `guestPhysAddr`, spec §5.9).
   *
   * @throws {UnsupportedIoctlError} ENOTTY without reclaim support
   * @throws {IoctlsError} INVALID_ARGUMENT when size is 0
   * @throws {ErrnoError} EINVAL (alignment), EPERM, EAGAIN
   */
  reclaimRegion(range: GuestRangeInput): void {
    const { op } = gate(this.info, 'RECLAIM_REGION');
    if (u64(range.size, op, 'size') === 0n) throw new IoctlsError('INVALID_ARGUMENT', op, 'size 0 would reclaim everything above the address');
    this.#ioctl('RECLAIM_REGION', bytes(this.#encode(op, () => AddressRange.encode(range))));
  }

  /**
   * Bind a CMA fd range (lend if `flags & MEM_FLAGS_C.FORCE_LEND`). Wraps `GH_VM_ANDROID_MAP_CMA_MEM` (C+).
   *
   * @throws {UnsupportedIoctlError} ENOTTY outside C+
   * @throws {ErrnoError} EINVAL, EBADF, EOVERFLOW, EEXIST
   */
  mapCmaMem(args: EncodeInput<MapCmaMemArgsValue>): void {
    const { op } = gate(this.info, 'ANDROID_MAP_CMA_MEM');
    this.#ioctl('ANDROID_MAP_CMA_MEM', bytes(this.#encode(op, () => MapCmaMemArgs.encode(args))));
  }

  /**
   * Set the RM authentication type (type 1 = Qualcomm trusted VM with a {@link QtvmAuthArg}). Wraps
   * `GH_VM_ANDROID_SET_AUTH_TYPE` (C+).
   *
   * @throws {UnsupportedIoctlError} ENOTTY outside C+
   * @throws {ErrnoError} ENOENT (unknown type), EINVAL, EOVERFLOW
   */
  setAuthType(type: number, arg?: EncodeInput<QtvmAuthArgValue>): void {
    const { spec, op } = gate(this.info, 'ANDROID_SET_AUTH_TYPE');
    const inner = arg === undefined ? new Uint8Array(0) : bytes(this.#encode(op, () => QtvmAuthArg.encode(arg)));
    const desc = bytes(this.#encode(op, () => AuthDesc.encode({ type, argSize: inner.length, arg: 0n })));
    if (inner.length === 0) sysCall(op, () => this.binding.ioctl(this.#fd, spec.request, desc));
    else sysCall(op, () => this.binding.ioctlWithPtrs(this.#fd, spec.request, desc, [{ offset: 8, buffer: inner }]));
  }

  /**
   * Ask whether capability `cap` is supported (`GUNYAH_CAP`). Wraps `GH_VM_CHECK_EXTENSION` (newest C+).
   * Use {@link Vm.supports}('check-extension') first, or catch `ENOTTY` as "unsupported".
   *
   * @throws {UnsupportedIoctlError} ENOTTY when the kernel has no capability query
   */
  checkExtension(cap: number): boolean {
    if (!Number.isInteger(cap) || cap < 0 || cap > 0xffffffff) throw new IoctlsError('INVALID_ARGUMENT', 'checkExtension', 'cap must be a u32');
    return this.#ioctl('CHECK_EXTENSION', cap) === 1;
  }

  /**
   * Close the VM fd. The VM lives until its vCPU fds are closed too; teardown may block (B/C).
   * Idempotent.
   *
   * @throws {ErrnoError} from `close`
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const fd = this.#fd;
    this.#fd = -1;
    sysCall('close', () => this.binding.close(fd));
  }

  /** Same as {@link Vm.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
