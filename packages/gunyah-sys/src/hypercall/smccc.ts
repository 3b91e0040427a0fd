/**
 * The two Gunyah calling forms: SMCCC function IDs (spec/gunyah-hypercalls.md §1.1) and the
 * native `hvc #imm` form (§1.2).
 *
 * @module
 */

import { HypercallError, checkBool, checkField, checkUint, show } from './errors.js';

/**
 * SMCCC owning-entity numbers used by Gunyah (bits 29:24 of a function ID).
 *
 * `VENDOR_HYP` (6) owns every Gunyah hypercall and the Gunyah UID/revision queries;
 * `STANDARD_HYP` (5) is the owner whose UID and revision queries Gunyah also answers
 * (spec §1.1, §2.1).
 */
export const SMCCC_OWNER = {
  /** Standard hypervisor service calls (owner 5). */
  STANDARD_HYP: 5,
  /** Vendor-specific hypervisor service calls (owner 6): Gunyah. */
  VENDOR_HYP: 6,
} as const;

/**
 * Gunyah's split of the 16-bit SMCCC function number within the vendor-hyp owner
 * (bits 15:14, spec §1.1): 0b00 platform call, 0b10 hypercall, 0b11 service. 0b01 is not
 * defined by the spec.
 */
export const GUNYAH_CALL_CLASS = {
  /** 0b00: platform call. */
  PLATFORM: 0,
  /** 0b10: hypercall; bits 13:0 are the hypercall number. */
  HYPERCALL: 2,
  /** 0b11: service (UID, revision, call count). */
  SERVICE: 3,
} as const;

/** Name of a Gunyah call class, or `'UNDEFINED'` for the value 0b01 that the spec does not define. */
export type GunyahCallClassName = keyof typeof GUNYAH_CALL_CLASS | 'UNDEFINED';

/**
 * Well-known SMCCC function IDs that Gunyah answers or that detection uses (spec §1.1, §2).
 */
export const SMCCC_FUNCTION_ID = {
  /** `hypervisor_identify` (call 0): fast, SMC64, vendor hyp, function 0x8000. */
  HYPERVISOR_IDENTIFY: 0xc600_8000,
  /** Vendor-hyp CALL_UID: fast, SMC32, vendor hyp, function 0xFF01 (service class, 0x3F01). */
  VENDOR_HYP_CALL_UID: 0x8600_ff01,
  /** Vendor-hyp REVISION: returns the `hyp_api_info` word in x0. */
  VENDOR_HYP_REVISION: 0x8600_ff03,
  /** Vendor-hyp CALL_COUNT: deprecated, Gunyah answers -1. */
  VENDOR_HYP_CALL_COUNT: 0x8600_ff00,
  /** Standard-hyp CALL_UID (owner 5): Gunyah answers with the same UID as the vendor query. */
  STANDARD_HYP_CALL_UID: 0x8500_ff01,
  /** Standard-hyp REVISION (owner 5): Gunyah answers major 1, minor 0. */
  STANDARD_HYP_REVISION: 0x8500_ff03,
  /**
   * The vendor-hyp function ID Qualcomm's downstream control driver uses for the UID query
   * (SMC32, function 0x3F01, issued with `smc`). Spec §2.1 marks the attribution UNCONFIRMED.
   */
  QCOM_DOWNSTREAM_CALL_UID: 0x8600_3f01,
} as const;

/** Base of Gunyah's hypercall function IDs: fast, SMC64, owner 6, call class 0b10 (spec §1.1). */
export const GUNYAH_HYPERCALL_FUNCTION_BASE = 0xc600_8000;

/** SMCCC version that Gunyah reports: 0x10003, i.e. v1.3 (spec §2.1). */
export const GUNYAH_SMCCC_VERSION = 0x1_0003;

/**
 * The "unknown function" / NOT_SUPPORTED answer (-1) as a 64-bit register value. Gunyah returns it
 * in x0 for unknown or malformed vendor-hyp function IDs (spec §1.1). Its low 32 bits are
 * 0xFFFFFFFF, so it is also the correct W0 value for an SMC32 call.
 */
export const SMCCC_NOT_SUPPORTED = 0xffff_ffff_ffff_ffffn;

/** The `hvc` immediate of the SMCCC namespace (`hvc #0`, spec §1.1). */
export const SMCCC_HVC_IMMEDIATE = 0;

/** First native `hvc` immediate reserved for Gunyah: `hvc #(0x6000 + call)` (spec §1.2). */
export const GUNYAH_HVC_IMMEDIATE_BASE = 0x6000;

/** Last native `hvc` immediate reserved for Gunyah (0x61FF, spec §1.2). */
export const GUNYAH_HVC_IMMEDIATE_LAST = 0x61ff;

/** Largest hypercall number that the native form can express (0x1FF). */
export const GUNYAH_NATIVE_MAX_CALL_NUMBER = GUNYAH_HVC_IMMEDIATE_LAST - GUNYAH_HVC_IMMEDIATE_BASE;

/** Largest hypercall number that the SMCCC form can express (bits 13:0, 0x3FFF). */
export const GUNYAH_SMCCC_MAX_CALL_NUMBER = 0x3fff;

/** The fields of a 32-bit SMCCC function ID (spec §1.1). */
export interface SmcccFunctionId {
  /** Bit 31: fast call (1) or yielding call (0). Gunyah hypercalls are fast. */
  readonly fast: boolean;
  /** Bit 30: SMC64/HVC64 calling convention (1) or SMC32/HVC32 (0). */
  readonly sixtyFour: boolean;
  /** Bits 29:24: owning entity, 0–63 (6 = vendor hypervisor, see {@link SMCCC_OWNER}). */
  readonly owner: number;
  /** Bits 15:0: function number within the owner, 0–0xFFFF. */
  readonly number: number;
  /** Bit 16: SMCCC v1.3 "SVE live state not needed" hint. Optional on encode (default false). */
  readonly sveHint?: boolean;
}

/**
 * Encodes an SMCCC function ID from its fields (spec §1.1).
 *
 * Bits 23:17 are always zero in the result.
 *
 * @param fields - the fields; `sveHint` defaults to `false`.
 * @returns the function ID as an unsigned 32-bit `number`.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE if `owner` is not 0–63, `number` not 0–0xFFFF or a
 *   flag is not a boolean.
 *
 * @example
 * ```ts
 * encodeSmcccFunctionId({ fast: true, sixtyFour: true, owner: 6, number: 0x8012 }); // 0xc6008012
 * ```
 */
export function encodeSmcccFunctionId(fields: SmcccFunctionId): number {
  const fast = checkBool(fields.fast, 'fast');
  const sixtyFour = checkBool(fields.sixtyFour, 'sixtyFour');
  const owner = checkField(fields.owner, 6, 'owner');
  const number = checkField(fields.number, 16, 'function number');
  const sve = fields.sveHint === undefined ? false : checkBool(fields.sveHint, 'sveHint');
  return (
    ((fast ? 1 : 0) * 2 ** 31 + (sixtyFour ? 1 : 0) * 2 ** 30 + owner * 2 ** 24 + (sve ? 0x1_0000 : 0) + number) >>> 0
  );
}

/** Fields of a decoded SMCCC function ID; `sveHint` is always present. */
export interface DecodedSmcccFunctionId extends SmcccFunctionId {
  /** Bit 16, the SVE hint. */
  readonly sveHint: boolean;
}

/**
 * Decodes a 32-bit SMCCC function ID into its fields (spec §1.1).
 *
 * The value is the function ID itself (W0). A caller holding a 64-bit x0 passes its low 32 bits
 * (see {@link functionIdFromX0}).
 *
 * @param id - the function ID, as a `number` or `bigint` in 0..2^32-1.
 * @returns the fields; `encodeSmcccFunctionId(decodeSmcccFunctionId(id)) === id` for every
 *   accepted `id`.
 * @throws {HypercallError} NOT_U32 if `id` is not an unsigned 32-bit integer.
 * @throws {HypercallError} SMCCC_RESERVED_BITS if bits 23:17 are not zero (Gunyah answers such
 *   IDs with "unknown function").
 */
export function decodeSmcccFunctionId(id: number | bigint): DecodedSmcccFunctionId {
  const v = checkUint(id, 32, 'SMCCC function ID');
  if ((v & 0x00fe_0000) !== 0) {
    throw new HypercallError(
      'SMCCC_RESERVED_BITS',
      `SMCCC function ID 0x${v.toString(16)} has bits 23:17 set`,
      id,
    );
  }
  return {
    fast: v >>> 31 === 1,
    sixtyFour: ((v >>> 30) & 1) === 1,
    owner: (v >>> 24) & 0x3f,
    sveHint: ((v >>> 16) & 1) === 1,
    number: v & 0xffff,
  };
}

/**
 * Returns the function ID (W0, the low 32 bits) of a 64-bit x0 register value.
 *
 * The Arm SMCCC passes the function ID in W0; Gunyah's SMCCC dispatcher works on that 32-bit value.
 * (General Arm SMCCC convention, not a Gunyah-specific fact.)
 *
 * @param x0 - the x0 register as an unsigned 64-bit `bigint`.
 * @throws {HypercallError} NOT_U64 if `x0` is not in 0..2^64-1.
 */
export function functionIdFromX0(x0: bigint): number {
  if (typeof x0 !== 'bigint' || x0 < 0n || x0 > 0xffff_ffff_ffff_ffffn) {
    throw new HypercallError('NOT_U64', `x0 is not a u64: ${show(x0)}`, x0);
  }
  return Number(x0 & 0xffff_ffffn);
}

/** Gunyah's reading of the function number of a vendor-hyp SMCCC ID (spec §1.1). */
export interface GunyahFunctionNumber {
  /** Bits 15:14 as a number (0–3). */
  readonly callClass: number;
  /** The class name; 0b01 is `'UNDEFINED'`. */
  readonly callClassName: GunyahCallClassName;
  /** Bits 13:0: the hypercall (or service/platform) number. */
  readonly index: number;
}

/**
 * Splits a 16-bit vendor-hyp function number into Gunyah's call class and index (spec §1.1).
 *
 * @param functionNumber - bits 15:0 of the function ID.
 * @throws {HypercallError} NOT_U16 if `functionNumber` is not 0–0xFFFF.
 */
export function splitGunyahFunctionNumber(functionNumber: number): GunyahFunctionNumber {
  const n = checkUint(functionNumber, 16, 'function number');
  const callClass = n >>> 14;
  const callClassName: GunyahCallClassName =
    callClass === GUNYAH_CALL_CLASS.PLATFORM
      ? 'PLATFORM'
      : callClass === GUNYAH_CALL_CLASS.HYPERCALL
        ? 'HYPERCALL'
        : callClass === GUNYAH_CALL_CLASS.SERVICE
          ? 'SERVICE'
          : 'UNDEFINED';
  return { callClass, callClassName, index: n & 0x3fff };
}

/**
 * Returns the SMCCC function ID of Gunyah hypercall `callNumber`: `0xC6008000 | callNumber`
 * (fast, SMC64, owner 6, class 0b10; spec §1.1).
 *
 * @param callNumber - the hypercall number, 0–0x3FFF.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE if `callNumber` does not fit 14 bits.
 */
export function hypercallFunctionId(callNumber: number): number {
  const n = checkField(callNumber, 14, 'hypercall number');
  return (GUNYAH_HYPERCALL_FUNCTION_BASE | n) >>> 0;
}

/**
 * Returns the hypercall number carried by a Gunyah hypercall function ID, or `undefined` when the
 * ID is a well-formed SMCCC ID that is not a Gunyah hypercall (wrong owner, class, not fast, not
 * SMC64). The SVE hint (bit 16) is ignored, as SMCCC v1.3 asks of a callee.
 *
 * @param id - the function ID (W0).
 * @throws {HypercallError} NOT_U32 / SMCCC_RESERVED_BITS as {@link decodeSmcccFunctionId}.
 */
export function hypercallNumberOfFunctionId(id: number | bigint): number | undefined {
  const f = decodeSmcccFunctionId(id);
  if (!f.fast || !f.sixtyFour || f.owner !== SMCCC_OWNER.VENDOR_HYP) return undefined;
  const split = splitGunyahFunctionNumber(f.number);
  return split.callClassName === 'HYPERCALL' ? split.index : undefined;
}

/**
 * Returns the native `hvc` immediate of hypercall `callNumber`: `0x6000 + callNumber` (spec §1.2).
 *
 * @param callNumber - 0–0x1FF.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE if `callNumber` is outside 0–0x1FF.
 */
export function encodeHvcImmediate(callNumber: number): number {
  if (typeof callNumber !== 'number' || !Number.isInteger(callNumber) || callNumber < 0 || callNumber > GUNYAH_NATIVE_MAX_CALL_NUMBER) {
    throw new HypercallError('FIELD_OUT_OF_RANGE', `native call number out of range: ${show(callNumber)}`, callNumber);
  }
  return GUNYAH_HVC_IMMEDIATE_BASE + callNumber;
}

/**
 * Returns the hypercall number carried by a native `hvc` immediate (spec §1.2).
 *
 * @param immediate - the 16-bit `hvc` immediate.
 * @returns `immediate - 0x6000`; `decodeHvcImmediate(encodeHvcImmediate(n)) === n`.
 * @throws {HypercallError} NOT_U16 if `immediate` is not 0–0xFFFF.
 * @throws {HypercallError} NOT_GUNYAH_IMMEDIATE if it is outside 0x6000–0x61FF (`hvc #0` is the
 *   SMCCC namespace, not a native Gunyah call).
 */
export function decodeHvcImmediate(immediate: number): number {
  const imm = checkUint(immediate, 16, 'hvc immediate');
  if (imm < GUNYAH_HVC_IMMEDIATE_BASE || imm > GUNYAH_HVC_IMMEDIATE_LAST) {
    throw new HypercallError('NOT_GUNYAH_IMMEDIATE', `hvc #0x${imm.toString(16)} is not a Gunyah immediate`, immediate);
  }
  return imm - GUNYAH_HVC_IMMEDIATE_BASE;
}

/**
 * Splits a function ID without rejecting reserved bits, for answering calls the way Gunyah does.
 * The SVE hint (bit 16) is dropped.
 *
 * @internal
 */
export function checkFunctionIdForAnswer(id: number | bigint): {
  fast: boolean;
  sixtyFour: boolean;
  owner: number;
  number: number;
  reservedBits: boolean;
} {
  const v = checkUint(id, 32, 'SMCCC function ID');
  return {
    fast: v >>> 31 === 1,
    sixtyFour: ((v >>> 30) & 1) === 1,
    owner: (v >>> 24) & 0x3f,
    number: v & 0xffff,
    reservedBits: (v & 0x00fe_0000) !== 0,
  };
}
