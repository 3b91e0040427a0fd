import type { GuestAddress } from './address.js';
import type { GuestMemoryBacking } from './backing.js';
import { GuestMemoryError, hex } from './errors.js';

/**
 * How a region is given to the guest (spec/gunyah-uapi.md §5.1–§5.2, §6.5): `shared` memory stays
 * accessible to the host while the VM runs; `lent` memory is taken away from the host at `VM_START`.
 */
export type RegionMode = 'shared' | 'lent';

/** Whether the host may touch a region's bytes now. */
export type HostAccess = 'allowed' | 'revoked';

/**
 * One contiguous range of guest-physical memory backed by host bytes. Made by {@link GuestMemory};
 * its mode and host-access state change only through the memory that owns it.
 */
export class GuestMemoryRegion {
  /** First guest address. */
  readonly start: GuestAddress;
  /** Size in bytes. */
  readonly size: number;
  /** One past the last guest address (may equal 2^64). */
  readonly end: bigint;
  /** The host memory. */
  readonly backing: GuestMemoryBacking;
  /** Optional name for messages and logs. */
  readonly label: string | undefined;
  /** `start` as a number when below 2^53, else NaN (fast-path lookups). @internal */
  readonly startNumber: number;
  #mode: RegionMode;
  #revoked = false;
  #viewBytes: Uint8Array | undefined;
  #view: DataView | undefined;

  /** @internal */
  constructor(start: GuestAddress, size: number, backing: GuestMemoryBacking, mode: RegionMode, label: string | undefined) {
    this.start = start;
    this.size = size;
    this.end = start + BigInt(size);
    this.startNumber = start <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(start) : Number.NaN;
    this.backing = backing;
    this.#mode = mode;
    this.label = label;
  }

  /** The last guest address of the region. */
  get lastAddress(): GuestAddress {
    return (this.end - 1n) as GuestAddress;
  }

  /** `shared` or `lent`. */
  get mode(): RegionMode {
    return this.#mode;
  }

  /** `revoked` once the owning memory revoked host access to this (lent) region. */
  get hostAccess(): HostAccess {
    return this.#revoked ? 'revoked' : 'allowed';
  }

  /** The backing memfd (memfd backings), to register the region or map it in a worker. */
  get fd(): number | undefined {
    return this.backing.fd;
  }

  /** Offset of the region's first byte in {@link fd}. */
  get fileOffset(): number | undefined {
    return this.backing.fileOffset;
  }

  /** Host virtual address of the region's first byte while mapped (`userspace_addr`). */
  get hostAddress(): bigint | undefined {
    return this.backing.hostAddress;
  }

  /** Whether `addr` lies in this region. */
  contains(addr: bigint): boolean {
    return addr >= this.start && addr < this.end;
  }

  /**
   * The region offset of `addr`.
   *
   * @throws {GuestMemoryError} OUT_OF_RANGE when `addr` is not in this region
   */
  offsetOf(addr: bigint): number {
    if (!this.contains(addr)) {
      throw new GuestMemoryError('OUT_OF_RANGE', `${hex(addr)} is not in region [${hex(this.start)}, ${hex(this.end)})`, { address: addr });
    }
    return Number(addr - this.start);
  }

  /** @internal */
  setMode(mode: RegionMode): void {
    this.#mode = mode;
  }

  /** @internal */
  setRevoked(revoked: boolean): void {
    this.#revoked = revoked;
  }

  /**
   * The host bytes, checking host access. The hot path of every access: one flag test and one
   * property read.
   *
   * @internal
   */
  hostBytes(): Uint8Array {
    if (this.#revoked) {
      throw new GuestMemoryError(
        'HOST_ACCESS_DENIED',
        `region [${hex(this.start)}, ${hex(this.end)}) is lent to the running VM; the host may not access it`,
        { address: this.start },
      );
    }
    const b = this.backing.bytes;
    if (b === undefined || b.byteLength < this.size) {
      throw new GuestMemoryError('BACKING_UNMAPPED', `region [${hex(this.start)}, ${hex(this.end)}) has no host mapping`, {
        address: this.start,
      });
    }
    return b;
  }

  /** A cached little-endian-capable DataView over {@link hostBytes}. @internal */
  dataView(): DataView {
    const b = this.hostBytes();
    if (this.#viewBytes !== b || this.#view === undefined) {
      this.#viewBytes = b;
      this.#view = new DataView(b.buffer, b.byteOffset, this.size);
    }
    return this.#view;
  }
}
