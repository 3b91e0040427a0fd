/**
 * What went wrong in a guest-memory operation. One code per failure:
 *
 * - `INVALID_ADDRESS`: a value that is not a guest address (negative, not an integer, ≥ 2^64).
 * - `INVALID_ALIGNMENT`: an alignment that is not a power of two.
 * - `ADDRESS_OVERFLOW`: address arithmetic that would pass 2^64 − 1 (or go below 0).
 * - `INVALID_REGION`: a region with a zero or unsafe size, a backing smaller than the region, or a
 *   memfd region whose size or file offset is not page aligned.
 * - `EMPTY_MEMORY`: a memory built from no regions.
 * - `UNSORTED_REGIONS`: regions not given in increasing address order.
 * - `OVERLAPPING_REGIONS`: two regions sharing at least one address.
 * - `OUT_OF_RANGE`: an access starting outside every region, or an all-or-error access that runs
 *   past the end of contiguous memory.
 * - `INVALID_ARGUMENT`: a malformed argument (negative length, a length that is not a safe integer).
 * - `HOST_ACCESS_DENIED`: host access to a lent region after {@link GuestMemory.revokeHostAccess}.
 * - `BACKING_UNMAPPED`: the region's host mapping was released (unmapped or closed).
 * - `BACKING_FAILED`: creating or mapping a memfd failed (the `ErrnoError` is the `cause`).
 * - `SOURCE_TOO_LARGE`: a file or stream holds more bytes than the destination allows.
 * - `IO_ERROR`: reading or writing a file or stream failed (the original error is the `cause`).
 */
export type GuestMemoryErrorCode =
  | 'INVALID_ADDRESS'
  | 'INVALID_ALIGNMENT'
  | 'ADDRESS_OVERFLOW'
  | 'INVALID_REGION'
  | 'EMPTY_MEMORY'
  | 'UNSORTED_REGIONS'
  | 'OVERLAPPING_REGIONS'
  | 'OUT_OF_RANGE'
  | 'INVALID_ARGUMENT'
  | 'HOST_ACCESS_DENIED'
  | 'BACKING_UNMAPPED'
  | 'BACKING_FAILED'
  | 'SOURCE_TOO_LARGE'
  | 'IO_ERROR';

/** Extra data attached to a {@link GuestMemoryError}. */
export interface GuestMemoryErrorDetails {
  /** The guest address the failing operation concerned, when there is one. */
  readonly address?: bigint;
  /** The byte count the failing operation asked for, when there is one. */
  readonly length?: number;
  /** Index of the region concerned (in {@link GuestMemory.regions} or the constructor input). */
  readonly regionIndex?: number;
}

/**
 * A guest-memory operation failed. Compare {@link GuestMemoryError.code}, never the message.
 *
 * @example
 * ```ts
 * try { mem.readExact(guestAddress(0x1000), out); }
 * catch (e) { if (e instanceof GuestMemoryError && e.code === 'OUT_OF_RANGE') { … } }
 * ```
 */
export class GuestMemoryError extends Error {
  /** Always `'GuestMemoryError'`. */
  override readonly name = 'GuestMemoryError';
  /** What went wrong. */
  readonly code: GuestMemoryErrorCode;
  /** The guest address concerned, if any. */
  readonly address: bigint | undefined;
  /** The byte count concerned, if any. */
  readonly length: number | undefined;
  /** The region index concerned, if any. */
  readonly regionIndex: number | undefined;

  /**
   * @param code - what went wrong
   * @param message - a sentence for people
   * @param details - the address, length and region concerned
   * @param options - `cause`
   */
  constructor(code: GuestMemoryErrorCode, message: string, details: GuestMemoryErrorDetails = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.address = details.address;
    this.length = details.length;
    this.regionIndex = details.regionIndex;
  }
}

/** Hex form of an address for messages. @internal */
export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}
