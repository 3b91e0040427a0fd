/**
 * `Gunyah`: owner of the `/dev/gunyah` fd. Detects the ABI variant and creates VMs (and, in B, guest_memfds).
 *
 * @module
 */
import { CreateMemArgs, GUEST_MEM_FLAGS, GUNYAH_IOCTLS, UapiError, type BindingModule, type GunyahVariant } from '@gunyah-ts/sys';
import { resolveBackend, sysCall } from './backend.js';
import { IoctlsError } from './errors.js';
import { GuestMemfd } from './guest-memfd.js';
import { detectVariant, gate, variantInfo, type VariantInfo } from './variant.js';
import { Vm } from './vm.js';

/** Options of {@link Gunyah.open}. */
export interface GunyahOpenOptions {
  /** Device path; default `/dev/gunyah`. */
  readonly path?: string;
  /** The backend (native addon by default; the fake or an emulator otherwise). */
  readonly binding?: BindingModule;
  /** `auto` (default) probes the kernel (spec §9); a letter skips probing. */
  readonly variant?: 'auto' | GunyahVariant;
  /** With an explicit variant C: the kernel has the C+ extras. */
  readonly cPlus?: boolean;
}

/** Options of {@link Gunyah.createGuestMem}. */
export interface GuestMemOptions {
  /** Close-on-exec (`GHMF_CLOEXEC`); default true. */
  readonly cloexec?: boolean;
  /** Allow huge pages (`GHMF_ALLOW_HUGEPAGE`; bindings must then be PMD aligned); default false. */
  readonly hugepage?: boolean;
}

/**
 * The Gunyah device. Children (VMs, vCPUs, guest_memfds) inherit its backend and variant.
 *
 * @example
 * ```ts
 * using gunyah = Gunyah.open();                 // native addon, probes the variant
 * console.log(gunyah.variant);                  // 'C'
 * using vm = gunyah.createVm();
 * ```
 * @example
 * ```ts
 * import { createFakeGunyah } from '@gunyah-ts/sys/fake';
 * using gunyah = Gunyah.open({ binding: createFakeGunyah({ variant: 'B' }) });
 * ```
 */
export class Gunyah {
  /** The backend. */
  readonly binding: BindingModule;
  /** The variant and C+ extras. */
  readonly info: VariantInfo;
  #fd: number;
  #closed = false;

  /** @internal Use {@link Gunyah.open} or {@link Gunyah.fromRawFd}. */
  constructor(fd: number, info: VariantInfo, binding: BindingModule) {
    this.#fd = fd;
    this.info = info;
    this.binding = binding;
  }

  /**
   * Open the device and detect (or take) the variant.
   *
   * @throws {ErrnoError} ENOENT (no device), EACCES, … (op `open`); errors of the probe VM
   * @throws {IoctlsError} DETECTION_FAILED
   * @throws {BindingLoadError} when no backend is given and the native addon is missing
   */
  static open(options: GunyahOpenOptions = {}): Gunyah {
    const binding = resolveBackend(options.binding);
    const path = options.path ?? '/dev/gunyah';
    const fd = sysCall('open', () => binding.open(path, binding.constants().O_RDWR));
    try {
      return Gunyah.fromRawFd(fd, { binding, variant: options.variant ?? 'auto', cPlus: options.cPlus ?? false });
    } catch (e) {
      try {
        binding.close(fd);
      } catch {
        /* keep the original error */
      }
      throw e;
    }
  }

  /**
   * Adopt an open `/dev/gunyah` fd; the object owns and closes it. `variant: 'auto'` probes.
   *
   * @throws {IoctlsError} DETECTION_FAILED, INVALID_ARGUMENT (unknown variant letter)
   */
  static fromRawFd(fd: number, options: { binding?: BindingModule; variant?: 'auto' | GunyahVariant; cPlus?: boolean } = {}): Gunyah {
    const binding = resolveBackend(options.binding);
    const v = options.variant ?? 'auto';
    const info = v === 'auto' ? detectVariant(binding, fd) : variantInfo(v, options.cPlus ?? false);
    return new Gunyah(fd, info, binding);
  }

  /** The fd (−1 after close). */
  get fd(): number {
    return this.#fd;
  }

  /** The ABI variant. */
  get variant(): GunyahVariant {
    return this.info.variant;
  }

  /**
   * Create a VM. Wraps `GH_CREATE_VM` / `GUNYAH_CREATE_VM` (A, B, C) with argument 0.
   *
   * @throws {ErrnoError} ENOMEM, EMFILE, EBADF
   */
  createVm(): Vm {
    const { spec, op } = gate(this.info, 'CREATE_VM');
    const fd = sysCall(op, () => this.binding.ioctl(this.#fd, spec.request, 0));
    return new Vm(fd, this.info, this.binding);
  }

  /**
   * Create a guest_memfd of `size` bytes (page aligned). Wraps `GUNYAH_CREATE_GUEST_MEM` (B only).
   *
   * @throws {UnsupportedIoctlError} ENOTTY in A and C
   * @throws {IoctlsError} INVALID_ARGUMENT when size is not a u64
   * @throws {ErrnoError} EINVAL (unaligned size, flags)
   */
  createGuestMem(size: bigint | number, options: GuestMemOptions = {}): GuestMemfd {
    const { op } = gate(this.info, 'CREATE_GUEST_MEM');
    const flags = (options.cloexec === false ? 0 : GUEST_MEM_FLAGS.CLOEXEC) | (options.hugepage === true ? GUEST_MEM_FLAGS.ALLOW_HUGEPAGE : 0);
    let buf: DataView;
    try {
      buf = CreateMemArgs.encode({ flags: BigInt(flags), size });
    } catch (e) {
      if (e instanceof UapiError) throw new IoctlsError('INVALID_ARGUMENT', op, e.message, { cause: e });
      throw e;
    }
    const fd = sysCall(op, () => this.binding.ioctl(this.#fd, GUNYAH_IOCTLS.CREATE_GUEST_MEM.request, new Uint8Array(buf.buffer)));
    return new GuestMemfd(fd, BigInt(size), this.binding);
  }

  /** Close the device fd (VMs stay valid). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const fd = this.#fd;
    this.#fd = -1;
    sysCall('close', () => this.binding.close(fd));
  }

  /** Same as {@link Gunyah.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
