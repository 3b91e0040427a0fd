/**
 * Gunyah hypercall error codes (spec/gunyah-hypercalls.md §4) and the Linux driver's
 * error → errno mapping in each patch-series generation (§4.1).
 *
 * @module
 */

import { HypercallError, U64_MAX, show } from './errors.js';

/**
 * Gunyah error codes, keyed by the hypervisor's name without its `ERROR_` prefix (spec §4).
 * The value is returned in x0 as a signed 64-bit number (0 = OK).
 *
 * The names of 90–94 are the hypervisor's `ERROR_STRING_*` logging errors; the spec abbreviates
 * the last four after `ERROR_STRING_TRUNCATED`, and we spell them with the same prefix.
 */
export const GUNYAH_ERROR = {
  /** 0: success. */
  OK: 0,
  /** -1: call not implemented; also the answer to unknown IDs. */
  UNIMPLEMENTED: -1,
  /** -2: transient; retry. */
  RETRY: -2,
  /** 1: bad argument (including a non-zero res0). */
  ARGUMENT_INVALID: 1,
  /** 2: bad size. */
  ARGUMENT_SIZE: 2,
  /** 3: misaligned. */
  ARGUMENT_ALIGNMENT: 3,
  /** 10: allocation failed. */
  NOMEM: 10,
  /** 11: out of resources. */
  NORESOURCES: 11,
  /** 20: address overflow. */
  ADDR_OVERFLOW: 20,
  /** 21: address underflow. */
  ADDR_UNDERFLOW: 21,
  /** 22: address invalid or unmapped. */
  ADDR_INVALID: 22,
  /** 30: not permitted. */
  DENIED: 30,
  /** 31: busy. */
  BUSY: 31,
  /** 32: idle. */
  IDLE: 32,
  /** 33: wrong object state. */
  OBJECT_STATE: 33,
  /** 34: object configuration error. */
  OBJECT_CONFIG: 34,
  /** 35: already configured. */
  OBJECT_CONFIGURED: 35,
  /** 36: generic failure. */
  FAILURE: 36,
  /** 40: vIRQ already bound. */
  VIRQ_BOUND: 40,
  /** 41: vIRQ not bound. */
  VIRQ_NOT_BOUND: 41,
  /** 50: invalid capability ID. */
  CSPACE_CAP_NULL: 50,
  /** 51: capability revoked. */
  CSPACE_CAP_REVOKED: 51,
  /** 52: wrong object type. */
  CSPACE_WRONG_OBJECT_TYPE: 52,
  /** 53: missing right. */
  CSPACE_INSUFFICIENT_RIGHTS: 53,
  /** 54: capability space full. */
  CSPACE_FULL: 54,
  /** 60: message queue empty. */
  MSGQUEUE_EMPTY: 60,
  /** 61: message queue full. */
  MSGQUEUE_FULL: 61,
  /** 90: internal logging: string truncated. */
  STRING_TRUNCATED: 90,
  /** 91: internal logging: reached end. */
  STRING_REACHED_END: 91,
  /** 92: internal logging: invalid format. */
  STRING_INVALID_FORMAT: 92,
  /** 93: internal logging: missing placeholder. */
  STRING_MISSING_PLACEHOLDER: 93,
  /** 94: internal logging: missing argument. */
  STRING_MISSING_ARGUMENT: 94,
  /** 100: allocator: ranges overlap. */
  ALLOCATOR_RANGE_OVERLAPPING: 100,
  /** 101: allocator: memory in use. */
  ALLOCATOR_MEM_INUSE: 101,
  /** 110: memory database: empty. */
  MEMDB_EMPTY: 110,
  /** 111: memory database: not the owner. */
  MEMDB_NOT_OWNER: 111,
  /** 120: memory extent already has the maximum number of mappings. */
  MEMEXTENT_MAPPINGS_FULL: 120,
  /** 121: wrong memory extent type. */
  MEMEXTENT_TYPE: 121,
  /** 200: a mapping already exists. */
  EXISTING_MAPPING: 200,
} as const;

/** Name of a Gunyah error code (a key of {@link GUNYAH_ERROR}). */
export type GunyahErrorName = keyof typeof GUNYAH_ERROR;

/**
 * The Linux v17 driver's names for the error codes it defines (spec §4), without the
 * `GUNYAH_ERROR_` prefix. Codes Linux does not define are absent. The values are identical in the
 * v10, v11, v14 and v17 series.
 */
export const GUNYAH_ERROR_LINUX_NAMES: { readonly [K in GunyahErrorName]?: string } = {
  OK: 'OK',
  UNIMPLEMENTED: 'UNIMPLEMENTED',
  RETRY: 'RETRY',
  ARGUMENT_INVALID: 'ARG_INVAL',
  ARGUMENT_SIZE: 'ARG_SIZE',
  ARGUMENT_ALIGNMENT: 'ARG_ALIGN',
  NOMEM: 'NOMEM',
  ADDR_OVERFLOW: 'ADDR_OVFL',
  ADDR_UNDERFLOW: 'ADDR_UNFL',
  ADDR_INVALID: 'ADDR_INVAL',
  DENIED: 'DENIED',
  BUSY: 'BUSY',
  IDLE: 'IDLE',
  VIRQ_BOUND: 'IRQ_BOUND',
  VIRQ_NOT_BOUND: 'IRQ_UNBOUND',
  CSPACE_CAP_NULL: 'CSPACE_CAP_NULL',
  CSPACE_CAP_REVOKED: 'CSPACE_CAP_REVOKED',
  CSPACE_WRONG_OBJECT_TYPE: 'CSPACE_WRONG_OBJ_TYPE',
  CSPACE_INSUFFICIENT_RIGHTS: 'CSPACE_INSUF_RIGHTS',
  CSPACE_FULL: 'CSPACE_FULL',
  MSGQUEUE_EMPTY: 'MSGQUEUE_EMPTY',
  MSGQUEUE_FULL: 'MSGQUEUE_FULL',
};

const nameByValue = new Map<bigint, GunyahErrorName>(
  (Object.keys(GUNYAH_ERROR) as GunyahErrorName[]).map((k) => [BigInt(GUNYAH_ERROR[k]), k]),
);

/**
 * Converts an error value to the signed 64-bit code it stands for.
 *
 * Accepts a signed code (`-1`, `-1n`) or the raw x0 register (`0xFFFF_FFFF_FFFF_FFFFn` is -1).
 *
 * @param value - a safe-integer `number`, or a `bigint` in -2^63..2^64-1.
 * @returns the signed code as a `bigint`.
 * @throws {HypercallError} NOT_U64 if `value` is not an integer in that range.
 *
 * @example
 * ```ts
 * gunyahErrorFromRegister(0xffff_ffff_ffff_fffen); // -2n (RETRY)
 * ```
 */
export function gunyahErrorFromRegister(value: number | bigint): bigint {
  let v: bigint;
  if (typeof value === 'bigint') v = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
  else throw new HypercallError('NOT_U64', `error value is not an integer: ${show(value)}`, value);
  if (v < -(1n << 63n) || v > U64_MAX) {
    throw new HypercallError('NOT_U64', `error value does not fit a 64-bit register: ${v}`, value);
  }
  return BigInt.asIntN(64, v);
}

/**
 * Returns the name of a Gunyah error code.
 *
 * @param value - the code, signed or as the raw x0 register (see {@link gunyahErrorFromRegister}).
 * @returns the name, or `undefined` for a value that is not a known Gunyah error code.
 * @throws {HypercallError} NOT_U64 if `value` is not an integer that fits a register.
 */
export function gunyahErrorName(value: number | bigint): GunyahErrorName | undefined {
  return nameByValue.get(gunyahErrorFromRegister(value));
}

/**
 * Linux errno values used by the Gunyah drivers' error mapping (asm-generic numbering, which arm64
 * uses; general Linux knowledge).
 */
export const LINUX_ERRNO = {
  /** 5: I/O error. */
  EIO: 5,
  /** 11: try again. */
  EAGAIN: 11,
  /** 12: out of memory. */
  ENOMEM: 12,
  /** 13: permission denied. */
  EACCES: 13,
  /** 16: busy. */
  EBUSY: 16,
  /** 22: invalid argument. */
  EINVAL: 22,
  /** 95: operation not supported. */
  EOPNOTSUPP: 95,
} as const;

/** Name of an errno in {@link LINUX_ERRNO}. */
export type LinuxErrnoName = keyof typeof LINUX_ERRNO;

/**
 * A Linux Gunyah patch series whose error → errno mapping is modelled (spec §4.1): `'v10'`
 * (`gh_remap_error`), `'v11'`–`'v14'` (`gh_error_remap`), `'v17'` and `'android'`
 * (`gunyah_error_remap`). v15 and v16 are not covered by the spec and are rejected.
 */
export type LinuxSeries = 'v10' | 'v11' | 'v12' | 'v13' | 'v14' | 'v17' | 'android';

/** The three mapping generations of spec §4.1. */
export type ErrnoMappingGeneration = 'v10' | 'v11-v14' | 'v17';

const COMMON = {
  NOMEM: 'ENOMEM',
  DENIED: 'EACCES',
  CSPACE_CAP_NULL: 'EACCES',
  CSPACE_CAP_REVOKED: 'EACCES',
  CSPACE_WRONG_OBJECT_TYPE: 'EACCES',
  CSPACE_INSUFFICIENT_RIGHTS: 'EACCES',
  BUSY: 'EBUSY',
  IDLE: 'EBUSY',
  UNIMPLEMENTED: 'EOPNOTSUPP',
} as const;

/**
 * The error → errno tables of spec §4.1, one per mapping generation. `OK` maps to 0 and is not
 * listed; every code not listed (including unknown values) maps to `EINVAL`.
 */
export const GUNYAH_ERRNO_MAPPINGS: {
  readonly [G in ErrnoMappingGeneration]: { readonly [K in GunyahErrorName]?: LinuxErrnoName };
} = {
  v10: {
    ...COMMON,
    CSPACE_FULL: 'EACCES',
    VIRQ_BOUND: 'EBUSY',
    VIRQ_NOT_BOUND: 'EBUSY',
    MSGQUEUE_FULL: 'EBUSY',
    MSGQUEUE_EMPTY: 'EBUSY',
    RETRY: 'EOPNOTSUPP',
  },
  'v11-v14': {
    ...COMMON,
    CSPACE_FULL: 'EACCES',
    VIRQ_BOUND: 'EIO',
    VIRQ_NOT_BOUND: 'EIO',
    MSGQUEUE_FULL: 'EIO',
    MSGQUEUE_EMPTY: 'EIO',
    RETRY: 'EOPNOTSUPP',
  },
  v17: {
    ...COMMON,
    CSPACE_FULL: 'EBUSY',
    VIRQ_BOUND: 'EIO',
    VIRQ_NOT_BOUND: 'EIO',
    MSGQUEUE_FULL: 'EIO',
    MSGQUEUE_EMPTY: 'EIO',
    RETRY: 'EAGAIN',
  },
};

/**
 * Returns the mapping generation a series belongs to.
 *
 * @param series - a {@link LinuxSeries}.
 * @throws {HypercallError} UNKNOWN_SERIES for any other value (only reachable from untyped callers).
 */
export function errnoMappingGeneration(series: LinuxSeries): ErrnoMappingGeneration {
  switch (series) {
    case 'v10':
      return 'v10';
    case 'v11':
    case 'v12':
    case 'v13':
    case 'v14':
      return 'v11-v14';
    case 'v17':
    case 'android':
      return 'v17';
    default:
      throw new HypercallError('UNKNOWN_SERIES', `no errno mapping modelled for series ${show(series)}`, series);
  }
}

/** Options of {@link gunyahErrorToErrno}. */
export interface ErrnoMappingOptions {
  /** The Linux series whose mapping to apply. Default `'v17'` (what Android/CodeLinaro kernels ship). */
  readonly series?: LinuxSeries;
}

/**
 * Returns the errno name the Linux driver of a given series turns a Gunyah error into
 * (spec §4.1).
 *
 * @param code - the Gunyah error, signed or as the raw x0 register.
 * @param options - `series` (default `'v17'`).
 * @returns `undefined` for OK (0), else the errno name; unknown codes give `'EINVAL'`.
 * @throws {HypercallError} NOT_U64 if `code` is not an integer that fits a register.
 * @throws {HypercallError} UNKNOWN_SERIES for a series that is not modelled.
 *
 * @example
 * ```ts
 * gunyahErrorToErrnoName(GUNYAH_ERROR.RETRY, { series: 'v14' }); // 'EOPNOTSUPP'
 * gunyahErrorToErrnoName(GUNYAH_ERROR.RETRY, { series: 'v17' }); // 'EAGAIN'
 * ```
 */
export function gunyahErrorToErrnoName(code: number | bigint, options: ErrnoMappingOptions = {}): LinuxErrnoName | undefined {
  const generation = errnoMappingGeneration(options.series ?? 'v17');
  const v = gunyahErrorFromRegister(code);
  if (v === 0n) return undefined;
  const name = nameByValue.get(v);
  return (name === undefined ? undefined : GUNYAH_ERRNO_MAPPINGS[generation][name]) ?? 'EINVAL';
}

/**
 * Returns what the Linux driver of a given series returns for a Gunyah error: 0 for OK, else a
 * negative errno (spec §4.1).
 *
 * @param code - the Gunyah error, signed or as the raw x0 register.
 * @param options - `series` (default `'v17'`).
 * @throws {HypercallError} NOT_U64 if `code` is not an integer that fits a register.
 * @throws {HypercallError} UNKNOWN_SERIES for a series that is not modelled.
 *
 * @example
 * ```ts
 * gunyahErrorToErrno(GUNYAH_ERROR.CSPACE_FULL, { series: 'v14' }); // -13 (EACCES)
 * gunyahErrorToErrno(GUNYAH_ERROR.CSPACE_FULL, { series: 'v17' }); // -16 (EBUSY)
 * ```
 */
export function gunyahErrorToErrno(code: number | bigint, options: ErrnoMappingOptions = {}): number {
  const name = gunyahErrorToErrnoName(code, options);
  return name === undefined ? 0 : -LINUX_ERRNO[name];
}
