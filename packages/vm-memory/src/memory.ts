import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { close as sysClose, ftruncate, memfdCreate, pageSize } from '@gunyah-ts/sys';
import { guestAddress, MAX_GUEST_ADDRESS, type GuestAddress } from './address.js';
import { BufferBacking, MemfdBacking, type GuestMemoryBacking } from './backing.js';
import { GuestMemoryError, hex } from './errors.js';
import { GuestMemoryRegion, type RegionMode } from './region.js';

/** One region to put in a {@link GuestMemory}. */
export interface GuestRegionInit {
  /** First guest address. */
  readonly start: GuestAddress | bigint | number;
  /** Size in bytes (a positive safe integer). Defaults to the backing's size. */
  readonly size?: number;
  /** Host memory; a zeroed {@link BufferBacking} of `size` bytes when left out. */
  readonly backing?: GuestMemoryBacking;
  /** `shared` (default) or `lent`. */
  readonly mode?: RegionMode;
  /** Name for messages and logs. */
  readonly label?: string;
}

/** Options for {@link GuestMemory} construction. */
export interface GuestMemoryOptions {
  /** File descriptors the memory owns and closes in {@link GuestMemory.close}. */
  readonly ownedFds?: readonly number[];
}

/** Options for {@link GuestMemory.createMemfd}. */
export interface MemfdMemoryOptions {
  /** memfd name (default `gunyah-guest`). */
  readonly name?: string;
}

/**
 * A plain description of one memfd-backed region, for a worker to map the same memory
 * ({@link GuestMemory.fromDescriptors}) or for the ioctl layer to register it.
 */
export interface RegionDescriptor {
  /** First guest address. */
  readonly start: bigint;
  /** Size in bytes. */
  readonly size: number;
  /** `shared` or `lent`. */
  readonly mode: RegionMode;
  /** The memfd (valid in every thread of the process). */
  readonly fd: number;
  /** Offset of the region in the memfd. */
  readonly fileOffset: number;
  /** Optional name. */
  readonly label?: string;
}

/**
 * A fixed-size record codec, as the struct codecs of `@gunyah-ts/sys` are shaped: {@link GuestMemory.readObject}
 * and {@link GuestMemory.writeObject} move such records in and out of guest memory.
 */
export interface ByteCodec<T> {
  /** Encoded size in bytes. */
  readonly size: number;
  /** Write `value` into `out` (exactly {@link size} bytes, starting at offset 0). */
  encode(value: T, out: DataView): unknown;
  /** Read a value from `view` (exactly {@link size} bytes, starting at offset 0). */
  decode(view: DataView): T;
}

/** Options for {@link GuestMemory.revokeHostAccess}. */
export interface RevokeOptions {
  /**
   * Also release the host mapping of each lent region (variant B needs lent pages unmapped before
   * `VM_START`, spec/gunyah-uapi.md §6.5). Default false.
   */
  readonly unmap?: boolean;
}

/** A writable byte sink for {@link GuestMemory.readToStream}: a Node `Writable` fits. */
export interface ByteSink {
  /** Queue a chunk; `false` means wait for `drain`. */
  write(chunk: Uint8Array): boolean;
  /** Register a one-shot listener (for `drain`, `error`, `close`). */
  once(event: 'drain' | 'error' | 'close', listener: (arg?: unknown) => void): unknown;
  /** Remove a listener. */
  off?(event: 'drain' | 'error' | 'close', listener: (arg?: unknown) => void): unknown;
}

const CHUNK = 1 << 20;

function checkLength(length: number, what = 'length'): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new GuestMemoryError('INVALID_ARGUMENT', `${what} ${String(length)} is not a non-negative safe integer`);
  }
}

function checkAddr(addr: unknown): bigint {
  if (typeof addr !== 'bigint' || addr < 0n || addr > MAX_GUEST_ADDRESS) {
    throw new GuestMemoryError('INVALID_ADDRESS', `${String(addr)} is not a guest address`);
  }
  return addr;
}

function ioError(what: string, e: unknown): GuestMemoryError {
  return new GuestMemoryError('IO_ERROR', `${what}: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
}

/**
 * The guest's physical memory: a list of regions, sorted by address and never overlapping, checked
 * when built. Accesses may span adjacent regions.
 *
 * Access contract:
 * - {@link read}/{@link write} copy as many bytes as the memory holds contiguously from `addr` and
 *   return that count (possibly fewer than asked; 0 only for a zero-length request). They fail if
 *   `addr` itself is outside every region.
 * - {@link readExact}/{@link writeAll} move every byte or none, failing with `OUT_OF_RANGE`.
 * - Every access first checks each touched region: a lent region after {@link revokeHostAccess}
 *   fails with `HOST_ACCESS_DENIED` before any byte moves.
 *
 * Threads: an mmapped `ArrayBuffer` cannot be transferred to a worker. A worker maps the same memory
 * with {@link GuestMemory.fromDescriptors} using {@link describe}'s fds and offsets.
 *
 * @example
 * ```ts
 * const mem = GuestMemory.createMemfd([{ start: 0x8000_0000n, size: 256 << 20 }]);
 * mem.writeAll(guestAddress(0x8000_0000), kernelBytes);
 * mem.writeU32(guestAddress(0x8000_1000), 0xdeadbeef);
 * ```
 */
export class GuestMemory implements Disposable {
  /** The regions, sorted by start address. */
  readonly regions: readonly GuestMemoryRegion[];
  readonly #regions: GuestMemoryRegion[];
  readonly #ownedFds: number[];
  #last = 0;
  #hitOffset = 0;
  #revoked = false;
  #closed = false;
  readonly #scratch = new DataView(new ArrayBuffer(8));
  readonly #scratchBytes = new Uint8Array(this.#scratch.buffer);

  /**
   * Build and validate a memory from regions given in increasing address order.
   *
   * @throws {GuestMemoryError} EMPTY_MEMORY when `regions` is empty
   * @throws {GuestMemoryError} INVALID_ADDRESS when a start is not a guest address
   * @throws {GuestMemoryError} INVALID_REGION when a size is not a positive safe integer or exceeds its
   *   backing, or two regions share one backing object
   * @throws {GuestMemoryError} ADDRESS_OVERFLOW when a region runs past 2^64
   * @throws {GuestMemoryError} UNSORTED_REGIONS when a region starts below its predecessor
   * @throws {GuestMemoryError} OVERLAPPING_REGIONS when two regions share an address
   */
  constructor(regions: readonly GuestRegionInit[], options: GuestMemoryOptions = {}) {
    if (regions.length === 0) throw new GuestMemoryError('EMPTY_MEMORY', 'guest memory needs at least one region');
    const out: GuestMemoryRegion[] = [];
    const backings = new Set<GuestMemoryBacking>();
    regions.forEach((init, i) => {
      let start: GuestAddress;
      try {
        start = guestAddress(init.start);
      } catch (e) {
        throw new GuestMemoryError('INVALID_ADDRESS', `region ${i}: start ${String(init.start)} is not a guest address`, { regionIndex: i }, { cause: e });
      }
      const size = init.size ?? init.backing?.size;
      if (size === undefined || !Number.isSafeInteger(size) || size <= 0) {
        throw new GuestMemoryError('INVALID_REGION', `region ${i} at ${hex(start)}: size ${String(size)} is not a positive safe integer`, {
          address: start,
          regionIndex: i,
        });
      }
      if (init.backing !== undefined && init.backing.size < size) {
        throw new GuestMemoryError(
          'INVALID_REGION',
          `region ${i} at ${hex(start)}: backing holds ${init.backing.size} bytes, region needs ${size}`,
          { address: start, regionIndex: i, length: size },
        );
      }
      if (start + BigInt(size) > MAX_GUEST_ADDRESS + 1n) {
        throw new GuestMemoryError('ADDRESS_OVERFLOW', `region ${i} at ${hex(start)} of ${size} bytes runs past 2^64`, {
          address: start,
          regionIndex: i,
          length: size,
        });
      }
      const prev = out[i - 1];
      if (prev !== undefined) {
        if (start < prev.start) {
          throw new GuestMemoryError('UNSORTED_REGIONS', `region ${i} at ${hex(start)} starts below region ${i - 1} at ${hex(prev.start)}`, {
            address: start,
            regionIndex: i,
          });
        }
        if (start < prev.end) {
          throw new GuestMemoryError(
            'OVERLAPPING_REGIONS',
            `region ${i} at ${hex(start)} overlaps region ${i - 1} [${hex(prev.start)}, ${hex(prev.end)})`,
            { address: start, regionIndex: i },
          );
        }
      }
      if (init.backing !== undefined) {
        if (backings.has(init.backing)) {
          throw new GuestMemoryError('INVALID_REGION', `region ${i} at ${hex(start)} reuses the backing of another region`, {
            address: start,
            regionIndex: i,
          });
        }
        backings.add(init.backing);
      }
      const backing = init.backing ?? new BufferBacking(size);
      out.push(new GuestMemoryRegion(start, size, backing, init.mode ?? 'shared', init.label));
    });
    this.#regions = out;
    this.regions = Object.freeze(out.slice());
    this.#ownedFds = [...(options.ownedFds ?? [])];
  }

  /**
   * Guest memory in `ArrayBuffer`s (tests and tools).
   *
   * @example
   * ```ts
   * const mem = GuestMemory.fromBuffers([{ start: 0n, size: 0x1000 }, { start: 0x1000n, size: 0x1000 }]);
   * ```
   * @throws {GuestMemoryError} as the constructor
   */
  static fromBuffers(regions: readonly { start: GuestAddress | bigint | number; size: number; mode?: RegionMode; label?: string }[]): GuestMemory {
    return new GuestMemory(regions);
  }

  /**
   * Guest memory in one memfd: each region is mapped from its own page-aligned offset of a single
   * memfd sized to hold them all, so the fd plus {@link GuestMemoryRegion.fileOffset} name every byte.
   * The memory owns the memfd and closes it in {@link close}.
   *
   * @throws {GuestMemoryError} INVALID_REGION when a size is not a positive multiple of the page size
   * @throws {GuestMemoryError} BACKING_FAILED when `memfd_create`, `ftruncate` or `mmap` fails
   * @throws {GuestMemoryError} as the constructor for addresses and ordering
   */
  static createMemfd(
    regions: readonly { start: GuestAddress | bigint | number; size: number; mode?: RegionMode; label?: string }[],
    options: MemfdMemoryOptions = {},
  ): GuestMemory {
    if (regions.length === 0) throw new GuestMemoryError('EMPTY_MEMORY', 'guest memory needs at least one region');
    const page = pageSize();
    let total = 0;
    regions.forEach((r, i) => {
      if (!Number.isSafeInteger(r.size) || r.size <= 0 || r.size % page !== 0) {
        throw new GuestMemoryError('INVALID_REGION', `region ${i}: size ${String(r.size)} is not a positive multiple of the page size (${page})`, {
          regionIndex: i,
        });
      }
      total += r.size;
    });
    if (!Number.isSafeInteger(total)) throw new GuestMemoryError('INVALID_REGION', 'total memory size is not a safe integer');
    let fd: number;
    try {
      fd = memfdCreate(options.name ?? 'gunyah-guest');
    } catch (e) {
      throw new GuestMemoryError('BACKING_FAILED', `memfd_create failed: ${String(e)}`, {}, { cause: e });
    }
    const backings: MemfdBacking[] = [];
    try {
      try {
        ftruncate(fd, total);
      } catch (e) {
        throw new GuestMemoryError('BACKING_FAILED', `ftruncate to ${total} failed: ${String(e)}`, {}, { cause: e });
      }
      let offset = 0;
      const inits: GuestRegionInit[] = regions.map((r) => {
        const backing = MemfdBacking.fromFd(fd, { fileOffset: offset, size: r.size });
        backings.push(backing);
        offset += r.size;
        return { start: r.start, size: r.size, backing, ...(r.mode !== undefined ? { mode: r.mode } : {}), ...(r.label !== undefined ? { label: r.label } : {}) };
      });
      return new GuestMemory(inits, { ownedFds: [fd] });
    } catch (e) {
      for (const b of backings) b.close();
      sysClose(fd);
      throw e;
    }
  }

  /**
   * Map memory described by {@link describe} (in a worker thread, or another part of the process).
   * The fds are not owned: {@link close} unmaps but leaves them open.
   *
   * @throws {GuestMemoryError} as {@link MemfdBacking.fromFd} and the constructor
   */
  static fromDescriptors(descriptors: readonly RegionDescriptor[]): GuestMemory {
    const backings: MemfdBacking[] = [];
    try {
      const inits = descriptors.map((d) => {
        const backing = MemfdBacking.fromFd(d.fd, { fileOffset: d.fileOffset, size: d.size });
        backings.push(backing);
        return { start: d.start, size: d.size, backing, mode: d.mode, ...(d.label !== undefined ? { label: d.label } : {}) };
      });
      return new GuestMemory(inits);
    } catch (e) {
      for (const b of backings) b.close();
      throw e;
    }
  }

  /**
   * Plain descriptors of the memfd-backed regions (structured-clonable: post them to a worker).
   *
   * @throws {GuestMemoryError} INVALID_REGION when a region has no fd (a buffer backing)
   */
  describe(): RegionDescriptor[] {
    return this.#regions.map((r, i) => {
      const { fd, fileOffset } = r.backing;
      if (fd === undefined || fileOffset === undefined) {
        throw new GuestMemoryError('INVALID_REGION', `region ${i} at ${hex(r.start)} is not fd-backed`, { regionIndex: i, address: r.start });
      }
      return { start: r.start, size: r.size, mode: r.mode, fd, fileOffset, ...(r.label !== undefined ? { label: r.label } : {}) };
    });
  }

  /** Sum of the region sizes in bytes. */
  get totalSize(): number {
    let n = 0;
    for (const r of this.#regions) n += r.size;
    return n;
  }

  /** The lowest guest address. */
  get firstAddress(): GuestAddress {
    return (this.#regions[0] as GuestMemoryRegion).start;
  }

  /** The highest guest address. */
  get lastAddress(): GuestAddress {
    return (this.#regions[this.#regions.length - 1] as GuestMemoryRegion).lastAddress;
  }

  /** Whether {@link revokeHostAccess} is in force. */
  get hostAccessRevoked(): boolean {
    return this.#revoked;
  }

  #indexOf(addr: bigint): number {
    const regs = this.#regions;
    const hint = regs[this.#last];
    if (hint !== undefined && addr >= hint.start && addr < hint.end) return this.#last;
    let lo = 0;
    let hi = regs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = regs[mid] as GuestMemoryRegion;
      if (addr < r.start) hi = mid - 1;
      else if (addr >= r.end) lo = mid + 1;
      else {
        this.#last = mid;
        return mid;
      }
    }
    return -1;
  }

  /**
   * The region holding `addr`, or `undefined`.
   *
   * @throws {GuestMemoryError} INVALID_ADDRESS when `addr` is not a guest address
   */
  findRegion(addr: GuestAddress | bigint): GuestMemoryRegion | undefined {
    const i = this.#indexOf(checkAddr(addr));
    return i < 0 ? undefined : this.#regions[i];
  }

  /**
   * Whether `addr` is in some region.
   *
   * @throws {GuestMemoryError} INVALID_ADDRESS when `addr` is not a guest address
   */
  contains(addr: GuestAddress | bigint): boolean {
    return this.#indexOf(checkAddr(addr)) >= 0;
  }

  /**
   * Whether all of `[addr, addr + length)` is guest memory (possibly spanning adjacent regions).
   * A zero length is covered when `addr` is in memory.
   *
   * @throws {GuestMemoryError} INVALID_ADDRESS, INVALID_ARGUMENT for malformed arguments
   */
  containsRange(addr: GuestAddress | bigint, length: number): boolean {
    checkLength(length);
    const i = this.#indexOf(checkAddr(addr));
    if (i < 0) return false;
    return this.#contiguous(i, addr, length) >= length;
  }

  #contiguous(i: number, addr: bigint, want: number): number {
    const regs = this.#regions;
    let r = regs[i] as GuestMemoryRegion;
    let n = Number(r.end - addr);
    while (n < want) {
      const next = regs[i + 1];
      if (next === undefined || next.start !== r.end) break;
      n += next.size;
      r = next;
      i++;
    }
    return Math.min(n, want);
  }

  /**
   * Find and check the span of an access. Returns the first region index, the offset in it and the
   * byte count that will be moved; every region of the span passed the host-access check.
   */
  #span(addr: unknown, length: number, exact: boolean): { index: number; offset: number; count: number } {
    const a = checkAddr(addr);
    checkLength(length);
    const index = this.#indexOf(a);
    if (index < 0) {
      throw new GuestMemoryError('OUT_OF_RANGE', `${hex(a)} is not in guest memory`, { address: a, length });
    }
    const r = this.#regions[index] as GuestMemoryRegion;
    const offset = Number(a - r.start);
    if (offset + length <= r.size) {
      r.hostBytes();
      return { index, offset, count: length };
    }
    const count = this.#contiguous(index, a, length);
    if (exact && count < length) {
      throw new GuestMemoryError('OUT_OF_RANGE', `[${hex(a)}, +${length}) runs past the end of guest memory (${count} bytes available)`, {
        address: a,
        length,
      });
    }
    let left = count;
    for (let i = index, off = offset; left > 0; i++, off = 0) {
      const ri = this.#regions[i] as GuestMemoryRegion;
      ri.hostBytes();
      left -= Math.min(ri.size - off, left);
    }
    return { index, offset, count };
  }

  #copy(addr: unknown, buf: Uint8Array, exact: boolean, toGuest: boolean): number {
    if (!(buf instanceof Uint8Array)) throw new GuestMemoryError('INVALID_ARGUMENT', 'buffer must be a Uint8Array');
    if (buf.byteLength === 0) {
      checkAddr(addr);
      return 0;
    }
    const hit = this.#fast(addr, buf.byteLength);
    if (hit !== undefined) {
      const bytes = hit.hostBytes();
      const off = this.#hitOffset;
      if (toGuest) bytes.set(buf, off);
      else buf.set(bytes.subarray(off, off + buf.byteLength));
      return buf.byteLength;
    }
    const { index, offset, count } = this.#span(addr, buf.byteLength, exact);
    let done = 0;
    for (let i = index, off = offset; done < count; i++, off = 0) {
      const r = this.#regions[i] as GuestMemoryRegion;
      const bytes = r.hostBytes();
      const n = Math.min(r.size - off, count - done);
      if (toGuest) bytes.set(n === buf.byteLength ? buf : buf.subarray(done, done + n), off);
      else buf.set(bytes.subarray(off, off + n), done);
      done += n;
    }
    return done;
  }

  /**
   * Copy guest memory from `addr` into `dest`, as far as memory is contiguous. Returns the byte count
   * (fewer than `dest.length` when a hole or the end of memory is reached).
   *
   * @throws {GuestMemoryError} OUT_OF_RANGE when `addr` is outside every region (non-empty `dest`)
   * @throws {GuestMemoryError} HOST_ACCESS_DENIED when a touched region is lent and revoked
   * @throws {GuestMemoryError} INVALID_ADDRESS, INVALID_ARGUMENT, BACKING_UNMAPPED
   */
  read(addr: GuestAddress, dest: Uint8Array): number {
    return this.#copy(addr, dest, false, false);
  }

  /**
   * Copy `src` into guest memory at `addr`, as far as memory is contiguous. Returns the byte count.
   *
   * @throws {GuestMemoryError} OUT_OF_RANGE when `addr` is outside every region (non-empty `src`)
   * @throws {GuestMemoryError} HOST_ACCESS_DENIED when a touched region is lent and revoked
   * @throws {GuestMemoryError} INVALID_ADDRESS, INVALID_ARGUMENT, BACKING_UNMAPPED
   */
  write(addr: GuestAddress, src: Uint8Array): number {
    return this.#copy(addr, src, false, true);
  }

  /**
   * Fill `dest` from guest memory at `addr`, all or nothing.
   *
   * @throws {GuestMemoryError} OUT_OF_RANGE when any byte is outside contiguous guest memory (nothing is copied)
   * @throws {GuestMemoryError} HOST_ACCESS_DENIED, INVALID_ADDRESS, INVALID_ARGUMENT, BACKING_UNMAPPED
   */
  readExact(addr: GuestAddress, dest: Uint8Array): void {
    this.#copy(addr, dest, true, false);
  }

  /**
   * Write all of `src` to guest memory at `addr`, all or nothing.
   *
   * @throws {GuestMemoryError} OUT_OF_RANGE when any byte is outside contiguous guest memory (nothing is written)
   * @throws {GuestMemoryError} HOST_ACCESS_DENIED, INVALID_ADDRESS, INVALID_ARGUMENT, BACKING_UNMAPPED
   */
  writeAll(addr: GuestAddress, src: Uint8Array): void {
    this.#copy(addr, src, true, true);
  }

  /**
   * A copy of `length` bytes at `addr`.
   *
   * @throws {GuestMemoryError} as {@link readExact}
   */
  readBytes(addr: GuestAddress, length: number): Uint8Array {
    checkLength(length);
    const out = new Uint8Array(length);
    this.readExact(addr, out);
    return out;
  }

  /**
   * Set `length` bytes at `addr` to `value` (default 0), all or nothing.
   *
   * @throws {GuestMemoryError} as {@link writeAll}
   */
  fill(addr: GuestAddress, length: number, value = 0): void {
    if (length === 0) {
      checkAddr(addr);
      return;
    }
    const { index, offset, count } = this.#span(addr, length, true);
    let done = 0;
    for (let i = index, off = offset; done < count; i++, off = 0) {
      const r = this.#regions[i] as GuestMemoryRegion;
      const n = Math.min(r.size - off, count - done);
      r.hostBytes().fill(value, off, off + n);
      done += n;
    }
  }

  /**
   * A live view of `length` bytes at `addr` (no copy), for device models that need one. The range must
   * lie in one region. The view bypasses later host-access checks: do not keep it past `VM_START` for a
   * lent region, nor past {@link close}.
   *
   * @throws {GuestMemoryError} OUT_OF_RANGE when the range leaves the region holding `addr`
   * @throws {GuestMemoryError} HOST_ACCESS_DENIED, INVALID_ADDRESS, INVALID_ARGUMENT, BACKING_UNMAPPED
   */
  hostView(addr: GuestAddress, length: number): Uint8Array {
    const a = checkAddr(addr);
    checkLength(length);
    const i = this.#indexOf(a);
    const r = this.#regions[i];
    if (r === undefined) throw new GuestMemoryError('OUT_OF_RANGE', `${hex(a)} is not in guest memory`, { address: a, length });
    const off = Number(a - r.start);
    if (off + length > r.size) {
      throw new GuestMemoryError('OUT_OF_RANGE', `[${hex(a)}, +${length}) leaves its region [${hex(r.start)}, ${hex(r.end)})`, {
        address: a,
        length,
        regionIndex: i,
      });
    }
    return r.hostBytes().subarray(off, off + length);
  }

  /**
   * Fast path of small accesses: `addr` below 2^53 and `[addr, addr + size)` inside one region.
   * Returns that region (offset in `#hitOffset`) or `undefined` to take the general path. Number
   * arithmetic only; no allocation.
   */
  #fast(addr: unknown, size: number): GuestMemoryRegion | undefined {
    if (typeof addr !== 'bigint') return undefined;
    const n = Number(addr);
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER)) return undefined;
    let r = this.#regions[this.#last] as GuestMemoryRegion;
    let off = n - r.startNumber;
    if (!(off >= 0 && off + size <= r.size)) {
      // Binary search on numbers; a region at or above 2^53 has startNumber NaN and sorts above n.
      const regs = this.#regions;
      let lo = 0;
      let hi = regs.length - 1;
      for (;;) {
        if (lo > hi) return undefined;
        const mid = (lo + hi) >>> 1;
        r = regs[mid] as GuestMemoryRegion;
        off = n - r.startNumber;
        if (!(off >= 0)) hi = mid - 1;
        else if (off >= r.size) lo = mid + 1;
        else {
          this.#last = mid;
          break;
        }
      }
      if (off + size > r.size) return undefined;
    }
    this.#hitOffset = off;
    return r;
  }

  #intView(addr: unknown, size: number, toGuest: boolean): { view: DataView; offset: number } | undefined {
    const { index, offset, count } = this.#span(addr, size, true);
    const r = this.#regions[index] as GuestMemoryRegion;
    if (offset + count <= r.size) return { view: r.dataView(), offset };
    if (!toGuest) this.#copy(addr, this.#scratchBytes.subarray(0, size), true, false);
    return undefined;
  }

  #writeScratch(addr: GuestAddress, size: number): void {
    this.#copy(addr, this.#scratchBytes.subarray(0, size), true, true);
  }

  /** Read a byte. @throws {GuestMemoryError} as {@link readExact} */
  readU8(addr: GuestAddress): number {
    const r = this.#fast(addr, 1);
    if (r !== undefined) return r.dataView().getUint8(this.#hitOffset);
    const v = this.#intView(addr, 1, false);
    return v ? v.view.getUint8(v.offset) : this.#scratch.getUint8(0);
  }

  /** Read a little-endian u16. @throws {GuestMemoryError} as {@link readExact} */
  readU16(addr: GuestAddress): number {
    const r = this.#fast(addr, 2);
    if (r !== undefined) return r.dataView().getUint16(this.#hitOffset, true);
    const v = this.#intView(addr, 2, false);
    return v ? v.view.getUint16(v.offset, true) : this.#scratch.getUint16(0, true);
  }

  /** Read a little-endian u32. @throws {GuestMemoryError} as {@link readExact} */
  readU32(addr: GuestAddress): number {
    const r = this.#fast(addr, 4);
    if (r !== undefined) return r.dataView().getUint32(this.#hitOffset, true);
    const v = this.#intView(addr, 4, false);
    return v ? v.view.getUint32(v.offset, true) : this.#scratch.getUint32(0, true);
  }

  /** Read a little-endian u64. @throws {GuestMemoryError} as {@link readExact} */
  readU64(addr: GuestAddress): bigint {
    const r = this.#fast(addr, 8);
    if (r !== undefined) return r.dataView().getBigUint64(this.#hitOffset, true);
    const v = this.#intView(addr, 8, false);
    return v ? v.view.getBigUint64(v.offset, true) : this.#scratch.getBigUint64(0, true);
  }

  /**
   * Write a byte (`value` is taken modulo 2^8).
   *
   * @throws {GuestMemoryError} as {@link writeAll}
   */
  writeU8(addr: GuestAddress, value: number): void {
    const r = this.#fast(addr, 1);
    if (r !== undefined) {
      r.dataView().setUint8(this.#hitOffset, value);
      return;
    }
    const v = this.#intView(addr, 1, true);
    if (v) v.view.setUint8(v.offset, value);
    else {
      this.#scratch.setUint8(0, value);
      this.#writeScratch(addr, 1);
    }
  }

  /** Write a little-endian u16 (modulo 2^16). @throws {GuestMemoryError} as {@link writeAll} */
  writeU16(addr: GuestAddress, value: number): void {
    const r = this.#fast(addr, 2);
    if (r !== undefined) {
      r.dataView().setUint16(this.#hitOffset, value, true);
      return;
    }
    const v = this.#intView(addr, 2, true);
    if (v) v.view.setUint16(v.offset, value, true);
    else {
      this.#scratch.setUint16(0, value, true);
      this.#writeScratch(addr, 2);
    }
  }

  /** Write a little-endian u32 (modulo 2^32). @throws {GuestMemoryError} as {@link writeAll} */
  writeU32(addr: GuestAddress, value: number): void {
    const r = this.#fast(addr, 4);
    if (r !== undefined) {
      r.dataView().setUint32(this.#hitOffset, value, true);
      return;
    }
    const v = this.#intView(addr, 4, true);
    if (v) v.view.setUint32(v.offset, value, true);
    else {
      this.#scratch.setUint32(0, value, true);
      this.#writeScratch(addr, 4);
    }
  }

  /** Write a little-endian u64 (modulo 2^64). @throws {GuestMemoryError} as {@link writeAll} */
  writeU64(addr: GuestAddress, value: bigint): void {
    const r = this.#fast(addr, 8);
    if (r !== undefined) {
      r.dataView().setBigUint64(this.#hitOffset, value, true);
      return;
    }
    const v = this.#intView(addr, 8, true);
    if (v) v.view.setBigUint64(v.offset, value, true);
    else {
      this.#scratch.setBigUint64(0, value, true);
      this.#writeScratch(addr, 8);
    }
  }

  /**
   * Decode a fixed-size record at `addr` (spanning regions if needed).
   *
   * @example
   * ```ts
   * const args = mem.readObject(addr, MapMemArgs);
   * ```
   * @throws {GuestMemoryError} as {@link readExact}
   */
  readObject<T>(addr: GuestAddress, codec: ByteCodec<T>): T {
    const { index, offset, count } = this.#span(addr, codec.size, true);
    const r = this.#regions[index] as GuestMemoryRegion;
    if (offset + count <= r.size) {
      const b = r.hostBytes();
      return codec.decode(new DataView(b.buffer, b.byteOffset + offset, codec.size));
    }
    return codec.decode(new DataView(this.readBytes(addr, codec.size).buffer));
  }

  /**
   * Encode a fixed-size record into guest memory at `addr`, all or nothing.
   *
   * @throws {GuestMemoryError} as {@link writeAll}
   */
  writeObject<T>(addr: GuestAddress, codec: ByteCodec<T>, value: T): void {
    const tmp = new DataView(new ArrayBuffer(codec.size));
    codec.encode(value, tmp);
    this.writeAll(addr, new Uint8Array(tmp.buffer));
  }

  /**
   * Read from an open file straight into guest memory at `addr` (no staging copy: `read(2)` lands in
   * the mapping), until `length` bytes or end of file. Returns the byte count.
   *
   * @param position - file offset to read from; `null` (default) reads from the current position
   * @throws {GuestMemoryError} OUT_OF_RANGE when `[addr, addr + length)` is not contiguous guest memory
   * @throws {GuestMemoryError} IO_ERROR when reading fails (the fs error is the cause)
   * @throws {GuestMemoryError} HOST_ACCESS_DENIED, INVALID_ADDRESS, INVALID_ARGUMENT, BACKING_UNMAPPED
   */
  writeFromFd(fd: number, addr: GuestAddress, length: number, position: number | null = null): number {
    if (length === 0) return 0;
    const { index, offset, count } = this.#span(addr, length, true);
    let done = 0;
    let pos = position;
    for (let i = index, off = offset; done < count; i++, off = 0) {
      const r = this.#regions[i] as GuestMemoryRegion;
      const bytes = r.hostBytes();
      const n = Math.min(r.size - off, count - done);
      let got = 0;
      while (got < n) {
        let k: number;
        try {
          k = readSync(fd, bytes, off + got, n - got, pos);
        } catch (e) {
          throw ioError(`reading fd ${fd}`, e);
        }
        if (k === 0) return done + got;
        got += k;
        if (pos !== null) pos += k;
      }
      done += n;
    }
    return done;
  }

  /**
   * Write `length` bytes of guest memory at `addr` to an open file (straight from the mapping).
   * Returns the byte count.
   *
   * @param position - file offset to write at; `null` (default) writes at the current position
   * @throws {GuestMemoryError} OUT_OF_RANGE when the range is not contiguous guest memory
   * @throws {GuestMemoryError} IO_ERROR when writing fails
   * @throws {GuestMemoryError} HOST_ACCESS_DENIED, INVALID_ADDRESS, INVALID_ARGUMENT, BACKING_UNMAPPED
   */
  readToFd(addr: GuestAddress, length: number, fd: number, position: number | null = null): number {
    if (length === 0) return 0;
    const { index, offset, count } = this.#span(addr, length, true);
    let done = 0;
    let pos = position;
    for (let i = index, off = offset; done < count; i++, off = 0) {
      const r = this.#regions[i] as GuestMemoryRegion;
      const bytes = r.hostBytes();
      const n = Math.min(r.size - off, count - done);
      let put = 0;
      while (put < n) {
        let k: number;
        try {
          k = writeSync(fd, bytes, off + put, n - put, pos);
        } catch (e) {
          throw ioError(`writing fd ${fd}`, e);
        }
        put += k;
        if (pos !== null) pos += k;
      }
      done += n;
    }
    return done;
  }

  /**
   * Load a whole file into guest memory at `addr` without staging it in the JS heap. Returns the size.
   *
   * @param maxLength - refuse files larger than this (default: the contiguous memory from `addr`)
   * @throws {GuestMemoryError} SOURCE_TOO_LARGE when the file is larger than `maxLength` or than the
   *   contiguous memory at `addr` (nothing is read), or grows while being read
   * @throws {GuestMemoryError} IO_ERROR when the file cannot be opened or read
   * @throws {GuestMemoryError} OUT_OF_RANGE, HOST_ACCESS_DENIED, INVALID_ADDRESS, BACKING_UNMAPPED
   */
  loadFile(path: string, addr: GuestAddress, maxLength?: number): number {
    if (maxLength !== undefined) checkLength(maxLength, 'maxLength');
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw ioError(`opening ${path}`, e);
    }
    try {
      let size: number;
      try {
        size = fstatSync(fd).size;
      } catch (e) {
        throw ioError(`stat ${path}`, e);
      }
      const a = checkAddr(addr);
      const i = this.#indexOf(a);
      if (i < 0) throw new GuestMemoryError('OUT_OF_RANGE', `${hex(a)} is not in guest memory`, { address: a });
      const room = this.#contiguous(i, a, Number.MAX_SAFE_INTEGER);
      const limit = Math.min(room, maxLength ?? room);
      if (size > limit) {
        throw new GuestMemoryError('SOURCE_TOO_LARGE', `${path} holds ${size} bytes; at most ${limit} fit at ${hex(a)}`, {
          address: a,
          length: size,
        });
      }
      const n = this.writeFromFd(fd, addr, size, 0);
      // A file that grew after fstat: refuse rather than silently truncate.
      const probe = new Uint8Array(1);
      let extra: number;
      try {
        extra = readSync(fd, probe, 0, 1, n);
      } catch (e) {
        throw ioError(`reading ${path}`, e);
      }
      if (extra !== 0) {
        throw new GuestMemoryError('SOURCE_TOO_LARGE', `${path} grew while it was loaded`, { address: a, length: n });
      }
      return n;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Copy a byte stream (a Node `Readable`, or any async iterable of byte chunks) into guest memory
   * from `addr` on. Each chunk is copied straight into region memory as it arrives. Returns the byte
   * count.
   *
   * @param maxLength - refuse streams longer than this (default: the contiguous memory from `addr`)
   * @throws {GuestMemoryError} SOURCE_TOO_LARGE when the stream yields more than `maxLength` bytes or
   *   more than fits (bytes up to the limit were written; the stream is not read further)
   * @throws {GuestMemoryError} IO_ERROR when the stream fails or yields something other than bytes
   * @throws {GuestMemoryError} OUT_OF_RANGE, HOST_ACCESS_DENIED, INVALID_ADDRESS, BACKING_UNMAPPED
   */
  async writeFromStream(source: AsyncIterable<Uint8Array | string>, addr: GuestAddress, maxLength?: number): Promise<number> {
    const a = checkAddr(addr);
    const i = this.#indexOf(a);
    if (i < 0) throw new GuestMemoryError('OUT_OF_RANGE', `${hex(a)} is not in guest memory`, { address: a });
    const room = this.#contiguous(i, a, Number.MAX_SAFE_INTEGER);
    if (maxLength !== undefined) checkLength(maxLength, 'maxLength');
    const limit = Math.min(room, maxLength ?? room);
    let done = 0;
    const iterator = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        let step: IteratorResult<Uint8Array | string>;
        try {
          step = await iterator.next();
        } catch (e) {
          throw ioError('reading stream', e);
        }
        if (step.done === true) break;
        const chunk = step.value;
        if (!(chunk instanceof Uint8Array)) {
          throw new GuestMemoryError('IO_ERROR', 'stream yielded a non-byte chunk (use a stream without an encoding)');
        }
        if (chunk.byteLength > limit - done) {
          const fits = limit - done;
          if (fits > 0) this.writeAll((a + BigInt(done)) as GuestAddress, chunk.subarray(0, fits));
          throw new GuestMemoryError('SOURCE_TOO_LARGE', `stream holds more than ${limit} bytes (the room at ${hex(a)})`, {
            address: a,
            length: limit,
          });
        }
        if (chunk.byteLength > 0) this.writeAll((a + BigInt(done)) as GuestAddress, chunk);
        done += chunk.byteLength;
      }
    } finally {
      // Stop a source we did not drain (error or limit).
      await iterator.return?.();
    }
    return done;
  }

  /**
   * Write `length` bytes of guest memory at `addr` to a byte sink (a Node `Writable`), in chunks of
   * at most 1 MiB, waiting for `drain` when the sink asks. Each chunk is a copy, so later guest writes
   * cannot change bytes still queued in the sink. Returns the byte count.
   *
   * @throws {GuestMemoryError} OUT_OF_RANGE when the range is not contiguous guest memory (nothing written)
   * @throws {GuestMemoryError} IO_ERROR when the sink fails or closes early
   * @throws {GuestMemoryError} HOST_ACCESS_DENIED, INVALID_ADDRESS, INVALID_ARGUMENT, BACKING_UNMAPPED
   */
  async readToStream(addr: GuestAddress, length: number, sink: ByteSink): Promise<number> {
    if (length === 0) return 0;
    this.#span(addr, length, true);
    let done = 0;
    while (done < length) {
      const n = Math.min(CHUNK, length - done);
      const chunk = this.readBytes((addr + BigInt(done)) as GuestAddress, n);
      done += n;
      if (!sink.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = (): void => {
            cleanup();
            resolve();
          };
          const onError = (e?: unknown): void => {
            cleanup();
            reject(ioError('writing stream', e));
          };
          const onClose = (): void => {
            cleanup();
            reject(new GuestMemoryError('IO_ERROR', 'stream closed before all bytes were written'));
          };
          const cleanup = (): void => {
            sink.off?.('drain', onDrain);
            sink.off?.('error', onError);
            sink.off?.('close', onClose);
          };
          sink.once('drain', onDrain);
          sink.once('error', onError);
          sink.once('close', onClose);
        });
      }
    }
    return done;
  }

  #regionAt(addr: GuestAddress | bigint): GuestMemoryRegion {
    const i = this.#indexOf(checkAddr(addr));
    const r = this.#regions[i];
    if (r === undefined) throw new GuestMemoryError('OUT_OF_RANGE', `${hex(addr)} is not in guest memory`, { address: addr });
    return r;
  }

  /**
   * Set the mode of the region holding `addr`. Allowed only before {@link revokeHostAccess} (modes are
   * fixed when the VM starts).
   *
   * @throws {GuestMemoryError} OUT_OF_RANGE when `addr` is not in memory
   * @throws {GuestMemoryError} HOST_ACCESS_DENIED after {@link revokeHostAccess}
   */
  setMode(addr: GuestAddress | bigint, mode: RegionMode): GuestMemoryRegion {
    const r = this.#regionAt(addr);
    if (this.#revoked) {
      throw new GuestMemoryError('HOST_ACCESS_DENIED', 'region modes are fixed once host access is revoked (the VM has started)', { address: r.start });
    }
    r.setMode(mode);
    return r;
  }

  /**
   * Mark the region holding `addr` as lent (taken from the host when the VM starts).
   *
   * @throws {GuestMemoryError} as {@link setMode}
   */
  markLent(addr: GuestAddress | bigint): GuestMemoryRegion {
    return this.setMode(addr, 'lent');
  }

  /**
   * Mark the region holding `addr` as shared (the host keeps access).
   *
   * @throws {GuestMemoryError} as {@link setMode}
   */
  markShared(addr: GuestAddress | bigint): GuestMemoryRegion {
    return this.setMode(addr, 'shared');
  }

  /**
   * Call at `VM_START`: every lent region refuses host access from now on (`HOST_ACCESS_DENIED`), and
   * with `unmap` its host mapping is released. Shared regions are untouched. Returns the lent regions.
   *
   * @throws {GuestMemoryError} BACKING_FAILED when unmapping fails
   */
  revokeHostAccess(options: RevokeOptions = {}): GuestMemoryRegion[] {
    const lent = this.#regions.filter((r) => r.mode === 'lent');
    this.#revoked = true;
    for (const r of lent) {
      r.setRevoked(true);
      if (options.unmap === true) r.backing.unmap();
    }
    return lent;
  }

  /**
   * Give the host access back (after the VM was destroyed and its memory reclaimed), mapping again
   * any region unmapped by {@link revokeHostAccess}.
   *
   * @throws {GuestMemoryError} BACKING_FAILED or BACKING_UNMAPPED when a region cannot be mapped again
   */
  restoreHostAccess(): void {
    for (const r of this.#regions) {
      if (r.hostAccess === 'revoked') {
        if (r.backing.bytes === undefined) r.backing.remap();
        r.setRevoked(false);
      }
    }
    this.#revoked = false;
  }

  /**
   * Unmap every region and close owned fds. Idempotent; later accesses fail with `BACKING_UNMAPPED`.
   * Every region is released even if one fails; the first failure is then thrown.
   *
   * @throws {GuestMemoryError} BACKING_FAILED when an `munmap` fails
   * @throws {ErrnoError} when closing an owned fd fails
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const errors: unknown[] = [];
    for (const r of this.#regions) {
      try {
        r.backing.close();
      } catch (e) {
        errors.push(e);
      }
    }
    for (const fd of this.#ownedFds) {
      try {
        sysClose(fd);
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length > 0) throw errors[0];
  }

  /** Same as {@link close}. @throws {GuestMemoryError} as {@link close} */
  [Symbol.dispose](): void {
    this.close();
  }
}
