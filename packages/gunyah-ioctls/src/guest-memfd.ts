/**
 * `GuestMemfd`: owner of a variant-B guest_memfd (`GUNYAH_CREATE_GUEST_MEM`).
 *
 * @module
 */
import type { BindingModule } from '@gunyah-ts/sys';
import { sysCall } from './backend.js';

/**
 * A guest_memfd (B). Map it (`MAP_SHARED` only) to load images, bind it with {@link Vm.mapMem}, and
 * unmap lent ranges before `VM_START` (spec §6.5).
 */
export class GuestMemfd {
  /** The backend. */
  readonly binding: BindingModule;
  /** File size in bytes (fixed). */
  readonly size: bigint;
  #fd: number;
  #closed = false;

  /** @internal Use {@link Gunyah.createGuestMem} or {@link GuestMemfd.fromRawFd}. */
  constructor(fd: number, size: bigint, binding: BindingModule) {
    this.#fd = fd;
    this.size = size;
    this.binding = binding;
  }

  /** Adopt a guest_memfd fd; the object owns and closes it. */
  static fromRawFd(fd: number, size: bigint, binding: BindingModule): GuestMemfd {
    return new GuestMemfd(fd, size, binding);
  }

  /** The fd (−1 after close). */
  get fd(): number {
    return this.#fd;
  }

  /**
   * Map `[offset, offset+length)` shared (default: the whole file).
   *
   * @throws {ErrnoError} EINVAL, ENOMEM, … (op `mmap`)
   */
  mmap(offset: bigint | number = 0, length: bigint | number = this.size - BigInt(offset)): ArrayBuffer {
    const c = this.binding.constants();
    return sysCall('mmap', () => this.binding.mmap(this.#fd, length, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, offset));
  }

  /**
   * Unmap a buffer from {@link GuestMemfd.mmap} (it is detached).
   *
   * @throws {ErrnoError} EINVAL (op `munmap`)
   */
  munmap(buffer: ArrayBuffer): void {
    sysCall('munmap', () => this.binding.munmap(buffer));
  }

  /** Close the fd (bindings keep the memory alive, spec §6.5). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const fd = this.#fd;
    this.#fd = -1;
    sysCall('close', () => this.binding.close(fd));
  }

  /** Same as {@link GuestMemfd.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
