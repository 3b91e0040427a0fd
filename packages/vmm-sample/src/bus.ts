/**
 * An MMIO bus: devices registered on non-overlapping guest-physical ranges, found by binary search.
 * Devices see offsets from their range's base, never absolute addresses.
 *
 * @module
 */

/** A device on the bus. Accesses are 1, 2, 4 or 8 bytes wide; values are little-endian integers. */
export interface MmioDevice {
  /** Handle a read of `size` bytes at `offset` from the device's base; return the value read. */
  read(offset: number, size: number): bigint;
  /** Handle a write of `size` bytes of `value` at `offset` from the device's base. */
  write(offset: number, size: number, value: bigint): void;
}

/** Codes of {@link BusError}. */
export type BusErrorCode = 'EMPTY_RANGE' | 'RANGE_OVERFLOW' | 'OVERLAP' | 'BAD_ACCESS_SIZE';

/** A bus registration or access that breaks the bus rules. */
export class BusError extends Error {
  /** Always `'BusError'`. */
  override readonly name = 'BusError';
  /** What was wrong. */
  readonly code: BusErrorCode;

  /**
   * @param code - what was wrong
   * @param message - the explanation
   */
  constructor(code: BusErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

interface Entry {
  readonly base: bigint;
  readonly end: bigint; // exclusive
  readonly device: MmioDevice;
  readonly name: string;
}

/** One MMIO access as the vCPU loop reports it. */
export interface MmioAccess {
  /** Guest-physical address. */
  readonly addr: bigint;
  /** Access width in bytes: 1, 2, 4 or 8. */
  readonly size: number;
  /** Whether the guest writes. */
  readonly isWrite: boolean;
  /** The written value (writes only). */
  readonly value?: bigint;
}

/** The result of {@link MmioBus.dispatch}: for reads the value; `unhandled` when no device claims it. */
export type MmioResult =
  | {
      /** A device took the access. */
      readonly status: 'handled';
      /** The value read (0 for writes). */
      readonly value: bigint;
    }
  | {
      /** No device covers the whole access. */
      readonly status: 'unhandled';
    };

/** A registered range, as listed by {@link MmioBus.ranges}. */
export interface BusRange {
  /** First guest-physical address. */
  readonly base: bigint;
  /** Length in bytes. */
  readonly size: bigint;
  /** The name given at registration. */
  readonly name: string;
}

/** The device covering an address, as found by {@link MmioBus.find}. */
export interface BusHit {
  /** The device. */
  readonly device: MmioDevice;
  /** Offset of the address from the device's base. */
  readonly offset: number;
  /** The name given at registration. */
  readonly name: string;
}

const ADDRESS_LIMIT = 1n << 64n;

/**
 * Sorted, non-overlapping ranges with binary-search dispatch.
 *
 * @example
 * ```ts
 * const bus = new MmioBus();
 * bus.register(0x3f8n, 8n, uart, 'uart0');
 * bus.dispatch({ addr: 0x3fdn, size: 1, isWrite: false }); // { status: 'handled', value: 0x60n }
 * ```
 */
export class MmioBus {
  readonly #entries: Entry[] = [];

  /**
   * Put `device` at `[base, base + size)`.
   *
   * @throws {BusError} EMPTY_RANGE for size 0; RANGE_OVERFLOW past 2^64; OVERLAP with a registered range
   */
  register(base: bigint, size: bigint, device: MmioDevice, name = 'device'): void {
    if (size <= 0n) throw new BusError('EMPTY_RANGE', `${name}: MMIO range at 0x${base.toString(16)} has size 0`);
    if (base < 0n || base + size > ADDRESS_LIMIT)
      throw new BusError('RANGE_OVERFLOW', `${name}: MMIO range 0x${base.toString(16)}+0x${size.toString(16)} leaves the 64-bit address space`);
    const end = base + size;
    const i = this.#insertionPoint(base);
    const prev = this.#entries[i - 1];
    const next = this.#entries[i];
    for (const other of [prev, next]) {
      if (other && base < other.end && other.base < end) {
        throw new BusError(
          'OVERLAP',
          `${name}: MMIO range 0x${base.toString(16)}..0x${(end - 1n).toString(16)} overlaps ${other.name} at 0x${other.base.toString(16)}..0x${(other.end - 1n).toString(16)}`,
        );
      }
    }
    this.#entries.splice(i, 0, { base, end, device, name });
  }

  /** The registered ranges in address order. */
  ranges(): readonly BusRange[] {
    return this.#entries.map((e) => ({ base: e.base, size: e.end - e.base, name: e.name }));
  }

  // First index whose base is > addr.
  #insertionPoint(addr: bigint): number {
    let lo = 0;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#entries[mid] as Entry).base <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The device whose range holds all of `[addr, addr + size)`, with the offset into it. */
  find(addr: bigint, size = 1): BusHit | undefined {
    const e = this.#entries[this.#insertionPoint(addr) - 1];
    if (!e || addr < e.base || addr + BigInt(size) > e.end) return undefined;
    return { device: e.device, offset: Number(addr - e.base), name: e.name };
  }

  /**
   * Route one access. An access no device fully covers is `unhandled` (the caller decides: reads of
   * unclaimed space usually return 0, writes are dropped).
   *
   * @throws {BusError} BAD_ACCESS_SIZE for widths other than 1, 2, 4, 8
   */
  dispatch(access: MmioAccess): MmioResult {
    const { addr, size, isWrite } = access;
    if (size !== 1 && size !== 2 && size !== 4 && size !== 8) throw new BusError('BAD_ACCESS_SIZE', `MMIO access of ${size} bytes`);
    const hit = this.find(addr, size);
    if (!hit) return { status: 'unhandled' };
    if (isWrite) {
      hit.device.write(hit.offset, size, (access.value ?? 0n) & ((1n << BigInt(size * 8)) - 1n));
      return { status: 'handled', value: 0n };
    }
    return { status: 'handled', value: hit.device.read(hit.offset, size) & ((1n << BigInt(size * 8)) - 1n) };
  }
}
