import { addressOf, close as sysClose, ErrnoError, ftruncate, memfdCreate, mmap, munmap, pageSize } from '@gunyah-ts/sys';
import { GuestMemoryError } from './errors.js';

/** Where a region's bytes live: a JS `ArrayBuffer` or a shared mapping of a memfd. */
export type BackingKind = 'buffer' | 'memfd';

/**
 * The host memory behind one guest-memory region. {@link GuestMemoryRegion} reads {@link bytes} on
 * every access, so a backing that was unmapped is noticed at once.
 */
export interface GuestMemoryBacking {
  /** What kind of memory this is. */
  readonly kind: BackingKind;
  /** Size in bytes. */
  readonly size: number;
  /** The host bytes, or `undefined` while unmapped or after {@link close}. */
  readonly bytes: Uint8Array | undefined;
  /** The memfd holding the bytes (`memfd` backings), for the ioctl layer and for workers. */
  readonly fd: number | undefined;
  /** Offset of the first byte inside {@link fd}. */
  readonly fileOffset: number | undefined;
  /** Host virtual address of the first byte while mapped (`memfd` backings): `userspace_addr`. */
  readonly hostAddress: bigint | undefined;
  /** Release the host mapping (the memfd keeps the contents). Idempotent. */
  unmap(): void;
  /** Map again after {@link unmap}; the host address may change. No-op while mapped. */
  remap(): void;
  /** Unmap and, if owned, close the fd. Further {@link remap} calls fail. Idempotent. */
  close(): void;
}

/**
 * Guest memory in a plain `ArrayBuffer`: for tests, tools and offline image preparation. It cannot be
 * handed to the hypervisor (it has no fd and its address is not stable).
 *
 * @example
 * ```ts
 * const b = new BufferBacking(0x10000);
 * ```
 */
export class BufferBacking implements GuestMemoryBacking {
  /** Always `'buffer'`. */
  readonly kind = 'buffer';
  /** Size in bytes. */
  readonly size: number;
  /** Always `undefined`. */
  readonly fd = undefined;
  /** Always `undefined`. */
  readonly fileOffset = undefined;
  /** Always `undefined`. */
  readonly hostAddress = undefined;
  #data: Uint8Array | undefined;
  #mapped = true;

  /**
   * @param source - a size (a zeroed buffer is allocated) or existing bytes to use in place
   * @throws {GuestMemoryError} INVALID_REGION when the size is not a positive safe integer
   */
  constructor(source: number | Uint8Array | ArrayBuffer) {
    if (typeof source === 'number') {
      if (!Number.isSafeInteger(source) || source <= 0) {
        throw new GuestMemoryError('INVALID_REGION', `backing size ${String(source)} is not a positive safe integer`);
      }
      this.#data = new Uint8Array(source);
    } else {
      this.#data = source instanceof Uint8Array ? source : new Uint8Array(source);
      if (this.#data.byteLength === 0) throw new GuestMemoryError('INVALID_REGION', 'backing buffer is empty');
    }
    this.size = this.#data.byteLength;
  }

  /** The bytes, or `undefined` while "unmapped" or after close. */
  get bytes(): Uint8Array | undefined {
    return this.#mapped ? this.#data : undefined;
  }

  /** Hide the bytes (models a released mapping; contents are kept for {@link remap}). */
  unmap(): void {
    this.#mapped = false;
  }

  /**
   * Show the bytes again.
   *
   * @throws {GuestMemoryError} BACKING_UNMAPPED after {@link close}
   */
  remap(): void {
    if (this.#data === undefined) throw new GuestMemoryError('BACKING_UNMAPPED', 'backing was closed');
    this.#mapped = true;
  }

  /** Drop the buffer. */
  close(): void {
    this.#data = undefined;
    this.#mapped = false;
  }
}

/** Options for {@link MemfdBacking.create}. */
export interface MemfdBackingOptions {
  /** Name shown in `/proc/<pid>/fd` (default `gunyah-guest`). */
  readonly name?: string;
}

/** Options for {@link MemfdBacking.fromFd}. */
export interface MemfdMapOptions {
  /** Byte offset in the fd (page aligned; default 0). */
  readonly fileOffset?: number;
  /** Bytes to map (a multiple of the page size). */
  readonly size: number;
  /** Close the fd in {@link MemfdBacking.close} (default false). */
  readonly ownsFd?: boolean;
}

function checkPageMultiple(value: number, what: string): void {
  const page = pageSize();
  if (!Number.isSafeInteger(value) || value < 0 || value % page !== 0) {
    throw new GuestMemoryError('INVALID_REGION', `${what} ${String(value)} is not a non-negative multiple of the page size (${page})`);
  }
}

/**
 * Guest memory in a `MAP_SHARED` mapping of a memfd: what a VMM registers with the hypervisor
 * (variants A and C take {@link hostAddress} as `userspace_addr`; the memory is swap-backed as
 * variant C requires). {@link fd} and {@link fileOffset} let another thread map the same bytes:
 * an mmapped `ArrayBuffer` cannot be transferred to a worker, so a worker calls
 * {@link MemfdBacking.fromFd} with them instead.
 *
 * @example
 * ```ts
 * const b = MemfdBacking.create(256 << 20);
 * vm.setUserMemRegion({ guestPhysAddr, size: b.size, userspaceAddr: b.hostAddress! });
 * ```
 */
export class MemfdBacking implements GuestMemoryBacking {
  /** Always `'memfd'`. */
  readonly kind = 'memfd';
  /** Size in bytes (a multiple of the page size). */
  readonly size: number;
  /** Offset of the first byte in {@link fd} (page aligned). */
  readonly fileOffset: number;
  readonly #fd: number;
  readonly #ownsFd: boolean;
  #buffer: ArrayBuffer | undefined;
  #bytes: Uint8Array | undefined;
  #address: bigint | undefined;
  #closed = false;

  private constructor(fd: number, fileOffset: number, size: number, ownsFd: boolean) {
    this.#fd = fd;
    this.fileOffset = fileOffset;
    this.size = size;
    this.#ownsFd = ownsFd;
    this.remap();
  }

  /**
   * Create a memfd of `size` bytes and map it.
   *
   * @throws {GuestMemoryError} INVALID_REGION when `size` is not a positive multiple of the page size
   * @throws {GuestMemoryError} BACKING_FAILED when `memfd_create`, `ftruncate` or `mmap` fails
   *   (the `ErrnoError` is the cause)
   */
  static create(size: number, options: MemfdBackingOptions = {}): MemfdBacking {
    checkPageMultiple(size, 'memfd size');
    if (size === 0) throw new GuestMemoryError('INVALID_REGION', 'memfd size is 0');
    let fd: number;
    try {
      fd = memfdCreate(options.name ?? 'gunyah-guest');
    } catch (e) {
      throw new GuestMemoryError('BACKING_FAILED', `memfd_create failed: ${String(e)}`, {}, { cause: e });
    }
    try {
      ftruncate(fd, size);
      return new MemfdBacking(fd, 0, size, true);
    } catch (e) {
      sysClose(fd);
      throw e instanceof GuestMemoryError ? e : new GuestMemoryError('BACKING_FAILED', `ftruncate failed: ${String(e)}`, {}, { cause: e });
    }
  }

  /**
   * Map `size` bytes of an existing memfd (or any mappable fd) at `fileOffset`: in a worker, or for
   * one region of a memfd that holds several.
   *
   * @throws {GuestMemoryError} INVALID_REGION when `size` or `fileOffset` is not page aligned, or `size` is 0
   * @throws {GuestMemoryError} BACKING_FAILED when `mmap` fails
   */
  static fromFd(fd: number, options: MemfdMapOptions): MemfdBacking {
    const fileOffset = options.fileOffset ?? 0;
    checkPageMultiple(options.size, 'mapping size');
    checkPageMultiple(fileOffset, 'file offset');
    if (options.size === 0) throw new GuestMemoryError('INVALID_REGION', 'mapping size is 0');
    return new MemfdBacking(fd, fileOffset, options.size, options.ownsFd ?? false);
  }

  /** The memfd. */
  get fd(): number {
    return this.#fd;
  }

  /** The mapped bytes, or `undefined` while unmapped. */
  get bytes(): Uint8Array | undefined {
    return this.#bytes;
  }

  /** Host virtual address of the mapping, or `undefined` while unmapped. */
  get hostAddress(): bigint | undefined {
    return this.#address;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * `munmap` the mapping (the `ArrayBuffer` is detached first, so stale views read as empty instead of
   * faulting). The memfd keeps the contents. Variant B needs this for lent pages before `VM_START`.
   *
   * @throws {GuestMemoryError} BACKING_FAILED when `munmap` fails
   */
  unmap(): void {
    const buf = this.#buffer;
    if (buf === undefined) return;
    this.#buffer = undefined;
    this.#bytes = undefined;
    this.#address = undefined;
    try {
      munmap(buf);
    } catch (e) {
      throw new GuestMemoryError('BACKING_FAILED', `munmap failed: ${String(e)}`, {}, { cause: e });
    }
  }

  /**
   * Map the memfd range again (no-op while mapped).
   *
   * @throws {GuestMemoryError} BACKING_UNMAPPED after {@link close}
   * @throws {GuestMemoryError} BACKING_FAILED when `mmap` fails
   */
  remap(): void {
    if (this.#closed) throw new GuestMemoryError('BACKING_UNMAPPED', 'memfd backing was closed');
    if (this.#buffer !== undefined) return;
    let buf: ArrayBuffer;
    try {
      buf = mmap(this.#fd, this.size, undefined, undefined, this.fileOffset);
    } catch (e) {
      const detail = e instanceof ErrnoError ? e.code : String(e);
      throw new GuestMemoryError('BACKING_FAILED', `mmap of fd ${this.#fd} at ${this.fileOffset} failed: ${detail}`, {}, { cause: e });
    }
    this.#buffer = buf;
    this.#bytes = new Uint8Array(buf);
    this.#address = addressOf(buf);
  }

  /**
   * Unmap, and close the fd when this backing owns it. Idempotent.
   *
   * @throws {GuestMemoryError} BACKING_FAILED when `munmap` fails
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.unmap();
    } finally {
      if (this.#ownsFd) sysClose(this.#fd);
    }
  }
}
