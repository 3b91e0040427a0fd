/**
 * Kernel services of the emulated driver over the real process (design decision 2): fd kinds
 * from `/proc/self/fd`, user memory through `/proc/self/mem` and `/proc/self/maps`.
 *
 * @module
 */
import { readFileSync, readlinkSync } from 'node:fs';
import type { DriverHost, GuestMemFile } from '@gunyah-ts/sys/fake';
import type { BindingModule } from './sys.js';

/** What `/proc/self/fd/<fd>` points at, or `undefined` when the fd is not open. */
export function fdTarget(fd: number): string | undefined {
  if (!Number.isInteger(fd) || fd < 0) return undefined;
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** The memfd name prefix of emulated vCPU fds (`/memfd:gunyah-emu-vcpu (deleted)`). */
export const VCPU_MEMFD_NAME = 'gunyah-emu-vcpu';
/** The memfd name of emulated VM fds. */
export const VM_MEMFD_NAME = 'gunyah-emu-vm';
/** The memfd name of VM pages. */
export const VM_PAGE_MEMFD_NAME = 'gunyah-emu-vmpage';
/** The memfd name of the emulated `/dev/gunyah` fds. */
export const DEV_MEMFD_NAME = 'gunyah-emu-dev';
/** The memfd name of B guest_memfds. */
export const GMEM_MEMFD_NAME = 'gunyah-emu-gmem';

/** Whether `target` (a `/proc/self/fd` link) names a memfd called exactly `name`. */
export function isMemfdNamed(target: string | undefined, name: string): boolean {
  if (target === undefined || !target.startsWith('/memfd:')) return false;
  const rest = target.slice('/memfd:'.length).replace(/ \(deleted\)$/, '');
  return rest === name;
}

/** Whether `[addr, addr+size)` is entirely mapped in this process (`/proc/self/maps`). */
export function isRangeMapped(addr: bigint, size: bigint, maps?: string): boolean {
  const text = maps ?? readFileSync('/proc/self/maps', 'utf8');
  let cur = addr;
  const end = addr + size;
  const ranges: [bigint, bigint][] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (m === null) continue;
    ranges.push([BigInt(`0x${m[1] ?? '0'}`), BigInt(`0x${m[2] ?? '0'}`)]);
  }
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [s, e] of ranges) {
    if (cur >= end) break;
    if (s <= cur && cur < e) cur = e;
  }
  return cur >= end;
}

/** Reads and writes this process's memory through `/proc/self/mem` (A/C guest memory, ioctl args). */
export class ProcMem {
  readonly #binding: BindingModule;
  #fd = -1;

  /** @param binding - the native binding. */
  constructor(binding: BindingModule) {
    this.#binding = binding;
  }

  #open(): number {
    if (this.#fd < 0) this.#fd = this.#binding.open('/proc/self/mem', this.#binding.constants().O_RDWR);
    return this.#fd;
  }

  /** `length` bytes at virtual address `addr`, or `undefined` when not readable. */
  read(addr: bigint, length: number): Uint8Array | undefined {
    if (addr < 0n || length < 0 || addr + BigInt(length) > 1n << 64n) return undefined;
    const out = new Uint8Array(length);
    if (length === 0) return out;
    try {
      const n = this.#binding.pread(this.#open(), out, addr);
      return n === length ? out : undefined;
    } catch {
      return undefined;
    }
  }

  /** Writes `bytes` at `addr`; false when not writable. */
  write(addr: bigint, bytes: Uint8Array): boolean {
    if (bytes.length === 0) return true;
    try {
      return this.#binding.pwrite(this.#open(), bytes, addr) === bytes.length;
    } catch {
      return false;
    }
  }

  /** Closes the `/proc/self/mem` fd. */
  close(): void {
    if (this.#fd >= 0) this.#binding.close(this.#fd);
    this.#fd = -1;
  }
}

/** A B guest_memfd created by the emulator. */
export class EmuGuestMem implements GuestMemFile {
  /** Unique id. */
  readonly id: number;
  /** File size. */
  readonly size: bigint;
  /** Creation flags. */
  readonly flags: bigint;
  /** The emulator's own fd to the same memfd (bindings keep the file alive after the VMM closes its fd). */
  readonly ownFd: number;
  /** Host mappings made through the emulator binding: buffer → [offset, length]. */
  readonly mappings = new Map<ArrayBuffer, [bigint, bigint]>();

  /**
   * @param id - unique id.
   * @param size - file size.
   * @param flags - creation flags.
   * @param ownFd - the emulator's fd.
   */
  constructor(id: number, size: bigint, flags: bigint, ownFd: number) {
    this.id = id;
    this.size = size;
    this.flags = flags;
    this.ownFd = ownFd;
  }

  /** Whether any byte of `[offset, offset+size)` is mapped by the host (through the emulator binding). */
  isMapped(offset: bigint, size: bigint): boolean {
    for (const [o, l] of this.mappings.values()) if (offset < o + l && o < offset + size) return true;
    return false;
  }
}

/** The {@link DriverHost} of the emulator. */
export function createDriverHost(binding: BindingModule, mem: ProcMem, guestMem: (fd: number) => EmuGuestMem | undefined): DriverHost {
  const one = new Uint8Array(8);
  new DataView(one.buffer).setBigUint64(0, 1n, true);
  return {
    pageSize: binding.pageSize(),
    isOpenFd: (fd) => fdTarget(fd) !== undefined,
    isEventfd: (fd) => fdTarget(fd) === 'anon_inode:[eventfd]',
    signalEventfd: (fd) => {
      binding.write(fd, one);
    },
    isUserRangeMapped: (addr, size) => isRangeMapped(addr, size),
    readUser: (addr, size) => mem.read(addr, size),
    guestMem,
  };
}
