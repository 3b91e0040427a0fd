/**
 * Error classes of the KVM layer. Failed syscalls stay {@link @gunyah-ts/sys!ErrnoError}s (with
 * `op` naming the KVM ioctl); these classes cover what our own code rejects.
 *
 * @module
 */

/**
 * Why the KVM wrappers refused a request before or after talking to the kernel.
 *
 * - `API_VERSION`: `/dev/kvm` reports an API version other than 12.
 * - `UNSUPPORTED`: the kernel lacks a feature (for example the SMCCC filter, Linux ≥ 6.4).
 * - `BAD_ARGUMENT`: an argument is out of range (slot, size, alignment, register number, length).
 * - `CLOSED`: the object's fd was closed.
 * - `BAD_STATE`: the call is out of order (vGIC initialised twice, MMIO completion with no
 *   pending read, a vCPU created after the vGIC was initialised).
 */
export type KvmErrorCode = 'API_VERSION' | 'UNSUPPORTED' | 'BAD_ARGUMENT' | 'CLOSED' | 'BAD_STATE';

/**
 * A request the KVM layer rejected. Compare {@link KvmError.code}, never the message.
 *
 * @example
 * ```ts
 * try { vm.setSmcccFilter({ base: 0x86000000, count: 0x10000, action: 'forward' }); }
 * catch (e) { if (e instanceof KvmError && e.code === 'UNSUPPORTED') skip(); }
 * ```
 */
export class KvmError extends Error {
  /** Always `'KvmError'`. */
  override readonly name = 'KvmError';
  /** What went wrong. */
  readonly code: KvmErrorCode;

  /**
   * @param code - the reason
   * @param message - human-readable detail
   * @param options - standard error options (`cause`)
   */
  constructor(code: KvmErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Why the `kvm_run` decoder refused a run page.
 *
 * - `TRUNCATED`: the buffer is smaller than the fixed part of `kvm_run` (304 bytes).
 * - `BAD_MMIO_LEN`: an MMIO exit with `len` outside 1…8.
 * - `BAD_NDATA`: a system-event or internal-error exit with `ndata` above 16.
 * - `DETACHED`: the run page was unmapped (its ArrayBuffer is detached).
 */
export type KvmRunErrorCode = 'TRUNCATED' | 'BAD_MMIO_LEN' | 'BAD_NDATA' | 'DETACHED';

/**
 * A `kvm_run` page whose contents cannot be decoded. The kernel never writes such values; a test
 * (or a corrupted mapping) can.
 */
export class KvmRunError extends Error {
  /** Always `'KvmRunError'`. */
  override readonly name = 'KvmRunError';
  /** What went wrong. */
  readonly code: KvmRunErrorCode;
  /** The offending field value, when there is one. */
  readonly value: number | undefined;

  /**
   * @param code - the reason
   * @param message - human-readable detail
   * @param value - the offending field value
   */
  constructor(code: KvmRunErrorCode, message: string, value?: number) {
    super(message);
    this.code = code;
    this.value = value;
  }
}
