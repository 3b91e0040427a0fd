/**
 * `Vcpu`: owner of a vCPU fd (created by `GUNYAH_VM_ADD_FUNCTION` with a vCPU descriptor).
 *
 * @module
 */
import {
  EXIT_REASON,
  VCPU_RUN_SIZE,
  VcpuRunPage,
  ErrnoError,
  type BindingModule,
  type ResumeActionName,
  type VcpuExit,
} from '@gunyah-ts/sys';
import { sysCall } from './backend.js';
import { IoctlsError } from './errors.js';
import { gate, hasFeature, type VariantInfo } from './variant.js';

/** One MMIO access handed to a device bus. For reads the handler sets `data` to the value read. */
export interface MmioAccess {
  /** Guest IPA. */
  readonly addr: bigint;
  /** 1, 2, 4 or 8. */
  readonly len: number;
  /** Write access. */
  readonly isWrite: boolean;
  /** Written value (writes); set by the handler (reads). Little-endian, `len` bytes. */
  data: bigint;
}

/** Handles one MMIO access: `'handled'`, or `'unhandled'` (no device there). */
export type MmioHandler = (access: MmioAccess) => 'handled' | 'unhandled';

/** Options of {@link Vcpu.fromRawFd}. */
export interface VcpuFromRawFdOptions {
  /** The variant of the VM the vCPU belongs to. */
  readonly info: VariantInfo;
  /** The vCPU id. */
  readonly id: number;
  /** The backend; default the native binding. */
  readonly binding: BindingModule;
}

/**
 * A vCPU. Owns its fd and its run-page mapping; `close()` unmaps and closes.
 *
 * @example
 * ```ts
 * using vcpu = vm.addVcpu(0);
 * vm.start();
 * const exit = vcpu.run();
 * if (exit.kind === 'mmio' && !exit.isWrite) vcpu.completeMmioRead(0n);
 * ```
 */
export class Vcpu {
  /** The backend. */
  readonly binding: BindingModule;
  /** The variant of the VM. */
  readonly info: VariantInfo;
  /** The vCPU id (RM label). */
  readonly id: number;
  #fd: number;
  #closed = false;
  #page: VcpuRunPage | undefined;

  /**
   * Use {@link Vm.addVcpu}, or {@link Vcpu.fromRawFd} to adopt an fd.
   *
   * @internal
   */
  constructor(fd: number, id: number, info: VariantInfo, binding: BindingModule) {
    this.#fd = fd;
    this.id = id;
    this.info = info;
    this.binding = binding;
  }

  /**
   * Adopt a vCPU fd (for example one received by a worker). The object owns it from now on and
   * closes it in {@link Vcpu.close}.
   */
  static fromRawFd(fd: number, options: VcpuFromRawFdOptions): Vcpu {
    return new Vcpu(fd, options.id, options.info, options.binding);
  }

  /** The fd (−1 after close). */
  get fd(): number {
    return this.#fd;
  }

  /**
   * The run page size. Wraps `GH_VCPU_MMAP_SIZE` / `GUNYAH_VCPU_MMAP_SIZE` (A, B, C); the kernel page size.
   *
   * @throws {ErrnoError} EBADF, …
   * @throws {IoctlsError} KERNEL_VALUE when the result is not a plausible page size
   */
  mmapSize(): number {
    const { spec, op } = gate(this.info, 'VCPU_MMAP_SIZE');
    const size = sysCall(op, () => this.binding.ioctl(this.#fd, spec.request));
    // The kernel returns its page size (spec §6.1): refuse anything that cannot hold the run struct
    // or is not a plausible page size, rather than mapping an arbitrary length.
    if (!Number.isInteger(size) || size < VCPU_RUN_SIZE || size > 1 << 20 || (size & (size - 1)) !== 0) {
      throw new IoctlsError('KERNEL_VALUE', op, `VCPU_MMAP_SIZE returned ${size}, not a page size`);
    }
    return size;
  }

  /**
   * The run page: `mmap` of page 0 of the vCPU fd (`MAP_SHARED`, sized by {@link Vcpu.mmapSize}),
   * mapped on first use, as a live view.
   *
   * @throws {ErrnoError} EBADF, ENOMEM, … (op `mmap`)
   */
  get runPage(): VcpuRunPage {
    if (this.#page === undefined) {
      const size = this.mmapSize();
      const c = this.binding.constants();
      const buf = sysCall('mmap', () => this.binding.mmap(this.#fd, size, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0));
      this.#page = new VcpuRunPage(buf, this.info.variant);
    }
    return this.#page;
  }

  /**
   * Run until an exit needs userspace. Wraps `GH_VCPU_RUN` / `GUNYAH_VCPU_RUN` (A, B, C). Blocks
   * while the guest runs or idles: call it on a worker thread with the native binding. `EINTR` (a
   * kick, `immediate_exit`, a signal) returns `{ kind: 'interrupted' }`.
   *
   * @throws {ErrnoError} ENODEV (not started, removed), EINVAL (bad resume action), EPERM (C: other process), …
   */
  run(): VcpuExit {
    const page = this.runPage;
    const { spec, op } = gate(this.info, 'VCPU_RUN');
    try {
      this.binding.ioctl(this.#fd, spec.request);
    } catch (e) {
      const err = ErrnoError.from(e, op);
      if (err instanceof ErrnoError && err.code === 'EINTR') return { kind: 'interrupted' };
      throw err;
    }
    return page.decode();
  }

  /**
   * Complete a pending MMIO read: the next `RUN` hands the first `len` bytes of `value` (little-endian)
   * to the guest.
   *
   * @throws {IoctlsError} NO_PENDING_MMIO when the run page holds no MMIO read exit
   */
  completeMmioRead(value: bigint | number): void {
    const page = this.runPage;
    if (page.exitReason !== EXIT_REASON.MMIO || page.mmioIsWrite) {
      throw new IoctlsError('NO_PENDING_MMIO', 'completeMmioRead', 'the run page holds no MMIO read exit');
    }
    page.setMmioData(value);
  }

  /**
   * Choose how the pending MMIO access resumes (B, C; `mmio.resume_action`): `handled` (complete),
   * `fault` (inject the fault), `retry` (B only). In A only `handled` exists and is implicit.
   *
   * @throws {IoctlsError} UNSUPPORTED_RESUME_ACTION when the variant does not accept the action
   */
  setResumeAction(action: ResumeActionName): void {
    const ok =
      action === 'handled' ||
      (action === 'fault' && hasFeature(this.info, 'mmio-resume-action')) ||
      (action === 'retry' && hasFeature(this.info, 'mmio-retry'));
    if (!ok) throw new IoctlsError('UNSUPPORTED_RESUME_ACTION', 'setResumeAction', `${action} is not accepted by variant ${this.info.variant}`);
    if (this.info.variant === 'A') return;
    this.runPage.mmioResumeAction = action === 'handled' ? 0 : action === 'fault' ? 1 : 2;
  }

  /** `immediate_exit` of the run page: when non-zero the next `RUN` returns at once (EINTR). */
  get immediateExit(): boolean {
    return this.runPage.immediateExit !== 0;
  }
  /** Set or clear `immediate_exit`. */
  set immediateExit(v: boolean) {
    this.runPage.immediateExit = v ? 1 : 0;
  }

  /**
   * Stop a `RUN` blocked in thread `thread` (a token from `currentThread()` on that thread): set
   * `immediate_exit`, then send the kick signal. The run returns `{ kind: 'interrupted' }`; clear
   * `immediateExit` before running again.
   *
   * @throws {ErrnoError} ESRCH when the thread has exited
   */
  kick(thread: bigint): void {
    this.immediateExit = true;
    sysCall('kick', () => this.binding.kick(thread));
  }

  /**
   * Run until an exit other than MMIO, handing every MMIO access to `handler` (the device bus).
   * Unhandled accesses: reads complete with 0; in B/C the fault is injected instead
   * (`resume_action = FAULT`). Returns the first non-MMIO exit (including `interrupted`).
   *
   * @example
   * ```ts
   * const exit = vcpu.runWithMmio((a) => bus.dispatch(a));
   * ```
   */
  runWithMmio(handler: MmioHandler): Exclude<VcpuExit, { kind: 'mmio' }> {
    for (;;) {
      const exit = this.run();
      if (exit.kind !== 'mmio') return exit;
      const access: MmioAccess = { addr: exit.addr, len: exit.len, isWrite: exit.isWrite, data: exit.data };
      const result = handler(access);
      if (result === 'unhandled' && hasFeature(this.info, 'mmio-resume-action')) {
        this.setResumeAction('fault');
      } else if (!exit.isWrite) {
        this.completeMmioRead(result === 'handled' ? BigInt.asUintN(64, BigInt(access.data)) : 0n);
      }
    }
  }

  /**
   * Unmap the run page and close the fd. Closing does not remove the vCPU from the VM
   * (use {@link Vm.removeVcpu}). Idempotent.
   *
   * @throws {ErrnoError} from `close`
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const fd = this.#fd;
    this.#fd = -1;
    const page = this.#page;
    this.#page = undefined;
    if (page) {
      try {
        this.binding.munmap(page.buffer);
      } catch {
        /* already detached */
      }
    }
    sysCall('close', () => this.binding.close(fd));
  }

  /** Same as {@link Vcpu.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
