/**
 * Typed wrappers over Linux KVM on arm64: `Kvm` (the `/dev/kvm` system fd), `KvmVm`, `KvmVcpu`
 * and `KvmDevice`. Each class owns one fd; every ioctl goes through an injectable
 * {@link @gunyah-ts/sys!BindingModule} so the classes run against a fake in unit tests and the
 * native addon on a real arm64 host.
 *
 * @module
 */

import { ErrnoError, getBinding, type BindingModule, type IoctlArg } from '@gunyah-ts/sys';
import {
  KVM_API_VERSION,
  KVM_ARM_VCPU_FEATURE,
  KVM_ARM_VM_SMCCC_CTRL,
  KVM_ARM_VM_SMCCC_FILTER,
  KVM_DEV_ARM_VGIC_CTRL_INIT,
  KVM_DEV_ARM_VGIC_GRP,
  KVM_DEV_TYPE,
  KVM_IOEVENTFD_FLAG,
  KVM_IRQFD_FLAG,
  KVM_MEM,
  KVM_REQUEST,
  KVM_SMCCC_FILTER_ACTION,
  KVM_VGIC_V3_ADDR_TYPE,
  VGIC_V3_DIST_SIZE,
  VGIC_V3_REDIST_SIZE_PER_CPU,
  type SmcccFilterAction,
} from './constants.js';
import { KvmError } from './errors.js';
import { ARM64_CORE_REG, regSize, xReg } from './regs.js';
import { decodeExit, KvmRunView, type KvmExit } from './run.js';
import {
  checkU32,
  CreateDeviceCodec,
  DeviceAttrCodec,
  IoeventfdCodec,
  IrqfdCodec,
  OneRegCodec,
  SmcccFilterCodec,
  toU64,
  UserspaceMemoryRegionCodec,
  VcpuInitCodec,
  type VcpuInit,
} from './structs.js';

/** The default path of the KVM device. */
export const KVM_DEVICE_PATH = '/dev/kvm';

/** Options shared by the `fromRawFd` constructors. */
export interface KvmBindingOptions {
  /** The syscall binding (default: `getBinding()` from `@gunyah-ts/sys`). */
  readonly binding?: BindingModule;
}

/**
 * Base of the KVM fd owners: the fd, the binding, `close()` and `[Symbol.dispose]()`.
 */
export abstract class KvmFdOwner {
  /** The syscall binding every call goes through. */
  readonly binding: BindingModule;
  readonly #fd: number;
  readonly #owned: boolean;
  #closed = false;

  /**
   * @param fd - the fd
   * @param binding - the syscall binding
   * @param owned - whether {@link close} closes the fd
   */
  protected constructor(fd: number, binding: BindingModule, owned: boolean) {
    this.#fd = fd;
    this.binding = binding;
    this.#owned = owned;
  }

  /**
   * The file descriptor.
   *
   * @throws {KvmError} CLOSED after {@link close}
   */
  get fd(): number {
    if (this.#closed) throw new KvmError('CLOSED', `${this.constructor.name} is closed`);
    return this.#fd;
  }

  /** Whether {@link close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Close the fd (when owned). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.onClose();
    } finally {
      if (this.#owned) {
        try {
          this.binding.close(this.#fd);
        } catch (e) {
          throw ErrnoError.from(e, 'close');
        }
      }
    }
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Release what the subclass holds besides the fd. */
  protected onClose(): void {}

  /** `ioctl(fd, request, arg)` with errors converted to `ErrnoError` carrying `op`. */
  protected ioctl(request: number, arg: IoctlArg, op: string): number {
    const fd = this.fd;
    try {
      return this.binding.ioctl(fd, request, arg);
    } catch (e) {
      throw ErrnoError.from(e, op);
    }
  }

  /** `ioctl` with a `kvm_one_reg`/`kvm_device_attr`-style pointer at `ptrOffset`. */
  protected ioctlPtr(request: number, buf: Uint8Array, ptrOffset: number, inner: Uint8Array, op: string): number {
    const fd = this.fd;
    try {
      return this.binding.ioctlWithPtrs(fd, request, buf, [{ offset: ptrOffset, buffer: inner }]);
    } catch (e) {
      throw ErrnoError.from(e, op);
    }
  }

  /** `KVM_SET/GET/HAS_DEVICE_ATTR` on this fd; `value` is the buffer `addr` points at (or none). */
  protected deviceAttr(request: number, group: number, attr: bigint | number, value: Uint8Array | undefined, op: string): number {
    const buf = DeviceAttrCodec.encode({ flags: 0, group: checkU32(group, 'group'), attr: toU64(attr, 'attr'), addr: 0n });
    return value === undefined ? this.ioctl(request, buf, op) : this.ioctlPtr(request, buf, DeviceAttrCodec.addrOffset, value, op);
  }
}

function u64Bytes(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

// =============================================================================================

/** Options of {@link Kvm.open}. */
export interface KvmOpenOptions extends KvmBindingOptions {
  /** Device path (default `/dev/kvm`). */
  readonly path?: string;
}

/** How many times {@link Kvm.createVm} retries a `KVM_CREATE_VM` interrupted by a signal (`EINTR`). */
export const CREATE_VM_EINTR_RETRIES = 16;

/**
 * The KVM system fd (`/dev/kvm`).
 *
 * @example
 * ```ts
 * using kvm = Kvm.open();
 * using vm = kvm.createVm();
 * ```
 */
export class Kvm extends KvmFdOwner {
  #mmapSize: number | undefined;

  private constructor(fd: number, binding: BindingModule, owned: boolean) {
    super(fd, binding, owned);
  }

  /**
   * Open `/dev/kvm` and check that it speaks API version 12.
   *
   * @throws {ErrnoError} ENOENT/EACCES from `open`
   * @throws {KvmError} API_VERSION when the kernel reports another version
   */
  static open(options: KvmOpenOptions = {}): Kvm {
    const binding = options.binding ?? getBinding();
    let fd: number;
    try {
      fd = binding.open(options.path ?? KVM_DEVICE_PATH, binding.constants().O_RDWR);
    } catch (e) {
      throw ErrnoError.from(e, 'open');
    }
    const kvm = new Kvm(fd, binding, true);
    let version: number;
    try {
      version = kvm.apiVersion();
    } catch (e) {
      kvm.close();
      throw e;
    }
    if (version !== KVM_API_VERSION) {
      kvm.close();
      throw new KvmError('API_VERSION', `KVM API version ${version}, expected ${KVM_API_VERSION}`);
    }
    return kvm;
  }

  /**
   * Wrap an existing `/dev/kvm` fd; the object takes ownership (closes it).
   */
  static fromRawFd(fd: number, options: KvmBindingOptions = {}): Kvm {
    return new Kvm(fd, options.binding ?? getBinding(), true);
  }

  /**
   * Wraps `KVM_GET_API_VERSION`.
   *
   * @throws {ErrnoError} on failure
   */
  apiVersion(): number {
    return this.ioctl(KVM_REQUEST.GET_API_VERSION, 0, 'KVM_GET_API_VERSION');
  }

  /**
   * Wraps `KVM_CHECK_EXTENSION` on the system fd: 0 when unsupported, else a capability-specific
   * positive value.
   *
   * @throws {ErrnoError} on failure
   */
  checkExtension(cap: number): number {
    return this.ioctl(KVM_REQUEST.CHECK_EXTENSION, checkU32(cap, 'cap'), 'KVM_CHECK_EXTENSION');
  }

  /**
   * Wraps `KVM_GET_VCPU_MMAP_SIZE` (cached): the size to mmap on a vCPU fd for `kvm_run`.
   *
   * @throws {ErrnoError} on failure
   */
  vcpuMmapSize(): number {
    this.#mmapSize ??= this.ioctl(KVM_REQUEST.GET_VCPU_MMAP_SIZE, 0, 'KVM_GET_VCPU_MMAP_SIZE');
    return this.#mmapSize;
  }

  /**
   * Wraps `KVM_CREATE_VM`.
   *
   * `EINTR` (a signal arrived while the kernel set the VM up, e.g. `SIGPROF` under `--cpu-prof`)
   * is retried, up to {@link CREATE_VM_EINTR_RETRIES} times.
   *
   * @param options.ipaBits - guest-physical address size (32…52); default: the kernel's 40 bits
   * @throws {KvmError} BAD_ARGUMENT for an invalid `ipaBits`
   * @throws {ErrnoError} on failure (`EINTR` only after every retry was interrupted)
   */
  createVm(options: { readonly ipaBits?: number } = {}): KvmVm {
    let type = 0;
    if (options.ipaBits !== undefined) {
      if (!Number.isInteger(options.ipaBits) || options.ipaBits < 32 || options.ipaBits > 52) {
        throw new KvmError('BAD_ARGUMENT', `ipaBits must be 32..52, got ${String(options.ipaBits)}`);
      }
      type = options.ipaBits;
    }
    const mmapSize = this.vcpuMmapSize();
    for (let attempt = 0; ; attempt++) {
      try {
        const fd = this.ioctl(KVM_REQUEST.CREATE_VM, type, 'KVM_CREATE_VM');
        return KvmVm.fromRawFd(fd, { binding: this.binding, vcpuMmapSize: mmapSize });
      } catch (e) {
        if (!(e instanceof ErrnoError && e.code === 'EINTR') || attempt >= CREATE_VM_EINTR_RETRIES) throw e;
      }
    }
  }
}

// =============================================================================================

/**
 * A KVM device fd (`KVM_CREATE_DEVICE`), for example the vGICv3.
 */
export class KvmDevice extends KvmFdOwner {
  /** The `KVM_DEV_TYPE` it was created with. */
  readonly type: number;

  private constructor(fd: number, type: number, binding: BindingModule, owned: boolean) {
    super(fd, binding, owned);
    this.type = type;
  }

  /**
   * Wrap an existing device fd; the object takes ownership.
   */
  static fromRawFd(fd: number, type: number, options: KvmBindingOptions = {}): KvmDevice {
    return new KvmDevice(fd, type, options.binding ?? getBinding(), true);
  }

  /**
   * Wraps `KVM_SET_DEVICE_ATTR`; `value` is the buffer `addr` points at (omit for none).
   *
   * @throws {ErrnoError} on failure
   */
  setAttr(group: number, attr: bigint | number, value?: Uint8Array): void {
    this.deviceAttr(KVM_REQUEST.SET_DEVICE_ATTR, group, attr, value, 'KVM_SET_DEVICE_ATTR');
  }

  /**
   * Wraps `KVM_GET_DEVICE_ATTR`: reads `size` bytes.
   *
   * @throws {ErrnoError} on failure
   */
  getAttr(group: number, attr: bigint | number, size: number): Uint8Array {
    const out = new Uint8Array(size);
    this.deviceAttr(KVM_REQUEST.GET_DEVICE_ATTR, group, attr, out, 'KVM_GET_DEVICE_ATTR');
    return out;
  }

  /**
   * Wraps `KVM_HAS_DEVICE_ATTR`: true when the attribute exists; `ENXIO` gives false.
   *
   * @throws {ErrnoError} any other errno
   */
  hasAttr(group: number, attr: bigint | number): boolean {
    try {
      this.deviceAttr(KVM_REQUEST.HAS_DEVICE_ATTR, group, attr, undefined, 'KVM_HAS_DEVICE_ATTR');
      return true;
    } catch (e) {
      if (e instanceof ErrnoError && e.code === 'ENXIO') return false;
      throw e;
    }
  }
}

// =============================================================================================

/** Arguments of {@link KvmVm.setUserMemoryRegion}. */
export interface MemoryRegionOptions {
  /** Slot number. */
  readonly slot: number;
  /** Guest-physical base (page-aligned). */
  readonly guestPhysAddr: bigint | number;
  /** Size in bytes (page multiple; 0 deletes the slot). */
  readonly size: bigint | number;
  /** Host virtual address of the backing memory (page-aligned; see `addressOf`). */
  readonly userspaceAddr: bigint | number;
  /** Make guest writes exit as MMIO. */
  readonly readonly?: boolean;
  /** Track dirty pages. */
  readonly logDirtyPages?: boolean;
}

/** Arguments of {@link KvmVm.createVgicV3}. */
export interface VgicV3Options {
  /** Distributor base (64 KiB-aligned; 64 KiB long). */
  readonly distBase: bigint | number;
  /** Redistributor base (64 KiB-aligned; 128 KiB per vCPU). */
  readonly redistBase: bigint | number;
  /** Number of interrupts including the 32 private ones: a multiple of 32 in 64…1024. */
  readonly nrIrqs: number;
}

/** Arguments of {@link KvmVm.irqfd}. */
export interface IrqfdOptions {
  /** The eventfd. */
  readonly fd: number;
  /** The SPI number (the GSI under KVM's default arm64 routing; INTID = 32 + spi). */
  readonly spi: number;
  /** Remove instead of add. */
  readonly deassign?: boolean;
  /** A resample eventfd for a level-triggered line. */
  readonly resampleFd?: number;
}

/** Arguments of {@link KvmVm.ioeventfd}. */
export interface IoeventfdOptions {
  /** Guest-physical address. */
  readonly addr: bigint | number;
  /** Access length: 0 (any), 1, 2, 4 or 8. */
  readonly len: number;
  /** The eventfd. */
  readonly fd: number;
  /** Only signal when the written value equals this. */
  readonly datamatch?: bigint | number;
  /** Remove instead of add. */
  readonly deassign?: boolean;
}

/** Arguments of {@link KvmVm.setSmcccFilter}. */
export interface SmcccFilterOptions {
  /** First SMCCC function id. */
  readonly base: number;
  /** Number of function ids (≥ 1). */
  readonly count: number;
  /** What KVM does with calls in the range. */
  readonly action: SmcccFilterAction;
}

/** Options of {@link KvmVm.fromRawFd}. */
export interface KvmVmFromRawFdOptions extends KvmBindingOptions {
  /** `KVM_GET_VCPU_MMAP_SIZE` of the system fd, for the vCPUs this VM creates. */
  readonly vcpuMmapSize: number;
}

function checkAlign(v: bigint, align: bigint, what: string): void {
  if (v % align !== 0n) throw new KvmError('BAD_ARGUMENT', `${what} 0x${v.toString(16)} is not aligned to 0x${align.toString(16)}`);
}

/**
 * A KVM VM fd. Closing it does not close the vCPUs it created (each owns its fd); it closes the
 * vGIC device it created.
 */
export class KvmVm extends KvmFdOwner {
  /** `KVM_GET_VCPU_MMAP_SIZE`, passed to the vCPUs. */
  readonly vcpuMmapSize: number;
  readonly #vcpuIds = new Set<number>();
  #vgic: { device: KvmDevice; distBase: bigint; redistBase: bigint; initialized: boolean } | undefined;

  private constructor(fd: number, binding: BindingModule, vcpuMmapSize: number) {
    super(fd, binding, true);
    this.vcpuMmapSize = vcpuMmapSize;
  }

  /**
   * Wrap an existing VM fd; the object takes ownership.
   *
   * @throws {KvmError} BAD_ARGUMENT when `vcpuMmapSize` is not a positive integer
   */
  static fromRawFd(fd: number, options: KvmVmFromRawFdOptions): KvmVm {
    if (!Number.isSafeInteger(options.vcpuMmapSize) || options.vcpuMmapSize <= 0) {
      throw new KvmError('BAD_ARGUMENT', `vcpuMmapSize must be a positive integer, got ${String(options.vcpuMmapSize)}`);
    }
    return new KvmVm(fd, options.binding ?? getBinding(), options.vcpuMmapSize);
  }

  protected override onClose(): void {
    this.#vgic?.device.close();
    this.#vgic = undefined;
  }

  /**
   * Wraps `KVM_CHECK_EXTENSION` on the VM fd (some capabilities answer per VM).
   *
   * @throws {ErrnoError} on failure
   */
  checkExtension(cap: number): number {
    return this.ioctl(KVM_REQUEST.CHECK_EXTENSION, checkU32(cap, 'cap'), 'KVM_CHECK_EXTENSION');
  }

  /**
   * Wraps `KVM_SET_USER_MEMORY_REGION`.
   *
   * @throws {KvmError} BAD_ARGUMENT for a field out of range
   * @throws {ErrnoError} EINVAL (misaligned, overlapping), EEXIST, …
   */
  setUserMemoryRegion(r: MemoryRegionOptions): void {
    const flags = (r.readonly === true ? KVM_MEM.READONLY : 0) | (r.logDirtyPages === true ? KVM_MEM.LOG_DIRTY_PAGES : 0);
    const buf = UserspaceMemoryRegionCodec.encode({
      slot: r.slot,
      flags,
      guestPhysAddr: toU64(r.guestPhysAddr, 'guestPhysAddr'),
      memorySize: toU64(r.size, 'size'),
      userspaceAddr: toU64(r.userspaceAddr, 'userspaceAddr'),
    });
    this.ioctl(KVM_REQUEST.SET_USER_MEMORY_REGION, buf, 'KVM_SET_USER_MEMORY_REGION');
  }

  /**
   * Wraps `KVM_ARM_PREFERRED_TARGET`.
   *
   * @throws {ErrnoError} on failure
   */
  preferredTarget(): VcpuInit {
    const buf = new Uint8Array(VcpuInitCodec.size);
    this.ioctl(KVM_REQUEST.ARM_PREFERRED_TARGET, buf, 'KVM_ARM_PREFERRED_TARGET');
    return VcpuInitCodec.decode(buf);
  }

  /**
   * Wraps `KVM_CREATE_VCPU`. Create every vCPU before {@link initVgic}.
   *
   * @throws {KvmError} BAD_ARGUMENT for a bad or duplicate id; BAD_STATE after {@link initVgic}
   * @throws {ErrnoError} on failure
   */
  createVcpu(id: number): KvmVcpu {
    checkU32(id, 'vcpu id');
    if (this.#vcpuIds.has(id)) throw new KvmError('BAD_ARGUMENT', `vCPU ${id} already exists`);
    if (this.#vgic?.initialized === true) throw new KvmError('BAD_STATE', 'vCPUs must be created before the vGIC is initialised');
    const fd = this.ioctl(KVM_REQUEST.CREATE_VCPU, id, 'KVM_CREATE_VCPU');
    this.#vcpuIds.add(id);
    return KvmVcpu.fromRawFd(fd, { binding: this.binding, mmapSize: this.vcpuMmapSize, id, vm: this });
  }

  /** Number of vCPUs created through this object. */
  get vcpuCount(): number {
    return this.#vcpuIds.size;
  }

  /**
   * Wraps `KVM_CREATE_DEVICE`.
   *
   * @throws {ErrnoError} ENODEV (type unknown), EEXIST (already created), …
   */
  createDevice(type: number): KvmDevice {
    const buf = CreateDeviceCodec.encode({ type, fd: 0, flags: 0 });
    this.ioctl(KVM_REQUEST.CREATE_DEVICE, buf, 'KVM_CREATE_DEVICE');
    const { fd } = CreateDeviceCodec.decode(buf);
    return KvmDevice.fromRawFd(fd, type, { binding: this.binding });
  }

  /**
   * Create a GICv3 and set its distributor and redistributor bases and its interrupt count
   * (`KVM_CREATE_DEVICE`, then `KVM_SET_DEVICE_ATTR` in groups `ADDR` (DIST, REDIST) and
   * `NR_IRQS`). Call {@link initVgic} once every vCPU exists.
   *
   * @throws {KvmError} BAD_ARGUMENT (alignment, `nrIrqs`), BAD_STATE (a vGIC exists)
   * @throws {ErrnoError} on failure
   */
  createVgicV3(o: VgicV3Options): KvmDevice {
    if (this.#vgic !== undefined) throw new KvmError('BAD_STATE', 'this VM already has a vGIC');
    const distBase = toU64(o.distBase, 'distBase');
    const redistBase = toU64(o.redistBase, 'redistBase');
    checkAlign(distBase, 0x1_0000n, 'distBase');
    checkAlign(redistBase, 0x1_0000n, 'redistBase');
    if (!Number.isInteger(o.nrIrqs) || o.nrIrqs < 64 || o.nrIrqs > 1024 || o.nrIrqs % 32 !== 0) {
      throw new KvmError('BAD_ARGUMENT', `nrIrqs must be a multiple of 32 in 64..1024, got ${String(o.nrIrqs)}`);
    }
    const device = this.createDevice(KVM_DEV_TYPE.ARM_VGIC_V3);
    try {
      device.setAttr(KVM_DEV_ARM_VGIC_GRP.ADDR, KVM_VGIC_V3_ADDR_TYPE.DIST, u64Bytes(distBase));
      device.setAttr(KVM_DEV_ARM_VGIC_GRP.ADDR, KVM_VGIC_V3_ADDR_TYPE.REDIST, u64Bytes(redistBase));
      device.setAttr(KVM_DEV_ARM_VGIC_GRP.NR_IRQS, 0, u32Bytes(o.nrIrqs));
    } catch (e) {
      device.close();
      throw e;
    }
    this.#vgic = { device, distBase, redistBase, initialized: false };
    return device;
  }

  /**
   * Initialise the vGIC (`KVM_DEV_ARM_VGIC_GRP_CTRL` / `CTRL_INIT`). Checks first that the
   * redistributors of the vCPUs created so far do not overlap the distributor.
   *
   * @throws {KvmError} BAD_STATE (no vGIC, already initialised, no vCPU), BAD_ARGUMENT (overlap)
   * @throws {ErrnoError} on failure
   */
  initVgic(): void {
    const g = this.#vgic;
    if (g === undefined) throw new KvmError('BAD_STATE', 'createVgicV3 first');
    if (g.initialized) throw new KvmError('BAD_STATE', 'the vGIC is already initialised');
    if (this.#vcpuIds.size === 0) throw new KvmError('BAD_STATE', 'create the vCPUs before initialising the vGIC');
    const redistEnd = g.redistBase + BigInt(VGIC_V3_REDIST_SIZE_PER_CPU * this.#vcpuIds.size);
    const distEnd = g.distBase + BigInt(VGIC_V3_DIST_SIZE);
    if (g.redistBase < distEnd && g.distBase < redistEnd) {
      throw new KvmError('BAD_ARGUMENT', `redistributors [0x${g.redistBase.toString(16)}, 0x${redistEnd.toString(16)}) overlap the distributor`);
    }
    g.device.setAttr(KVM_DEV_ARM_VGIC_GRP.CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT);
    g.initialized = true;
  }

  /**
   * Wraps `KVM_IRQFD`: signalling `fd` raises SPI `spi` (edge), or with `deassign` removes it.
   *
   * @throws {KvmError} BAD_ARGUMENT for a bad field
   * @throws {ErrnoError} EINVAL (no in-kernel GIC / SPI out of range), EBUSY (already assigned), …
   */
  irqfd(o: IrqfdOptions): void {
    const flags = (o.deassign === true ? KVM_IRQFD_FLAG.DEASSIGN : 0) | (o.resampleFd !== undefined ? KVM_IRQFD_FLAG.RESAMPLE : 0);
    const buf = IrqfdCodec.encode({ fd: o.fd, gsi: o.spi, flags, resamplefd: o.resampleFd ?? 0 });
    this.ioctl(KVM_REQUEST.IRQFD, buf, 'KVM_IRQFD');
  }

  /**
   * Wraps `KVM_IOEVENTFD` (MMIO): a guest write of `len` bytes at `addr` (matching `datamatch`
   * when given) signals `fd` instead of exiting.
   *
   * @throws {KvmError} BAD_ARGUMENT for a bad length or field
   * @throws {ErrnoError} EEXIST (duplicate), ENOENT (deassign of an unknown entry), …
   */
  ioeventfd(o: IoeventfdOptions): void {
    if (![0, 1, 2, 4, 8].includes(o.len)) throw new KvmError('BAD_ARGUMENT', `ioeventfd len must be 0, 1, 2, 4 or 8, got ${String(o.len)}`);
    if (o.len === 0 && o.datamatch !== undefined) throw new KvmError('BAD_ARGUMENT', 'datamatch needs a non-zero len');
    const flags = (o.datamatch !== undefined ? KVM_IOEVENTFD_FLAG.DATAMATCH : 0) | (o.deassign === true ? KVM_IOEVENTFD_FLAG.DEASSIGN : 0);
    const buf = IoeventfdCodec.encode({
      datamatch: o.datamatch === undefined ? 0n : toU64(o.datamatch, 'datamatch'),
      addr: toU64(o.addr, 'addr'),
      len: o.len,
      fd: o.fd,
      flags,
    });
    this.ioctl(KVM_REQUEST.IOEVENTFD, buf, 'KVM_IOEVENTFD');
  }

  /**
   * Whether the kernel has the arm64 SMCCC filter (`KVM_HAS_DEVICE_ATTR` on the VM fd, group
   * `KVM_ARM_VM_SMCCC_CTRL`, attr `FILTER`; Linux ≥ 6.4).
   *
   * @throws {ErrnoError} an errno other than ENXIO/ENOTTY/EINVAL
   */
  hasSmcccFilter(): boolean {
    try {
      this.deviceAttr(KVM_REQUEST.HAS_DEVICE_ATTR, KVM_ARM_VM_SMCCC_CTRL, KVM_ARM_VM_SMCCC_FILTER, undefined, 'KVM_HAS_DEVICE_ATTR');
      return true;
    } catch (e) {
      if (e instanceof ErrnoError && (e.code === 'ENXIO' || e.code === 'ENOTTY' || e.code === 'EINVAL')) return false;
      throw e;
    }
  }

  /**
   * Install an SMCCC filter range (`KVM_SET_DEVICE_ATTR` on the VM fd with a `kvm_smccc_filter`).
   * With `'forward'`, guest calls in the range exit as `KVM_EXIT_HYPERCALL` (see
   * {@link KvmVcpu.completeHypercall}). Ranges must be set before the first `KVM_RUN`; KVM
   * rejects ranges overlapping each other or the Arm architecture range (EEXIST).
   *
   * @throws {KvmError} UNSUPPORTED (kernel < 6.4), BAD_ARGUMENT (empty range, wraps past 2^32)
   * @throws {ErrnoError} EEXIST (overlap), EBUSY (the VM has run), …
   */
  setSmcccFilter(o: SmcccFilterOptions): void {
    checkU32(o.base, 'base');
    if (!Number.isInteger(o.count) || o.count < 1 || o.base + o.count - 1 > 0xffff_ffff) {
      throw new KvmError('BAD_ARGUMENT', `SMCCC filter count must be ≥ 1 and stay below 2^32, got base ${o.base} count ${String(o.count)}`);
    }
    const action = (KVM_SMCCC_FILTER_ACTION as Record<string, number | undefined>)[o.action];
    if (action === undefined || !Object.hasOwn(KVM_SMCCC_FILTER_ACTION, o.action)) {
      throw new KvmError('BAD_ARGUMENT', `unknown SMCCC filter action ${String(o.action)}`);
    }
    if (!this.hasSmcccFilter()) throw new KvmError('UNSUPPORTED', 'this kernel has no KVM SMCCC filter (needs Linux 6.4 or later)');
    const value = SmcccFilterCodec.encode({ base: o.base, nrFunctions: o.count, action });
    this.deviceAttr(KVM_REQUEST.SET_DEVICE_ATTR, KVM_ARM_VM_SMCCC_CTRL, KVM_ARM_VM_SMCCC_FILTER, value, 'KVM_SET_DEVICE_ATTR');
  }
}

// =============================================================================================

/** Options of {@link KvmVcpu.fromRawFd}. */
export interface KvmVcpuFromRawFdOptions extends KvmBindingOptions {
  /** `KVM_GET_VCPU_MMAP_SIZE`. */
  readonly mmapSize: number;
  /** The vCPU id, when known. */
  readonly id?: number;
  /** Close the fd on {@link KvmVcpu.close} (default true; false for a borrowed fd, e.g. in a worker). */
  readonly owned?: boolean;
  /** The VM, for {@link KvmVcpu.init} without an explicit target. */
  readonly vm?: KvmVm;
}

/** Options of {@link KvmVcpu.init}. */
export interface VcpuInitOptions {
  /** Start powered off (a secondary waiting for PSCI CPU_ON). Default false. */
  readonly powerOff?: boolean;
  /** Enable PSCI 0.2+ (needed for SYSTEM_OFF). Default true. */
  readonly psci02?: boolean;
  /** The CPU target; default from `KVM_ARM_PREFERRED_TARGET` on the VM. */
  readonly target?: number;
}

/**
 * A KVM vCPU fd with its `kvm_run` mapping. `run()` blocks the calling thread while the guest runs:
 * call it on a worker, or on the main thread in tests.
 *
 * Stopping a running vCPU from another thread: set `immediate_exit` (a second mapping of the same
 * fd made with {@link KvmVcpu.fromRawFd} in that thread, `runView().immediateExit = 1`), then
 * `kick(thread)`; `run()` returns `{ kind: 'interrupted' }`. `run()` never clears `immediate_exit`:
 * the owner of the run loop does, before entering again.
 */
export class KvmVcpu extends KvmFdOwner {
  /** The vCPU id (−1 when unknown). */
  readonly id: number;
  /** Size of the `kvm_run` mapping. */
  readonly mmapSize: number;
  readonly #vm: KvmVm | undefined;
  #run: KvmRunView | undefined;
  #pendingReadLen = 0;

  private constructor(fd: number, binding: BindingModule, owned: boolean, mmapSize: number, id: number, vm: KvmVm | undefined) {
    super(fd, binding, owned);
    this.mmapSize = mmapSize;
    this.id = id;
    this.#vm = vm;
  }

  /**
   * Wrap an existing vCPU fd.
   *
   * @throws {KvmError} BAD_ARGUMENT when `mmapSize` is not a positive integer
   */
  static fromRawFd(fd: number, options: KvmVcpuFromRawFdOptions): KvmVcpu {
    if (!Number.isSafeInteger(options.mmapSize) || options.mmapSize <= 0) {
      throw new KvmError('BAD_ARGUMENT', `mmapSize must be a positive integer, got ${String(options.mmapSize)}`);
    }
    return new KvmVcpu(fd, options.binding ?? getBinding(), options.owned ?? true, options.mmapSize, options.id ?? -1, options.vm);
  }

  protected override onClose(): void {
    const r = this.#run;
    this.#run = undefined;
    if (r !== undefined && r.buffer.byteLength > 0) this.binding.munmap(r.buffer);
  }

  /**
   * Wraps `KVM_ARM_VCPU_INIT` (with `KVM_ARM_PREFERRED_TARGET` for the target).
   *
   * @throws {KvmError} BAD_STATE when no target is given and the vCPU has no VM
   * @throws {ErrnoError} on failure
   */
  init(options: VcpuInitOptions = {}): void {
    let target = options.target;
    if (target === undefined) {
      if (this.#vm === undefined) throw new KvmError('BAD_STATE', 'init needs a target when the vCPU was not created through KvmVm');
      target = this.#vm.preferredTarget().target;
    }
    const f0 = (options.powerOff === true ? 1 << KVM_ARM_VCPU_FEATURE.POWER_OFF : 0) | (options.psci02 !== false ? 1 << KVM_ARM_VCPU_FEATURE.PSCI_0_2 : 0);
    this.ioctl(KVM_REQUEST.ARM_VCPU_INIT, VcpuInitCodec.encode({ target, features: [f0] }), 'KVM_ARM_VCPU_INIT');
  }

  /**
   * Wraps `KVM_GET_ONE_REG`: the register's value as an unsigned little-endian integer.
   *
   * @throws {KvmError} BAD_ARGUMENT when the id's size field is above 256 bytes
   * @throws {ErrnoError} ENOENT (no such register), …
   */
  getReg(id: bigint): bigint {
    const value = new Uint8Array(checkRegSize(id));
    this.ioctlPtr(KVM_REQUEST.GET_ONE_REG, OneRegCodec.encode({ id, addr: 0n }), OneRegCodec.addrOffset, value, 'KVM_GET_ONE_REG');
    let v = 0n;
    for (let i = value.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(value[i] ?? 0);
    return v;
  }

  /**
   * Wraps `KVM_SET_ONE_REG`.
   *
   * @throws {KvmError} BAD_ARGUMENT when `value` does not fit the register
   * @throws {ErrnoError} ENOENT (no such register), …
   */
  setReg(id: bigint, value: bigint): void {
    const size = checkRegSize(id);
    if (typeof value !== 'bigint' || value < 0n || value >= 1n << BigInt(8 * size)) {
      throw new KvmError('BAD_ARGUMENT', `value ${String(value)} does not fit a ${size}-byte register`);
    }
    const bytes = new Uint8Array(size);
    let v = value;
    for (let i = 0; i < size; i++) {
      bytes[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    this.ioctlPtr(KVM_REQUEST.SET_ONE_REG, OneRegCodec.encode({ id, addr: 0n }), OneRegCodec.addrOffset, bytes, 'KVM_SET_ONE_REG');
  }

  /** Set `pc`. */
  setPc(value: bigint | number): void {
    this.setReg(ARM64_CORE_REG.PC, toU64(value, 'pc'));
  }

  /** Read `pc`. */
  getPc(): bigint {
    return this.getReg(ARM64_CORE_REG.PC);
  }

  /** Set `x<n>` (0…30). */
  setX(n: number, value: bigint | number): void {
    this.setReg(xReg(n), toU64(value, `x${n}`));
  }

  /** Read `x<n>` (0…30). */
  getX(n: number): bigint {
    return this.getReg(xReg(n));
  }

  /**
   * The live view over this vCPU's `kvm_run` (mapped on first use, unmapped by {@link close}).
   *
   * @throws {ErrnoError} from `mmap`
   */
  runView(): KvmRunView {
    if (this.#run === undefined) {
      const fd = this.fd;
      const c = this.binding.constants();
      let buf: ArrayBuffer;
      try {
        buf = this.binding.mmap(fd, this.mmapSize, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
      } catch (e) {
        throw ErrnoError.from(e, 'mmap kvm_run');
      }
      this.#run = new KvmRunView(buf);
    }
    return this.#run;
  }

  /**
   * Wraps `KVM_RUN`: enters the guest and returns the decoded exit. `EINTR` (a kick, or
   * `immediate_exit`) gives `{ kind: 'interrupted' }`.
   *
   * @throws {ErrnoError} any other errno
   * @throws {KvmRunError} when the run page holds impossible values
   */
  run(): KvmExit {
    const run = this.runView();
    this.#pendingReadLen = 0;
    try {
      this.ioctl(KVM_REQUEST.RUN, 0, 'KVM_RUN');
    } catch (e) {
      if (e instanceof ErrnoError && e.code === 'EINTR') return { kind: 'interrupted' };
      throw e;
    }
    const exit = decodeExit(run);
    if (exit.kind === 'mmio' && !exit.isWrite) this.#pendingReadLen = exit.len;
    return exit;
  }

  /**
   * Answer the guest MMIO read of the last exit: `value` becomes the loaded data on the next
   * {@link run}.
   *
   * @throws {KvmError} BAD_STATE when the last exit was not an MMIO read; BAD_ARGUMENT when the
   *   value does not fit the access
   */
  completeMmioRead(value: bigint | number): void {
    if (this.#pendingReadLen === 0) throw new KvmError('BAD_STATE', 'the last exit was not an MMIO read');
    this.runView().setMmioData(typeof value === 'number' ? toU64(value, 'value') : value, this.#pendingReadLen);
    this.#pendingReadLen = 0;
  }

  /**
   * Answer a forwarded SMCCC call: set `x0…x<n-1>` to `results` (at most 18, SMCCC 1.2).
   * The PC already points after the `hvc`/`smc`.
   *
   * @throws {KvmError} BAD_ARGUMENT for more than 18 results or a value out of range
   * @throws {ErrnoError} from `KVM_SET_ONE_REG`
   */
  completeHypercall(results: readonly (bigint | number)[]): void {
    if (results.length > 18) throw new KvmError('BAD_ARGUMENT', `at most 18 SMCCC result registers, got ${results.length}`);
    results.forEach((v, i) => this.setX(i, v));
  }
}

function checkRegSize(id: bigint): number {
  const id64 = toU64(id, 'register id');
  const size = regSize(id64);
  if (size > 256) throw new KvmError('BAD_ARGUMENT', `register size ${size} is not supported`);
  return size;
}
