/**
 * Error class for the hypercall ABI helpers of `@gunyah-ts/sys`.
 *
 * @module
 */

/**
 * Why a hypercall ABI encoder, decoder or lookup rejected its input.
 *
 * - `NOT_U16` / `NOT_U32` / `NOT_U64`: a value is not an integer in the range of the field or
 *   register it stands for (negative, too large, fractional, `NaN`, not a number/bigint).
 * - `FIELD_OUT_OF_RANGE`: a named field does not fit its bit width (for example an SMCCC owner
 *   above 63, a native call number above 0x1FF, a queue depth above 256).
 * - `SMCCC_RESERVED_BITS`: bits 23:17 of an SMCCC function ID are not zero.
 * - `RESERVED_BITS_SET`: a strict decode found bits set that the spec defines as zero.
 * - `NOT_GUNYAH_IMMEDIATE`: an `hvc` immediate outside Gunyah's 0x6000–0x61FF range.
 * - `UNKNOWN_HYPERCALL`: no hypercall with that name, number or function ID in the table.
 * - `FORM_NOT_AVAILABLE`: the hypercall is not known to exist in the requested calling form.
 * - `INCOMPLETE_SIGNATURE`: the spec does not give all inputs/outputs of the hypercall (watchdog),
 *   so its registers cannot be encoded or its results decoded.
 * - `MISSING_ARGUMENT` / `UNEXPECTED_ARGUMENT`: an argument object does not match the
 *   hypercall's input or output list.
 * - `TRUNCATED_REGISTERS`: fewer registers than the call's inputs or outputs need.
 * - `BAD_LENGTH`: a byte array or register tuple has the wrong length.
 * - `BAD_UUID`: a UUID string is not in the 8-4-4-4-12 hexadecimal form.
 * - `UNKNOWN_SERIES`: a Linux patch-series name the errno mapping does not model.
 * - `MESSAGE_SIZE`: a message-queue message is empty or larger than the queue allows.
 * - `BAD_CALL_RESULT`: a detection callback returned something that is not four or more u64
 *   registers.
 */
export type HypercallErrorCode =
  | 'NOT_U16'
  | 'NOT_U32'
  | 'NOT_U64'
  | 'FIELD_OUT_OF_RANGE'
  | 'SMCCC_RESERVED_BITS'
  | 'RESERVED_BITS_SET'
  | 'NOT_GUNYAH_IMMEDIATE'
  | 'UNKNOWN_HYPERCALL'
  | 'FORM_NOT_AVAILABLE'
  | 'INCOMPLETE_SIGNATURE'
  | 'MISSING_ARGUMENT'
  | 'UNEXPECTED_ARGUMENT'
  | 'TRUNCATED_REGISTERS'
  | 'BAD_LENGTH'
  | 'BAD_UUID'
  | 'UNKNOWN_SERIES'
  | 'MESSAGE_SIZE'
  | 'BAD_CALL_RESULT';

/**
 * Thrown by the hypercall ABI helpers for malformed IDs, register values and arguments.
 *
 * Tests and callers compare {@link HypercallError.code}, never the message. The offending value,
 * when there is one, is in {@link HypercallError.value}.
 *
 * @example
 * ```ts
 * try {
 *   decodeSmcccFunctionId(0xc6fe8000);
 * } catch (e) {
 *   if (e instanceof HypercallError && e.code === 'SMCCC_RESERVED_BITS') {
 *     // Gunyah answers such an ID with "unknown function"
 *   }
 * }
 * ```
 */
export class HypercallError extends Error {
  /** Always `'HypercallError'`. */
  override readonly name = 'HypercallError';
  /** Machine-readable reason; see {@link HypercallErrorCode}. */
  readonly code: HypercallErrorCode;
  /** The rejected value, when the error is about a single value. */
  readonly value: unknown;

  /**
   * @param code - the reason.
   * @param message - human-readable detail.
   * @param value - the rejected value, if any.
   * @param options - standard `ErrorOptions` (`cause`).
   */
  constructor(code: HypercallErrorCode, message: string, value?: unknown, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.value = value;
  }
}

/**
 * Renders any value for an error message without ever throwing (objects without a prototype,
 * throwing `toString`, symbols).
 *
 * @internal
 */
export function show(value: unknown): string {
  try {
    const text = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value) : String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Largest u64 value.
 *
 * @internal
 */
export const U64_MAX = (1n << 64n) - 1n;

/**
 * Checks that `value` is an integer in 0..2^bits-1 given as a `number` and returns it.
 *
 * @internal
 */
export function checkUint(value: unknown, bits: 16 | 32, what: string): number {
  const max = bits === 16 ? 0xffff : 0xffff_ffff;
  if (typeof value === 'bigint') {
    if (value < 0n || value > BigInt(max)) {
      throw new HypercallError(bits === 16 ? 'NOT_U16' : 'NOT_U32', `${what} is not a u${bits}: ${value}`, value);
    }
    return Number(value);
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new HypercallError(
      bits === 16 ? 'NOT_U16' : 'NOT_U32',
      `${what} is not a u${bits}: ${show(value)}`,
      value,
    );
  }
  return value;
}

/**
 * Checks that `value` is a u64 (a `bigint`, or a non-negative safe-integer `number`) and returns
 * it as a `bigint`.
 *
 * @internal
 */
export function checkU64(value: unknown, what: string): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) {
      throw new HypercallError('NOT_U64', `${what} is not a u64: ${value}`, value);
    }
    return value;
  }
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    return BigInt(value);
  }
  throw new HypercallError('NOT_U64', `${what} is not a u64: ${show(value)}`, value);
}

/**
 * Checks that an integer field fits `bits` bits and returns it.
 *
 * @internal
 */
export function checkField(value: unknown, bits: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new HypercallError('FIELD_OUT_OF_RANGE', `${what} does not fit ${bits} bits: ${show(value)}`, value);
  }
  return value;
}

/**
 * Checks a boolean field.
 *
 * @internal
 */
export function checkBool(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') {
    throw new HypercallError('FIELD_OUT_OF_RANGE', `${what} must be a boolean: ${show(value)}`, value);
  }
  return value;
}
