/**
 * Error classes and the RM error-code table.
 *
 * spec/gunyah-rm-protocol.md §2: every reply payload starts with a u32 RM error code; Linux maps
 * the codes to errno values (`*_error_remap`).
 */

/**
 * RM error codes (spec/gunyah-rm-protocol.md §2), keyed by the RM's own names.
 * `MSG_INVALID` is called `INVALID` by Linux. Codes 0x12–0x14 are RM-only.
 */
export const RM_ERROR = {
  /** Success. */
  OK: 0x00,
  /** Unknown or unhandled message ID (also the answer for defined-but-unimplemented IDs). */
  UNIMPLEMENTED: 0xffffffff,
  /** Out of memory. */
  NOMEM: 0x01,
  /** No resource available (e.g. no free VMID; list count above 512). */
  NORESOURCE: 0x02,
  /** Caller not permitted. */
  DENIED: 0x03,
  /** Malformed message (length, reserved fields). Linux name: `INVALID`. */
  MSG_INVALID: 0x04,
  /** Busy. */
  BUSY: 0x05,
  /** An argument value is invalid. */
  ARGUMENT_INVALID: 0x06,
  /** Unknown handle. */
  HANDLE_INVALID: 0x07,
  /** Validation failed. */
  VALIDATE_FAILED: 0x08,
  /** Mapping failed. */
  MAP_FAILED: 0x09,
  /** Memory is not the caller's or not valid. */
  MEM_INVALID: 0x0a,
  /** Memory parcel still accepted by a borrower. */
  MEM_INUSE: 0x0b,
  /** Memory parcel already released. */
  MEM_RELEASED: 0x0c,
  /** Unknown VMID. */
  VMID_INVALID: 0x0d,
  /** Lookup failed. */
  LOOKUP_FAILED: 0x0e,
  /** Invalid IRQ. */
  IRQ_INVALID: 0x0f,
  /** IRQ in use. */
  IRQ_INUSE: 0x10,
  /** IRQ released. */
  IRQ_RELEASED: 0x11,
  /** Resource in use (RM only; Linux maps it to EBADMSG). */
  IN_USE: 0x12,
  /** IRQ not mapped (RM only). */
  IRQ_NOT_MAPPED: 0x13,
  /** The VM is in the wrong state for the request (RM only; Linux maps it to EBADMSG). */
  VM_STATE: 0x14,
} as const;

/** Name of a known RM error code. */
export type RmErrorName = keyof typeof RM_ERROR;

const ERROR_NAMES = new Map<number, RmErrorName>(
  (Object.entries(RM_ERROR) as [RmErrorName, number][]).map(([name, code]) => [code, name]),
);

/**
 * Name of an RM error code, or `UNKNOWN` for a code the spec does not list.
 *
 * @example
 * ```ts
 * rmErrorName(0x14); // 'VM_STATE'
 * ```
 */
export function rmErrorName(code: number): RmErrorName | 'UNKNOWN' {
  return ERROR_NAMES.get(code) ?? 'UNKNOWN';
}

/** A Linux errno, as a positive number with its symbolic name (x86-64/arm64 numbering). */
export interface LinuxErrno {
  /** Symbolic name, e.g. `EINVAL`; `OK` for success. */
  readonly name: 'OK' | 'EOPNOTSUPP' | 'ENOMEM' | 'ENODEV' | 'EPERM' | 'EINVAL' | 'EBUSY' | 'EBADMSG';
  /** Positive errno number (Linux returns its negation); 0 for success. */
  readonly errno: number;
}

const ERRNO = {
  OK: { name: 'OK', errno: 0 },
  EOPNOTSUPP: { name: 'EOPNOTSUPP', errno: 95 },
  ENOMEM: { name: 'ENOMEM', errno: 12 },
  ENODEV: { name: 'ENODEV', errno: 19 },
  EPERM: { name: 'EPERM', errno: 1 },
  EINVAL: { name: 'EINVAL', errno: 22 },
  EBUSY: { name: 'EBUSY', errno: 16 },
  EBADMSG: { name: 'EBADMSG', errno: 74 },
} as const satisfies Record<string, LinuxErrno>;

/**
 * The errno Linux reports for an RM error code (spec/gunyah-rm-protocol.md §2, v13 and v17 remap
 * tables agree). Codes Linux does not define (0x12–0x14 and anything unknown) map to `EBADMSG`.
 *
 * @example
 * ```ts
 * rmErrorToErrno(RM_ERROR.VM_STATE); // { name: 'EBADMSG', errno: 74 }
 * ```
 */
export function rmErrorToErrno(code: number): LinuxErrno {
  switch (code) {
    case RM_ERROR.OK:
      return ERRNO.OK;
    case RM_ERROR.UNIMPLEMENTED:
      return ERRNO.EOPNOTSUPP;
    case RM_ERROR.NOMEM:
      return ERRNO.ENOMEM;
    case RM_ERROR.NORESOURCE:
      return ERRNO.ENODEV;
    case RM_ERROR.DENIED:
      return ERRNO.EPERM;
    case RM_ERROR.BUSY:
      return ERRNO.EBUSY;
    default:
      if (code >= RM_ERROR.MSG_INVALID && code <= RM_ERROR.IRQ_RELEASED) return ERRNO.EINVAL;
      return ERRNO.EBADMSG;
  }
}

/** Options of {@link RmError}. */
export interface RmErrorOptions extends ErrorOptions {
  /** Message ID of the request that failed, when known. */
  readonly msgId?: number;
  /** Catalogue name of the request that failed, when known. */
  readonly messageName?: string;
  /** Bytes that followed the error code in the reply (e.g. a hypervisor error word). */
  readonly extra?: Uint8Array;
}

/**
 * The RM answered a request with a non-OK error code, or (server side) a handler wants to answer
 * with one. Data in fields: the code, its RM name and the Linux errno.
 *
 * @example
 * ```ts
 * // in a server handler:
 * throw new RmError('VM_STATE');
 * ```
 */
export class RmError extends Error {
  /** Always `'RmError'`. */
  override readonly name = 'RmError';
  /** The u32 RM error code as on the wire. */
  readonly rmErrorCode: number;
  /** RM name of the code (`UNKNOWN` when the spec does not list it). */
  readonly rmErrorName: RmErrorName | 'UNKNOWN';
  /** What Linux would report for this code. */
  readonly errno: LinuxErrno;
  /** Message ID of the failed request, when known. */
  readonly msgId: number | undefined;
  /** Catalogue name of the failed request, when known. */
  readonly messageName: string | undefined;
  /** Reply bytes after the error code (empty for a standard error reply). */
  readonly extra: Uint8Array;

  /**
   * @param code - an RM error code number or its name; must not be OK.
   * @param options - context and trailing reply bytes.
   * @throws {RangeError} when `code` is OK or not a u32.
   */
  constructor(code: number | RmErrorName, options: RmErrorOptions = {}) {
    const value = typeof code === 'number' ? code : RM_ERROR[code];
    if (!Number.isInteger(value) || value <= 0 || value > 0xffffffff) {
      throw new RangeError(`RmError needs a non-OK u32 RM error code, got ${String(code)}`);
    }
    const name = rmErrorName(value);
    const where = options.messageName ?? (options.msgId === undefined ? undefined : hex32(options.msgId));
    super(`RM error ${name} (0x${value.toString(16)})${where === undefined ? '' : ` for ${where}`}`, options);
    this.rmErrorCode = value;
    this.rmErrorName = name;
    this.errno = rmErrorToErrno(value);
    this.msgId = options.msgId;
    this.messageName = options.messageName;
    this.extra = options.extra ?? new Uint8Array(0);
  }
}

/** Codes of {@link RmProtocolError}: malformed fragments, messages and payloads. */
export type RmProtocolErrorCode =
  /** Fragment shorter than the 8-byte header. */
  | 'FRAGMENT_TOO_SHORT'
  /** Fragment longer than 240 bytes. */
  | 'FRAGMENT_TOO_LONG'
  /** API version nibble is not 1. */
  | 'BAD_API_VERSION'
  /** Header-words nibble is not 2. */
  | 'BAD_HEADER_WORDS'
  /** Continuation count above 62. */
  | 'TOO_MANY_FRAGMENTS'
  /** Continuation fragment with no message in progress. */
  | 'STRAY_CONTINUATION'
  /** Continuation whose continuation count differs from the first fragment's. */
  | 'CONTINUATION_COUNT_MISMATCH'
  /** Continuation whose sequence number differs from the first fragment's. */
  | 'SEQ_MISMATCH'
  /** Continuation whose message ID differs from the first fragment's. */
  | 'MSG_ID_MISMATCH'
  /** An incomplete multi-fragment message was discarded because a new message started. */
  | 'MESSAGE_ABORTED'
  /** A message payload exceeds the 14616-byte (63 × 232) limit, or a caller-set lower limit. */
  | 'MESSAGE_TOO_LARGE'
  /** A message of a type the receiver does not accept (e.g. a REQUEST sent to a client). */
  | 'UNEXPECTED_TYPE'
  /** A reply payload shorter than its 4-byte error code. */
  | 'REPLY_TOO_SHORT'
  /** Payload shorter than its layout requires. */
  | 'PAYLOAD_TRUNCATED'
  /** Bytes left over after the payload layout. */
  | 'PAYLOAD_TRAILING'
  /** A reserved or padding field is not zero. */
  | 'RESERVED_NONZERO'
  /** A field value is outside its range (encode) or inconsistent (decode). */
  | 'FIELD_OUT_OF_RANGE'
  /** Message ID not in the catalogue (or not of the expected kind). */
  | 'UNKNOWN_MESSAGE';

/**
 * A fragment, message or payload is malformed. Thrown by the framing layer, the reassembler and
 * every payload codec; `code` says which rule was broken.
 */
export class RmProtocolError extends Error {
  /** Always `'RmProtocolError'`. */
  override readonly name = 'RmProtocolError';
  /** Which rule the input broke. */
  readonly code: RmProtocolErrorCode;

  /**
   * @param code - the broken rule.
   * @param message - human-readable detail.
   * @param options - `{ cause }`.
   */
  constructor(code: RmProtocolErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Codes of {@link RmClientError}. */
export type RmClientErrorCode =
  /** No reply arrived within the timeout. */
  | 'TIMEOUT'
  /** A synchronous call returned without a reply (the server did not answer inline). */
  | 'NO_REPLY'
  /** The caller's AbortSignal fired. */
  | 'CANCELLED'
  /** The client was closed. */
  | 'CLOSED'
  /** The reply was being reassembled when another message started (Linux: -EIO). */
  | 'REPLY_ABORTED';

/** A call did not complete: timeout, cancellation, closed client or an aborted reply. */
export class RmClientError extends Error {
  /** Always `'RmClientError'`. */
  override readonly name = 'RmClientError';
  /** Why the call did not complete. */
  readonly code: RmClientErrorCode;

  /**
   * @param code - why the call did not complete.
   * @param message - human-readable detail.
   * @param options - `{ cause }`.
   */
  constructor(code: RmClientErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Codes of {@link RmTransportError}. */
export type RmTransportErrorCode =
  /** Message of 0 bytes (message queues reject size 0). */
  | 'EMPTY_MESSAGE'
  /** Message above the queue's maximum size (240 for RM queues). */
  | 'MESSAGE_TOO_LARGE'
  /** The transport is closed. */
  | 'CLOSED'
  /** A synchronous endpoint was given a transport whose `send` returned a promise. */
  | 'ASYNC_TRANSPORT'
  /** A synchronous transport's peer has no receive handler (the message would be lost). */
  | 'NO_RECEIVER';

/** A transport refused a message. */
export class RmTransportError extends Error {
  /** Always `'RmTransportError'`. */
  override readonly name = 'RmTransportError';
  /** Why the message was refused. */
  readonly code: RmTransportErrorCode;

  /**
   * @param code - why the message was refused.
   * @param message - human-readable detail.
   * @param options - `{ cause }`.
   */
  constructor(code: RmTransportErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** @internal Formats a u32 as `0x` + 8 hex digits. */
export function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}
