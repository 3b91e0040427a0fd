/**
 * Detecting Gunyah (spec/gunyah-hypercalls.md §2): the vendor-hyp UID, the
 * `hypervisor_identify` result, the recommended detection sequence, and the answers an emulator
 * gives to these calls.
 *
 * @module
 */

import { HypercallError, U64_MAX, checkBool, checkField, checkU64, show } from './errors.js';
import { GUNYAH_CALL_CLASS, SMCCC_FUNCTION_ID, SMCCC_NOT_SUPPORTED, SMCCC_OWNER, checkFunctionIdForAnswer } from './smccc.js';
import { findHypercallByNumber, getHypercall, type HypercallDescriptor } from './table.js';

// ---------------------------------------------------------------------------------------------
// UUIDs and the vendor-hyp UID registers (§2.1)

/** The standard (open-source) Gunyah UUID returned by the vendor-hyp UID query (spec §2.1). */
export const GUNYAH_UUID = 'c1d58fcd-a453-5fdb-9265-ce36673d5f14';

/** The Qualcomm proprietary Gunyah UUID accepted by gh_-era Linux drivers (spec §2.1). */
export const QCOM_GUNYAH_UUID = '19bd54bd-0b37-571b-946f-609b54539de6';

/** A UID query result: x0..x3 (only the low 32 bits of each are significant). */
export type UidRegisters = readonly [bigint, bigint, bigint, bigint];

/** x0..x3 of the vendor-hyp UID query for the standard Gunyah UUID (spec §2.1). */
export const GUNYAH_UID_REGISTERS: UidRegisters = [0xcd8f_d5c1n, 0xdb5f_53a4n, 0x36ce_6592n, 0x145f_3d67n];

/** x0..x3 for the Qualcomm UUID, read the way Linux reads the standard one (spec §2.1). */
export const QCOM_UID_REGISTERS: UidRegisters = [0xbd54_bd19n, 0x1b57_370bn, 0x9b60_6f94n, 0xe69d_5354n];

/**
 * x0..x3 for the Qualcomm UUID in the other word order that Qualcomm's downstream control driver
 * also accepts (spec §2.1; attribution UNCONFIRMED).
 */
export const QCOM_UID_REGISTERS_SWAPPED: UidRegisters = [0x19bd_54bdn, 0x0b37_571bn, 0x946f_609bn, 0x5453_9de6n];

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Parses a UUID string into its 16 bytes in string order.
 *
 * @param uuid - `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex, any case).
 * @throws {HypercallError} BAD_UUID if the string is not in that form.
 */
export function parseUuid(uuid: string): Uint8Array {
  if (typeof uuid !== 'string' || !UUID_RE.test(uuid)) {
    throw new HypercallError('BAD_UUID', `not a UUID: ${show(uuid)}`, uuid);
  }
  const hex = uuid.replaceAll('-', '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Formats 16 bytes as a lower-case UUID string (bytes in string order).
 *
 * @param bytes - exactly 16 bytes.
 * @throws {HypercallError} BAD_LENGTH if `bytes` is not 16 bytes long.
 */
export function formatUuid(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 16) {
    throw new HypercallError('BAD_LENGTH', 'a UUID is 16 bytes', bytes);
  }
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function checkRegisterTuple(regs: unknown, what: string): UidRegisters {
  if (!Array.isArray(regs) || regs.length !== 4) {
    throw new HypercallError('BAD_LENGTH', `${what} needs exactly 4 registers`, regs);
  }
  return [checkU64(regs[0], 'x0'), checkU64(regs[1], 'x1'), checkU64(regs[2], 'x2'), checkU64(regs[3], 'x3')];
}

/**
 * Converts a UID query result to the 16 UID bytes the way Linux does: the low 32 bits of x0..x3,
 * each stored as a little-endian word (spec §2.1). The upper 32 bits are ignored.
 *
 * @param regs - x0..x3.
 * @throws {HypercallError} BAD_LENGTH unless exactly 4 registers; NOT_U64 for a register out of range.
 */
export function uidRegistersToBytes(regs: readonly bigint[]): Uint8Array {
  const r = checkRegisterTuple(regs, 'UID');
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  r.forEach((x, i) => view.setUint32(4 * i, Number(x & 0xffff_ffffn), true));
  return out;
}

/**
 * Converts 16 UID bytes to the x0..x3 values the UID query returns (each a little-endian word of
 * the bytes, upper 32 bits zero). The inverse of {@link uidRegistersToBytes}.
 *
 * @param bytes - exactly 16 bytes.
 * @throws {HypercallError} BAD_LENGTH if `bytes` is not 16 bytes long.
 */
export function uidBytesToRegisters(bytes: Uint8Array): UidRegisters {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 16) {
    throw new HypercallError('BAD_LENGTH', 'a UID is 16 bytes', bytes);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  const w = (i: number): bigint => BigInt(view.getUint32(4 * i, true));
  return [w(0), w(1), w(2), w(3)];
}

/** What a vendor-hyp UID query result says about the hypervisor. */
export type UidClassification =
  | {
      /** A Gunyah UID. */
      readonly kind: 'gunyah';
      /** `'standard'` (open-source UUID) or `'qualcomm'` (proprietary UUID, either word order). */
      readonly uid: 'standard' | 'qualcomm';
      /** The UUID string. */
      readonly uuid: string;
    }
  | {
      /** x0 holds NOT_SUPPORTED (-1): no vendor hypervisor answers the query. */
      readonly kind: 'not-supported';
    }
  | {
      /** Some other UID. */
      readonly kind: 'other';
      /** The UUID read the Linux way. */
      readonly uuid: string;
    };

function sameWords(a: readonly bigint[], b: UidRegisters): boolean {
  return a.every((x, i) => (x & 0xffff_ffffn) === b[i]);
}

/** Options of {@link classifyUid}. */
export interface ClassifyUidOptions {
  /**
   * Also accept the Qualcomm UUID (both word orders), as gh_-era and downstream Qualcomm drivers do.
   * Default `false`, like the v17/Android driver.
   */
  readonly acceptQualcomm?: boolean;
}

/**
 * Classifies a vendor-hyp UID query result (spec §2.1). Only the low 32 bits of each register
 * are compared.
 *
 * @param regs - x0..x3.
 * @param options - `acceptQualcomm` (default `false`).
 * @throws {HypercallError} BAD_LENGTH unless exactly 4 registers; NOT_U64 for a register out of range.
 */
export function classifyUid(regs: readonly bigint[], options: ClassifyUidOptions = {}): UidClassification {
  const r = checkRegisterTuple(regs, 'UID');
  if (sameWords(r, GUNYAH_UID_REGISTERS)) return { kind: 'gunyah', uid: 'standard', uuid: GUNYAH_UUID };
  if (options.acceptQualcomm === true && (sameWords(r, QCOM_UID_REGISTERS) || sameWords(r, QCOM_UID_REGISTERS_SWAPPED))) {
    return { kind: 'gunyah', uid: 'qualcomm', uuid: QCOM_GUNYAH_UUID };
  }
  if ((r[0] & 0xffff_ffffn) === 0xffff_ffffn) return { kind: 'not-supported' };
  return { kind: 'other', uuid: formatUuid(uidRegistersToBytes(r)) };
}

// ---------------------------------------------------------------------------------------------
// hyp_api_info (x0 of hypervisor_identify, §2.2)

/** Values of the `variant` byte (bits 63:56) of `hyp_api_info` (spec §2.2). */
export const HYP_VARIANT = {
  /** 0: unknown. */
  UNKNOWN: 0,
  /** 0x48 ('H'): Gunyah (the API document calls it "Haven"). */
  GUNYAH: 0x48,
  /** 0x51 ('Q'): Qualcomm. The 12/2023 open-source hypervisor hard-codes this value. */
  QUALCOMM: 0x51,
} as const;

/** Name of a {@link HYP_VARIANT} value. */
export type HypVariantName = keyof typeof HYP_VARIANT;

/** The API version Linux accepts (the only one the spec knows, §2.2). */
export const GUNYAH_API_VERSION = 1;

/** The fields of `hyp_api_info` (spec §2.2). */
export interface HypApiInfo {
  /** Bits 13:0: API version (1). */
  readonly apiVersion: number;
  /** Bit 14: API is big-endian. */
  readonly bigEndian: boolean;
  /** Bit 15: 64-bit API. */
  readonly is64Bit: boolean;
  /** Bits 63:56: variant byte (see {@link HYP_VARIANT}). */
  readonly variant: number;
  /** Bits 55:16 shifted down to bit 0; zero in every known hypervisor. Default 0 on encode. */
  readonly reserved?: bigint;
}

/** A decoded {@link HypApiInfo}; `reserved` is always present. */
export interface DecodedHypApiInfo extends HypApiInfo {
  /** Bits 55:16 shifted down. */
  readonly reserved: bigint;
  /** Name of the variant byte, or `undefined` if it is not a known value. */
  readonly variantName: HypVariantName | undefined;
}

/** Options of the strict-capable decoders. */
export interface StrictOption {
  /** Throw RESERVED_BITS_SET if a bit the spec defines as zero is set. Default `false`. */
  readonly strict?: boolean;
}

const RESERVED40 = (1n << 40n) - 1n;

function variantName(v: number): HypVariantName | undefined {
  return (Object.keys(HYP_VARIANT) as HypVariantName[]).find((k) => HYP_VARIANT[k] === v);
}

/**
 * Encodes `hyp_api_info` (spec §2.2).
 *
 * @param info - the fields.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE if a field does not fit its bits.
 *
 * @example
 * ```ts
 * encodeHypApiInfo({ apiVersion: 1, bigEndian: false, is64Bit: true, variant: 0x48 }); // 0x4800_0000_0000_8001n
 * ```
 */
export function encodeHypApiInfo(info: HypApiInfo): bigint {
  const version = checkField(info.apiVersion, 14, 'apiVersion');
  const be = checkBool(info.bigEndian, 'bigEndian');
  const is64 = checkBool(info.is64Bit, 'is64Bit');
  const variant = checkField(info.variant, 8, 'variant');
  const reserved = info.reserved ?? 0n;
  if (typeof reserved !== 'bigint' || reserved < 0n || reserved > RESERVED40) {
    throw new HypercallError('FIELD_OUT_OF_RANGE', 'reserved does not fit 40 bits', reserved);
  }
  return (
    (BigInt(variant) << 56n) | (reserved << 16n) | (is64 ? 1n << 15n : 0n) | (be ? 1n << 14n : 0n) | BigInt(version)
  );
}

/**
 * Decodes `hyp_api_info` (x0 of `hypervisor_identify`, or x0 of the vendor-hyp REVISION query).
 *
 * @param x0 - the register.
 * @param options - `strict`: reject non-zero reserved bits 55:16.
 * @returns the fields; `encodeHypApiInfo(decodeHypApiInfo(x)) === x` for every u64 `x`.
 * @throws {HypercallError} NOT_U64 if `x0` is not a u64.
 * @throws {HypercallError} RESERVED_BITS_SET (strict only).
 */
export function decodeHypApiInfo(x0: bigint, options: StrictOption = {}): DecodedHypApiInfo {
  const v = checkU64(x0, 'hyp_api_info');
  const reserved = (v >> 16n) & RESERVED40;
  if (options.strict === true && reserved !== 0n) {
    throw new HypercallError('RESERVED_BITS_SET', 'hyp_api_info bits 55:16 are not zero', x0);
  }
  const variant = Number(v >> 56n);
  return {
    apiVersion: Number(v & 0x3fffn),
    bigEndian: ((v >> 14n) & 1n) === 1n,
    is64Bit: ((v >> 15n) & 1n) === 1n,
    variant,
    variantName: variantName(variant),
    reserved,
  };
}

// ---------------------------------------------------------------------------------------------
// api_flags_0/1/2 (x1..x3 of hypervisor_identify, §2.2)

/** Bit numbers of the API families in `api_flags_0` (spec §2.2); a set bit means present. */
export const API_FLAGS0_FEATURE_BIT = {
  /** Bit 0: partition and cspace APIs. */
  partitionCspace: 0,
  /** Bit 1: doorbell. */
  doorbell: 1,
  /** Bit 2: message queue. */
  msgqueue: 2,
  /** Bit 3: virtual interrupt controller / vIRQ. */
  vic: 3,
  /** Bit 4: virtual PM group. */
  vpm: 4,
  /** Bit 5: vCPU. */
  vcpu: 5,
  /** Bit 6: memory extent. */
  memextent: 6,
  /** Bit 7: trace control. */
  traceCtrl: 7,
  /** Bit 8: watchdog. */
  watchdog: 8,
  /** Bit 9: virtio-mmio. */
  virtioMmio: 9,
  /** Bit 10: PRNG. */
  prng: 10,
  /** Bit 11: vcpu_run (proxy scheduling). */
  vcpuRun: 11,
} as const;

/** Name of an API family of `api_flags_0`. */
export type ApiFeature = keyof typeof API_FLAGS0_FEATURE_BIT;

/**
 * Bit 16 of `api_flags_0`: reserved in the open-source hypervisor; Qualcomm's downstream driver
 * reads it as "root-VM channel" (spec §2.2, UNCONFIRMED — exposed, never relied on).
 */
export const API_FLAGS0_QCOM_ROOT_VM_CHANNEL_BIT = 16;

/** Scheduler variants in bits 31:28 of `api_flags_0` (spec §2.2). */
export const SCHEDULER_VARIANT = {
  /** 0: trivial scheduler. */
  TRIVIAL: 0,
  /** 1: fixed-priority round-robin. */
  FPRR: 1,
} as const;

/** The features Linux v11+ requires before probing (doorbell, msgqueue, vcpu, memextent; spec §2.2). */
export const LINUX_REQUIRED_FEATURES: readonly ApiFeature[] = ['doorbell', 'msgqueue', 'vcpu', 'memextent'];

/** One boolean per API family of `api_flags_0` (true = present; bits of {@link API_FLAGS0_FEATURE_BIT}). */
export interface ApiFeatures {
  /** Bit 0: partition and cspace APIs. */
  readonly partitionCspace: boolean;
  /** Bit 1: doorbell. */
  readonly doorbell: boolean;
  /** Bit 2: message queue. */
  readonly msgqueue: boolean;
  /** Bit 3: virtual interrupt controller / vIRQ. */
  readonly vic: boolean;
  /** Bit 4: virtual PM group. */
  readonly vpm: boolean;
  /** Bit 5: vCPU. */
  readonly vcpu: boolean;
  /** Bit 6: memory extent. */
  readonly memextent: boolean;
  /** Bit 7: trace control. */
  readonly traceCtrl: boolean;
  /** Bit 8: watchdog. */
  readonly watchdog: boolean;
  /** Bit 9: virtio-mmio. */
  readonly virtioMmio: boolean;
  /** Bit 10: PRNG. */
  readonly prng: boolean;
  /** Bit 11: vcpu_run (proxy scheduling). */
  readonly vcpuRun: boolean;
}

/** The fields of `api_flags_0` (spec §2.2). */
export interface ApiFlags0 {
  /** One boolean per API family; on encode, a family left out counts as absent. */
  readonly features: Partial<ApiFeatures>;
  /** Bit 16 (UNCONFIRMED "root-VM channel", see {@link API_FLAGS0_QCOM_ROOT_VM_CHANNEL_BIT}). */
  readonly qcomRootVmChannel: boolean;
  /** Bits 31:28: scheduler variant (see {@link SCHEDULER_VARIANT}). */
  readonly scheduler: number;
  /** Every other bit, in place (zero in every known hypervisor). Default 0 on encode. */
  readonly reserved?: bigint;
}

/** A decoded {@link ApiFlags0}; `reserved` is always present. */
export interface DecodedApiFlags0 extends ApiFlags0 {
  /** One boolean per API family. */
  readonly features: ApiFeatures;
  /** Every other bit, in place. */
  readonly reserved: bigint;
}

const FEATURE_NAMES = Object.keys(API_FLAGS0_FEATURE_BIT) as ApiFeature[];
const FLAGS0_KNOWN = FEATURE_NAMES.reduce((m, f) => m | (1n << BigInt(API_FLAGS0_FEATURE_BIT[f])), 0n) | (1n << 16n) | (0xfn << 28n);

/**
 * Encodes `api_flags_0`.
 *
 * @param flags - the fields; a feature left out of `features` counts as absent.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE if `scheduler` is not 0–15, a flag is not boolean, or
 *   `reserved` overlaps a known field or is not a u64.
 */
export function encodeApiFlags0(flags: ApiFlags0): bigint {
  let v = 0n;
  for (const f of FEATURE_NAMES) {
    if (checkBool(flags.features[f] ?? false, f)) v |= 1n << BigInt(API_FLAGS0_FEATURE_BIT[f]);
  }
  if (checkBool(flags.qcomRootVmChannel, 'qcomRootVmChannel')) v |= 1n << 16n;
  v |= BigInt(checkField(flags.scheduler, 4, 'scheduler')) << 28n;
  return v | checkReserved(flags.reserved, FLAGS0_KNOWN, 'api_flags_0');
}

function checkReserved(reserved: bigint | undefined, known: bigint, what: string): bigint {
  const r = reserved ?? 0n;
  if (typeof r !== 'bigint' || r < 0n || r > U64_MAX || (r & known) !== 0n) {
    throw new HypercallError('FIELD_OUT_OF_RANGE', `${what} reserved bits overlap known fields`, r);
  }
  return r;
}

/**
 * Decodes `api_flags_0` (x1 of `hypervisor_identify`).
 *
 * @param x1 - the register.
 * @param options - `strict`: reject set bits outside the known fields (bit 16 counts as known).
 * @returns the fields; `encodeApiFlags0(decodeApiFlags0(x)) === x` for every u64 `x`.
 * @throws {HypercallError} NOT_U64 if `x1` is not a u64; RESERVED_BITS_SET (strict only).
 */
export function decodeApiFlags0(x1: bigint, options: StrictOption = {}): DecodedApiFlags0 {
  const v = checkU64(x1, 'api_flags_0');
  const reserved = v & ~FLAGS0_KNOWN & U64_MAX;
  if (options.strict === true && reserved !== 0n) {
    throw new HypercallError('RESERVED_BITS_SET', 'api_flags_0 has unknown bits set', x1);
  }
  const features = Object.fromEntries(
    FEATURE_NAMES.map((f) => [f, ((v >> BigInt(API_FLAGS0_FEATURE_BIT[f])) & 1n) === 1n]),
  ) as unknown as ApiFeatures;
  return { features, qcomRootVmChannel: ((v >> 16n) & 1n) === 1n, scheduler: Number((v >> 28n) & 0xfn), reserved };
}

/**
 * The fields of `api_flags_1` (spec §2.2): bit 0 is "Armv8.2 SVE" in the API document but reserved
 * in the 12/2023 source (UNCONFIRMED), so it is exposed as `sve` and never relied on.
 */
export interface ApiFlags1 {
  /** Bit 0 (UNCONFIRMED SVE support). */
  readonly sve: boolean;
  /** Bits 63:1, in place. Default 0 on encode. */
  readonly reserved?: bigint;
}

/** A decoded {@link ApiFlags1}; `reserved` is always present. */
export interface DecodedApiFlags1 extends ApiFlags1 {
  /** Bits 63:1, in place. */
  readonly reserved: bigint;
}

/**
 * Encodes `api_flags_1`.
 *
 * @param flags - the fields.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE for a non-boolean `sve` or bad `reserved`.
 */
export function encodeApiFlags1(flags: ApiFlags1): bigint {
  return (checkBool(flags.sve, 'sve') ? 1n : 0n) | checkReserved(flags.reserved, 1n, 'api_flags_1');
}

/**
 * Decodes `api_flags_1` (x2 of `hypervisor_identify`).
 *
 * @param x2 - the register.
 * @param options - `strict`: reject set bits 63:1.
 * @throws {HypercallError} NOT_U64 if `x2` is not a u64; RESERVED_BITS_SET (strict only).
 */
export function decodeApiFlags1(x2: bigint, options: StrictOption = {}): DecodedApiFlags1 {
  const v = checkU64(x2, 'api_flags_1');
  const reserved = v & ~1n;
  if (options.strict === true && reserved !== 0n) {
    throw new HypercallError('RESERVED_BITS_SET', 'api_flags_1 bits 63:1 are not zero', x2);
  }
  return { sve: (v & 1n) === 1n, reserved };
}

/** The result of `hypervisor_identify` (call 0; spec §2.2). It has no error output. */
export interface IdentifyResult {
  /** x0. */
  readonly apiInfo: HypApiInfo;
  /** x1. */
  readonly flags0: ApiFlags0;
  /** x2. */
  readonly flags1: ApiFlags1;
  /** x3: reserved, zero. Default 0 on encode. */
  readonly flags2?: bigint;
}

/** A decoded {@link IdentifyResult}. */
export interface DecodedIdentifyResult extends IdentifyResult {
  /** x0. */
  readonly apiInfo: DecodedHypApiInfo;
  /** x1. */
  readonly flags0: DecodedApiFlags0;
  /** x2. */
  readonly flags1: DecodedApiFlags1;
  /** x3. */
  readonly flags2: bigint;
}

/**
 * Encodes a `hypervisor_identify` result as x0..x3.
 *
 * @param result - the fields.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE / NOT_U64 for fields that do not fit.
 *
 * @example
 * ```ts
 * encodeIdentifyResult(DEFAULT_IDENTIFY_RESULT); // [0x4800_0000_0000_8001n, 0x1000_0fffn, 0n, 0n]
 * ```
 */
export function encodeIdentifyResult(result: IdentifyResult): UidRegisters {
  return [
    encodeHypApiInfo(result.apiInfo),
    encodeApiFlags0(result.flags0),
    encodeApiFlags1(result.flags1),
    checkU64(result.flags2 ?? 0n, 'flags2'),
  ];
}

/**
 * Decodes x0..x3 of `hypervisor_identify`; the inverse of {@link encodeIdentifyResult} for every
 * four u64 values.
 *
 * @param regs - x0..x3.
 * @param options - `strict`: reject reserved bits in any word (x3 must be zero).
 * @throws {HypercallError} BAD_LENGTH unless exactly 4 registers; NOT_U64; RESERVED_BITS_SET (strict).
 */
export function decodeIdentifyResult(regs: readonly bigint[], options: StrictOption = {}): DecodedIdentifyResult {
  const r = checkRegisterTuple(regs, 'hypervisor_identify result');
  if (options.strict === true && r[3] !== 0n) {
    throw new HypercallError('RESERVED_BITS_SET', 'api_flags_2 is not zero', r[3]);
  }
  return {
    apiInfo: decodeHypApiInfo(r[0], options),
    flags0: decodeApiFlags0(r[1], options),
    flags1: decodeApiFlags1(r[2], options),
    flags2: r[3],
  };
}

/**
 * A plausible identify result for an emulated Gunyah: API v1, little-endian, 64-bit, variant 'H',
 * every API family of bits 0–11 present, FPRR scheduler. (Our choice for emulation; a real
 * hypervisor reports its own build.)
 */
export const DEFAULT_IDENTIFY_RESULT: IdentifyResult = Object.freeze({
  apiInfo: { apiVersion: GUNYAH_API_VERSION, bigEndian: false, is64Bit: true, variant: HYP_VARIANT.GUNYAH },
  flags0: {
    features: Object.fromEntries(FEATURE_NAMES.map((f) => [f, true])) as unknown as ApiFeatures,
    qcomRootVmChannel: false,
    scheduler: SCHEDULER_VARIANT.FPRR,
  },
  flags1: { sve: false },
});

// ---------------------------------------------------------------------------------------------
// Answering detection calls (for an emulator) — §1.1, §2.1, §2.2

/** What Gunyah's SMCCC dispatcher does with a function ID, per {@link answerGunyahSmcccCall}. */
export type SmcccAnswer =
  | {
      /** The call is answered from the identity alone; write `registers` to x0..x3. */
      readonly kind: 'answer';
      /** Which call was recognised. */
      readonly call:
        | 'HYPERVISOR_IDENTIFY'
        | 'VENDOR_HYP_CALL_UID'
        | 'VENDOR_HYP_REVISION'
        | 'VENDOR_HYP_CALL_COUNT'
        | 'STANDARD_HYP_CALL_UID'
        | 'STANDARD_HYP_REVISION'
        | 'UNKNOWN_FUNCTION';
      /** x0..x3. */
      readonly registers: UidRegisters;
    }
  | {
      /** A Gunyah hypercall other than identify: the caller emulates it. */
      readonly kind: 'hypercall';
      /** The hypercall. */
      readonly hypercall: HypercallDescriptor;
    }
  | {
      /** Not a vendor-hyp call, nor a standard-hyp UID/revision query: not Gunyah's to answer here. */
      readonly kind: 'pass';
    };

/** What an emulated Gunyah reports about itself. */
export interface GunyahIdentity {
  /** The `hypervisor_identify` result (also x0 of the vendor-hyp REVISION query). */
  readonly identify: IdentifyResult;
  /** UID registers for the vendor-hyp and standard-hyp UID queries. Default {@link GUNYAH_UID_REGISTERS}. */
  readonly uid?: UidRegisters;
}

const UNKNOWN: UidRegisters = [SMCCC_NOT_SUPPORTED, 0n, 0n, 0n];

/**
 * Answers an SMCCC function ID the way the 12/2023 open-source Gunyah does for detection
 * (spec §1.1, §2.1, §2.2). For an emulator behind the KVM SMCCC filter: pass W0, write the answer.
 *
 * - Owner 6, hypercall class: fast+SMC64 `hypervisor_identify` → the identify registers; another
 *   hypercall in the table → `'hypercall'`; anything else (not fast+SMC64, unknown number) → -1.
 * - Owner 6, service class: fast+SMC32 only. 0xFF01 → UID, 0xFF03 → `hyp_api_info` in x0,
 *   0xFF00 (CALL_COUNT, deprecated) → -1, others → -1.
 * - Owner 5: fast+SMC32 0xFF01 → UID, 0xFF03 → major 1 in x0, minor 0 in x1; others `'pass'`.
 * - Owner 5 or 6 with bits 23:17 set → -1. Owner 6 platform class and the undefined class 0b01,
 *   and every other owner → `'pass'` (the spec does not say how Gunyah answers them).
 * - The SVE hint (bit 16) is ignored (SMCCC v1.3).
 *
 * Registers Gunyah leaves undefined are answered as 0.
 *
 * @param functionId - W0 as a u32 `number` or `bigint`.
 * @param identity - the identify result and, optionally, the UID.
 * @throws {HypercallError} NOT_U32 if `functionId` is not a u32; errors of {@link encodeIdentifyResult}.
 *
 * @example
 * ```ts
 * answerGunyahSmcccCall(0x8600ff01, { identify: DEFAULT_IDENTIFY_RESULT });
 * // { kind: 'answer', call: 'VENDOR_HYP_CALL_UID', registers: GUNYAH_UID_REGISTERS }
 * ```
 */
export function answerGunyahSmcccCall(functionId: number | bigint, identity: GunyahIdentity): SmcccAnswer {
  const f = checkFunctionIdForAnswer(functionId);
  if (f.owner !== SMCCC_OWNER.VENDOR_HYP && f.owner !== SMCCC_OWNER.STANDARD_HYP) return { kind: 'pass' };
  const unknown = { kind: 'answer', call: 'UNKNOWN_FUNCTION', registers: UNKNOWN } as const;
  if (f.reservedBits) return unknown;
  const uid = identity.uid ?? GUNYAH_UID_REGISTERS;
  const callClass = f.number >>> 14;
  const index = f.number & 0x3fff;
  const smc32Fast = f.fast && !f.sixtyFour;
  if (f.owner === SMCCC_OWNER.STANDARD_HYP) {
    if (smc32Fast && f.number === 0xff01) return { kind: 'answer', call: 'STANDARD_HYP_CALL_UID', registers: uid };
    if (smc32Fast && f.number === 0xff03) return { kind: 'answer', call: 'STANDARD_HYP_REVISION', registers: [1n, 0n, 0n, 0n] };
    return { kind: 'pass' };
  }
  if (callClass === GUNYAH_CALL_CLASS.HYPERCALL) {
    if (!f.fast || !f.sixtyFour) return unknown;
    const d = findHypercallByNumber(index);
    if (d === undefined || !d.forms.includes('smccc')) return unknown;
    if (d.name === 'hypervisor_identify') {
      return { kind: 'answer', call: 'HYPERVISOR_IDENTIFY', registers: encodeIdentifyResult(identity.identify) };
    }
    return { kind: 'hypercall', hypercall: d };
  }
  if (callClass === GUNYAH_CALL_CLASS.SERVICE) {
    if (!smc32Fast) return unknown;
    if (f.number === (SMCCC_FUNCTION_ID.VENDOR_HYP_CALL_UID & 0xffff)) return { kind: 'answer', call: 'VENDOR_HYP_CALL_UID', registers: uid };
    if (f.number === (SMCCC_FUNCTION_ID.VENDOR_HYP_REVISION & 0xffff)) {
      return { kind: 'answer', call: 'VENDOR_HYP_REVISION', registers: [encodeHypApiInfo(identity.identify.apiInfo), 0n, 0n, 0n] };
    }
    if (f.number === (SMCCC_FUNCTION_ID.VENDOR_HYP_CALL_COUNT & 0xffff)) return { ...unknown, call: 'VENDOR_HYP_CALL_COUNT' };
    return unknown;
  }
  return { kind: 'pass' };
}

// ---------------------------------------------------------------------------------------------
// Detection sequence (§2.3)

/**
 * Issues one SMCCC call (`hvc #0`) with x0 = `functionId` and x1.. = `args`, and returns at least
 * x0..x3 as u64 values.
 */
export type SmcccCall = (functionId: number, args: readonly bigint[]) => readonly bigint[];

/** Asynchronous {@link SmcccCall}. */
export type SmcccCallAsync = (functionId: number, args: readonly bigint[]) => Promise<readonly bigint[]> | readonly bigint[];

/** Options of {@link detectGunyah}. */
export interface DetectGunyahOptions {
  /** Accept the Qualcomm UUID too (step 1; default `false`). */
  readonly acceptQualcommUid?: boolean;
  /** API families that must be present (step 3). Default none; Linux v11+ uses {@link LINUX_REQUIRED_FEATURES}. */
  readonly requiredFeatures?: readonly ApiFeature[];
  /** Issue the Android-only `addrspace_find_info_area` (step 4; default `false`). Its errors are ignored. */
  readonly queryInfoArea?: boolean;
}

/** Result of the Android `addrspace_find_info_area` call (spec §2.3 step 4). */
export interface InfoArea {
  /** x1: IPA of the info area. */
  readonly ipa: bigint;
  /** x2: size of the info area in bytes. */
  readonly size: bigint;
}

/** Outcome of {@link detectGunyah}. Expected outcomes are values, not exceptions. */
export type DetectionResult =
  | {
      /** Gunyah, usable. */
      readonly kind: 'gunyah';
      /** The UID classification (kind `'gunyah'`). */
      readonly uid: UidClassification;
      /** The decoded identify result. */
      readonly identify: DecodedIdentifyResult;
      /** Step 4 result when requested and the call returned OK. */
      readonly infoArea: InfoArea | undefined;
    }
  | {
      /** The UID query did not name Gunyah; nothing else was called. */
      readonly kind: 'not-gunyah';
      /** The UID classification. */
      readonly uid: UidClassification;
    }
  | {
      /** Gunyah, but not usable: API version is not 1, API not 64-bit, or required features missing. */
      readonly kind: 'unsupported';
      /** The first failed check. */
      readonly reason: 'API_VERSION' | 'NOT_64BIT' | 'MISSING_FEATURES';
      /** The UID classification. */
      readonly uid: UidClassification;
      /** The decoded identify result. */
      readonly identify: DecodedIdentifyResult;
      /** Required features that are absent (empty unless `reason` is MISSING_FEATURES). */
      readonly missingFeatures: readonly ApiFeature[];
    };

type Request = { readonly functionId: number; readonly args: readonly bigint[] };

function checkCallResult(result: unknown, functionId: number): readonly bigint[] {
  if (!Array.isArray(result) || result.length < 4) {
    throw new HypercallError('BAD_CALL_RESULT', `call 0x${functionId.toString(16)} did not return x0..x3`, result);
  }
  try {
    return result.map((r: unknown, i) => checkU64(r, `x${i}`));
  } catch (e) {
    throw new HypercallError('BAD_CALL_RESULT', `call 0x${functionId.toString(16)} returned a non-u64 register`, result, { cause: e });
  }
}

function* detectionSteps(options: DetectGunyahOptions): Generator<Request, DetectionResult, readonly bigint[]> {
  const uidRegs = yield { functionId: SMCCC_FUNCTION_ID.VENDOR_HYP_CALL_UID, args: [] };
  const uid = classifyUid(uidRegs.slice(0, 4), { acceptQualcomm: options.acceptQualcommUid ?? false });
  if (uid.kind !== 'gunyah') return { kind: 'not-gunyah', uid };
  const identify = decodeIdentifyResult(
    (yield { functionId: SMCCC_FUNCTION_ID.HYPERVISOR_IDENTIFY, args: [] }).slice(0, 4),
  );
  const missingFeatures = (options.requiredFeatures ?? []).filter((f) => identify.flags0.features[f] !== true);
  if (identify.apiInfo.apiVersion !== GUNYAH_API_VERSION) {
    return { kind: 'unsupported', reason: 'API_VERSION', uid, identify, missingFeatures };
  }
  if (!identify.apiInfo.is64Bit) return { kind: 'unsupported', reason: 'NOT_64BIT', uid, identify, missingFeatures };
  if (missingFeatures.length > 0) return { kind: 'unsupported', reason: 'MISSING_FEATURES', uid, identify, missingFeatures };
  let infoArea: InfoArea | undefined;
  if (options.queryInfoArea === true) {
    const fid = getHypercall('addrspace_find_info_area').smcccFunctionId as number;
    const r = yield { functionId: fid, args: [0n] };
    if (r[0] === 0n) infoArea = { ipa: r[1] as bigint, size: r[2] as bigint };
  }
  return { kind: 'gunyah', uid, identify, infoArea };
}

/**
 * Runs the recommended detection sequence of spec §2.3 over a synchronous call function:
 * 1. vendor-hyp UID (0x8600FF01), compared with the Gunyah UID (and the Qualcomm one if asked);
 * 2. `hypervisor_identify` (0xC6008000), requiring API version 1 and a 64-bit API;
 * 3. the required API families of `api_flags_0`;
 * 4. optionally `addrspace_find_info_area` (0xC600806A, Android), ignoring its errors.
 *
 * @param call - issues one SMCCC call and returns x0..x3 (or more).
 * @param options - see {@link DetectGunyahOptions}.
 * @throws {HypercallError} BAD_CALL_RESULT if `call` returns fewer than 4 registers or a non-u64.
 *
 * @example
 * ```ts
 * const result = detectGunyah((fid, args) => guest.hvc0(fid, args), { requiredFeatures: LINUX_REQUIRED_FEATURES });
 * if (result.kind === 'gunyah' && result.identify.flags0.features.vcpuRun) {
 *   // proxy scheduling available
 * }
 * ```
 */
export function detectGunyah(call: SmcccCall, options: DetectGunyahOptions = {}): DetectionResult {
  const steps = detectionSteps(options);
  let step = steps.next();
  while (step.done !== true) {
    const { functionId, args } = step.value;
    step = steps.next(checkCallResult(call(functionId, args), functionId));
  }
  return step.value;
}

/**
 * {@link detectGunyah} over an asynchronous call function.
 *
 * @param call - issues one SMCCC call and resolves to x0..x3 (or more).
 * @param options - see {@link DetectGunyahOptions}.
 * @throws {HypercallError} BAD_CALL_RESULT (as a rejection) if `call` returns malformed registers.
 */
export async function detectGunyahAsync(call: SmcccCallAsync, options: DetectGunyahOptions = {}): Promise<DetectionResult> {
  const steps = detectionSteps(options);
  let step = steps.next();
  while (step.done !== true) {
    const { functionId, args } = step.value;
    step = steps.next(checkCallResult(await call(functionId, args), functionId));
  }
  return step.value;
}
