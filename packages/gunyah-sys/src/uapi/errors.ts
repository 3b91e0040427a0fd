/**
 * Error class of the uapi codecs.
 *
 * @module
 */

/**
 * Why a uapi codec refused its input.
 *
 * - `TRUNCATED`: the buffer is shorter than the struct (or the run page shorter than 40 bytes).
 * - `DETACHED`: the buffer was detached (for example the run page after `munmap`).
 * - `FIELD_OUT_OF_RANGE`: a value does not fit its field (negative, fractional, too wide, not a number).
 * - `NOT_IN_VARIANT`: the field does not exist in this ABI variant (for example `resume_action` in A).
 */
export type UapiErrorCode = 'TRUNCATED' | 'DETACHED' | 'FIELD_OUT_OF_RANGE' | 'NOT_IN_VARIANT';

/**
 * A uapi encoder, decoder or run-page accessor rejected its input. `struct` and `field` name the place.
 *
 * @example
 * ```ts
 * try { FnVcpuArg.encode({ id: -1 }); } catch (e) { if (e instanceof UapiError) e.code; } // 'FIELD_OUT_OF_RANGE'
 * ```
 */
export class UapiError extends Error {
  /** Always `'UapiError'`. */
  override readonly name = 'UapiError';
  /** What went wrong. */
  readonly code: UapiErrorCode;
  /** The C struct concerned, e.g. `'gunyah_fn_desc'`. */
  readonly struct: string;
  /** The field concerned, when one is. */
  readonly field: string | undefined;

  /**
   * @param code - the failure kind
   * @param struct - the C struct name
   * @param message - human-readable detail
   * @param field - the field name, if any
   */
  constructor(code: UapiErrorCode, struct: string, message: string, field?: string) {
    super(`${struct}${field !== undefined ? `.${field}` : ''}: ${message}`);
    this.code = code;
    this.struct = struct;
    this.field = field;
  }
}
