import { GuestMemoryError, hex } from './errors.js';

declare const guestAddressBrand: unique symbol;

/**
 * A guest-physical address (an IPA on arm64): a `bigint` in `[0, 2^64)` carrying a brand, so an
 * address cannot be passed where a region offset (`number`) or a plain byte count is expected. Make
 * one with {@link guestAddress}; do arithmetic with {@link checkedAdd}, {@link addressAdd},
 * {@link alignUp}, … which keep the brand and check for overflow.
 */
export type GuestAddress = bigint & {
  /** Compile-time brand only; no such property exists at run time. */
  readonly [guestAddressBrand]: true;
};

/** The largest guest address, 2^64 − 1. */
export const MAX_GUEST_ADDRESS = (1n << 64n) - 1n;

/**
 * Make a {@link GuestAddress} from a bigint or a safe integer.
 *
 * @example
 * ```ts
 * const base = guestAddress(0x8000_0000);
 * ```
 * @throws {GuestMemoryError} INVALID_ADDRESS when `value` is negative, not an integer, not a safe
 *   integer (numbers), or ≥ 2^64
 */
export function guestAddress(value: bigint | number): GuestAddress {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new GuestMemoryError('INVALID_ADDRESS', `${String(value)} is not a guest address (need a non-negative safe integer or a bigint)`);
    }
    return BigInt(value) as GuestAddress;
  }
  if (typeof value !== 'bigint' || value < 0n || value > MAX_GUEST_ADDRESS) {
    throw new GuestMemoryError('INVALID_ADDRESS', `${String(value)} is not a guest address (need 0 … 2^64 − 1)`);
  }
  return value as GuestAddress;
}

function toBig(n: bigint | number, what: string): bigint {
  if (typeof n === 'bigint') return n;
  if (!Number.isSafeInteger(n)) throw new GuestMemoryError('INVALID_ARGUMENT', `${what} ${String(n)} is not a safe integer`);
  return BigInt(n);
}

/**
 * `addr + offset`, or `undefined` when the sum leaves `[0, 2^64)`. `offset` may be negative.
 *
 * @example
 * ```ts
 * checkedAdd(guestAddress(MAX_GUEST_ADDRESS), 1); // undefined
 * ```
 * @throws {GuestMemoryError} INVALID_ARGUMENT when `offset` is a number that is not a safe integer
 */
export function checkedAdd(addr: GuestAddress, offset: bigint | number): GuestAddress | undefined {
  const r = addr + toBig(offset, 'offset');
  return r < 0n || r > MAX_GUEST_ADDRESS ? undefined : (r as GuestAddress);
}

/**
 * `addr − offset`, or `undefined` when the result would be negative (or pass 2^64 − 1 for a negative
 * offset).
 *
 * @throws {GuestMemoryError} INVALID_ARGUMENT when `offset` is a number that is not a safe integer
 */
export function checkedSub(addr: GuestAddress, offset: bigint | number): GuestAddress | undefined {
  return checkedAdd(addr, -toBig(offset, 'offset'));
}

/**
 * `addr + offset`, throwing instead of leaving the address space.
 *
 * @throws {GuestMemoryError} ADDRESS_OVERFLOW when the sum leaves `[0, 2^64)`
 * @throws {GuestMemoryError} INVALID_ARGUMENT when `offset` is a number that is not a safe integer
 */
export function addressAdd(addr: GuestAddress, offset: bigint | number): GuestAddress {
  const r = checkedAdd(addr, offset);
  if (r === undefined) {
    throw new GuestMemoryError('ADDRESS_OVERFLOW', `${hex(addr)} + ${String(offset)} leaves the 64-bit guest address space`, {
      address: addr,
    });
  }
  return r;
}

/**
 * The distance `to − from` in bytes (may be negative), as a bigint.
 */
export function addressDiff(to: GuestAddress, from: GuestAddress): bigint {
  return to - from;
}

function checkAlign(align: bigint | number): bigint {
  const a = toBig(align, 'alignment');
  if (a <= 0n || (a & (a - 1n)) !== 0n || a > 1n << 63n) {
    throw new GuestMemoryError('INVALID_ALIGNMENT', `alignment ${String(align)} is not a power of two in 1 … 2^63`);
  }
  return a;
}

/**
 * Whether `addr` is a multiple of `align` (a power of two).
 *
 * @throws {GuestMemoryError} INVALID_ALIGNMENT when `align` is not a power of two
 */
export function isAligned(addr: GuestAddress | bigint, align: bigint | number): boolean {
  const a = checkAlign(align);
  return (addr & (a - 1n)) === 0n;
}

/**
 * The largest multiple of `align` (a power of two) that is ≤ `addr`.
 *
 * @example
 * ```ts
 * alignDown(guestAddress(0x8012_3456), 0x20_0000); // 0x8000_0000n
 * ```
 * @throws {GuestMemoryError} INVALID_ALIGNMENT when `align` is not a power of two
 */
export function alignDown(addr: GuestAddress, align: bigint | number): GuestAddress {
  const a = checkAlign(align);
  return (addr & ~(a - 1n)) as GuestAddress;
}

/**
 * The smallest multiple of `align` (a power of two) that is ≥ `addr`.
 *
 * @throws {GuestMemoryError} INVALID_ALIGNMENT when `align` is not a power of two
 * @throws {GuestMemoryError} ADDRESS_OVERFLOW when that multiple is above 2^64 − 1
 */
export function alignUp(addr: GuestAddress, align: bigint | number): GuestAddress {
  const a = checkAlign(align);
  const r = (addr + a - 1n) & ~(a - 1n);
  if (r > MAX_GUEST_ADDRESS) {
    throw new GuestMemoryError('ADDRESS_OVERFLOW', `aligning ${hex(addr)} up to ${hex(a)} leaves the 64-bit guest address space`, {
      address: addr,
    });
  }
  return r as GuestAddress;
}

/**
 * `0x`-prefixed hexadecimal form of an address, for messages and logs.
 */
export function formatAddress(addr: GuestAddress | bigint): string {
  return hex(addr);
}
