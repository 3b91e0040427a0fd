/**
 * Error classes of the package: one per concern, each with a string-literal `code`.
 *
 * @module
 */

/**
 * What a driver did wrong in a virtqueue (every code marks the device broken, never the host):
 *
 * - `INDEX_OUT_OF_RANGE`: a head or `next` index at or past the queue (or indirect table) size.
 * - `LOOP`: a chain that visits a descriptor twice.
 * - `CHAIN_TOO_LONG`: a chain longer than the queue size or the indirect limit.
 * - `ADDRESS_OUT_OF_RANGE`: a buffer or ring not wholly inside guest memory.
 * - `ADDRESS_OVERFLOW`: a buffer whose `addr + len` passes 2^64.
 * - `TOTAL_LENGTH_TOO_LARGE`: a chain whose buffers add up to more than the limit (2^32 − 1 bytes).
 * - `NESTED_INDIRECT`: an indirect descriptor inside an indirect table.
 * - `INDIRECT_WITH_NEXT`: a descriptor with both `INDIRECT` and `NEXT` set.
 * - `INDIRECT_NOT_NEGOTIATED`: an indirect descriptor without `VIRTIO_RING_F_INDIRECT_DESC`.
 * - `BAD_INDIRECT_LENGTH`: an indirect table of length 0, not a multiple of 16, or over the limit.
 * - `WRITE_BEFORE_READ`: a device-readable buffer after a device-writable one.
 * - `AVAIL_IDX_JUMP`: `avail.idx` ahead of the device by more than the queue size.
 * - `USED_OVERFLOW`: the device completed more chains than it took (a device-model bug).
 * - `BAD_REQUEST`: a chain whose contents the device cannot make sense of (too short, no status byte).
 * - `MEMORY`: guest memory refused an access (the `GuestMemoryError` of `@gunyah-ts/vm-memory` is
 *   the `cause`).
 * - `BAD_QUEUE_CONFIG`: a queue whose size, alignment or placement breaks the rules.

 */
export type VirtqueueErrorCode =
  | 'INDEX_OUT_OF_RANGE'
  | 'LOOP'
  | 'CHAIN_TOO_LONG'
  | 'ADDRESS_OUT_OF_RANGE'
  | 'ADDRESS_OVERFLOW'
  | 'TOTAL_LENGTH_TOO_LARGE'
  | 'NESTED_INDIRECT'
  | 'INDIRECT_WITH_NEXT'
  | 'INDIRECT_NOT_NEGOTIATED'
  | 'BAD_INDIRECT_LENGTH'
  | 'WRITE_BEFORE_READ'
  | 'AVAIL_IDX_JUMP'
  | 'USED_OVERFLOW'
  | 'BAD_REQUEST'
  | 'MEMORY'
  | 'BAD_QUEUE_CONFIG';

/**
 * A virtqueue broke the rules. Thrown by {@link SplitQueue} and the chain helpers; the transport
 * catches it, marks the device `DEVICE_NEEDS_RESET` and reports it through `onError`.
 *
 * @example
 * ```ts
 * try { queue.pop(); } catch (e) { if (e instanceof VirtqueueError && e.code === 'LOOP') { … } }
 * ```
 */
export class VirtqueueError extends Error {
  /** Always `'VirtqueueError'`. */
  override readonly name = 'VirtqueueError';
  /** What was wrong. */
  readonly code: VirtqueueErrorCode;
  /** Queue index, when known. */
  readonly queue: number | undefined;
  /** Descriptor index concerned, when there is one. */
  readonly descriptor: number | undefined;

  /**
   * @param code - what was wrong
   * @param message - a sentence for people
   * @param details - queue and descriptor index
   * @param options - `cause`
   */
  constructor(code: VirtqueueErrorCode, message: string, details: { queue?: number; descriptor?: number } = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.queue = details.queue;
    this.descriptor = details.descriptor;
  }
}

/**
 * What went wrong outside the queues:
 *
 * - `INVALID_OPTION`: a constructor or helper option out of range (thrown to the VMM).
 * - `FILE_ERROR`: a backing file could not be opened or examined (thrown to the VMM).
 * - `BAD_REGISTER_ACCESS`: the driver used a wrong width, an unaligned or unknown register, or wrote
 *   a read-only one (reported, the access is ignored).
 * - `STATUS_VIOLATION`: the driver set status bits out of order or cleared bits without a reset
 *   (reported, the write is ignored).
 * - `FEATURE_VIOLATION`: the driver accepted features the device did not offer, left out
 *   `VIRTIO_F_VERSION_1`, or wrote features at the wrong time (reported; `FEATURES_OK` is refused).
 * - `QUEUE_CONFIG`: the driver configured a queue badly or at the wrong time (reported, ignored).
 * - `ACTIVATE_FAILED`: the device could not start at `DRIVER_OK` (device marked broken).
 * - `DEVICE_ERROR`: a device model failed unexpectedly (device marked broken).
 */
export type VirtioErrorCode =
  | 'INVALID_OPTION'
  | 'FILE_ERROR'
  | 'BAD_REGISTER_ACCESS'
  | 'STATUS_VIOLATION'
  | 'FEATURE_VIOLATION'
  | 'QUEUE_CONFIG'
  | 'ACTIVATE_FAILED'
  | 'DEVICE_ERROR';

/**
 * A transport or device problem other than a broken virtqueue. Driver mistakes are reported through
 * the transport's `onError` and never thrown into the MMIO path; only construction errors
 * (`INVALID_OPTION`, `FILE_ERROR`) are thrown.
 *
 * @example
 * ```ts
 * new VirtioMmioTransport(dev, { memory, trigger, onError: (e) => log(e.code, e.message) });
 * ```
 */
export class VirtioError extends Error {
  /** Always `'VirtioError'`. */
  override readonly name = 'VirtioError';
  /** What was wrong. */
  readonly code: VirtioErrorCode;

  /**
   * @param code - what was wrong
   * @param message - a sentence for people
   * @param options - `cause`
   */
  constructor(code: VirtioErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
