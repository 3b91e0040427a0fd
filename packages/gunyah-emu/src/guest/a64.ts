/**
 * A minimal AArch64 (A64) instruction encoder: the handful of instructions a tiny test guest needs.
 * Encodings follow the A64 instruction-set encoding tables (Arm ARM, "A64 Instruction Set
 * Encoding"); each function returns one little-endian 32-bit instruction word.
 *
 * Register numbers are 0…31. What 31 means depends on the instruction, as in the architecture:
 * the zero register (`xzr`/`wzr`) for `movz`/`movk`/`cbnz`/store sources and `subs` destinations,
 * the stack pointer for load/store bases and `add`/`sub` immediates.
 *
 * @module
 */

/**
 * Why an instruction could not be encoded.
 *
 * - `BAD_REGISTER`: a register number outside 0…31.
 * - `IMM_RANGE`: an immediate does not fit its field.
 * - `MISALIGNED`: a load/store offset is not a multiple of the access size, or a branch offset
 *   not a multiple of 4.
 * - `BRANCH_RANGE`: a branch target is too far for the instruction.
 * - `UNKNOWN_LABEL` / `DUPLICATE_LABEL`: assembler label misuse.
 * - `BAD_CONDITION`: an unknown condition name.
 */
export type AsmErrorCode = 'BAD_REGISTER' | 'IMM_RANGE' | 'MISALIGNED' | 'BRANCH_RANGE' | 'UNKNOWN_LABEL' | 'DUPLICATE_LABEL' | 'BAD_CONDITION';

/** An instruction or program that cannot be encoded. Compare {@link AsmError.code}. */
export class AsmError extends Error {
  /** Always `'AsmError'`. */
  override readonly name = 'AsmError';
  /** What went wrong. */
  readonly code: AsmErrorCode;

  /**
   * @param code - the reason
   * @param message - human-readable detail
   */
  constructor(code: AsmErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Operand width: `'x'` 64-bit, `'w'` 32-bit. */
export type RegWidth = 'x' | 'w';

/** Load/store access size: `'x'` 8 bytes, `'w'` 4, `'h'` 2, `'b'` 1. */
export type AccessSize = 'x' | 'w' | 'h' | 'b';

/** Condition codes for `b.cond` (bits 3:0). */
export const A64_COND = {
  /** Equal (Z). */
  eq: 0x0,
  /** Not equal. */
  ne: 0x1,
  /** Unsigned higher or same (C). */
  hs: 0x2,
  /** Unsigned lower. */
  lo: 0x3,
  /** Negative (N). */
  mi: 0x4,
  /** Positive or zero. */
  pl: 0x5,
  /** Overflow (V). */
  vs: 0x6,
  /** No overflow. */
  vc: 0x7,
  /** Unsigned higher. */
  hi: 0x8,
  /** Unsigned lower or same. */
  ls: 0x9,
  /** Signed greater or equal. */
  ge: 0xa,
  /** Signed less than. */
  lt: 0xb,
  /** Signed greater than. */
  gt: 0xc,
  /** Signed less or equal. */
  le: 0xd,
  /** Always. */
  al: 0xe,
} as const;

/** A condition name of {@link A64_COND}. */
export type A64Cond = keyof typeof A64_COND;

function reg(r: number, what = 'register'): number {
  if (!Number.isInteger(r) || r < 0 || r > 31) throw new AsmError('BAD_REGISTER', `${what} must be 0..31, got ${String(r)}`);
  return r;
}

function uimm(v: number, bits: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new AsmError('IMM_RANGE', `${what} must fit ${bits} unsigned bits, got ${String(v)}`);
  return v;
}

function sf(width: RegWidth): number {
  return width === 'x' ? 1 : 0;
}

/** `nop`: 0xd503201f. */
export function nop(): number {
  return 0xd503_201f;
}

/** `wfi`: 0xd503207f. */
export function wfi(): number {
  return 0xd503_207f;
}

/** `ret x<rn>` (default x30): 0xd65f0000 | rn << 5. */
export function ret(rn = 30): number {
  return (0xd65f_0000 | (reg(rn) << 5)) >>> 0;
}

/**
 * `hvc #imm16`: 0xd4000002 | imm16 << 5.
 *
 * @throws {AsmError} IMM_RANGE
 */
export function hvc(imm16 = 0): number {
  return (0xd400_0002 | (uimm(imm16, 16, 'hvc immediate') << 5)) >>> 0;
}

/**
 * `smc #imm16`: 0xd4000003 | imm16 << 5.
 *
 * @throws {AsmError} IMM_RANGE
 */
export function smc(imm16 = 0): number {
  return (0xd400_0003 | (uimm(imm16, 16, 'smc immediate') << 5)) >>> 0;
}

/**
 * Move wide: `movz`/`movk` `<rd>, #imm16, lsl #shift`.
 * Encoding `sf | opc(2) | 100101 | hw(2) | imm16 | Rd`, opc 10 = movz, 11 = movk.
 */
function moveWide(opc: number, rd: number, imm16: number, shift: number, width: RegWidth): number {
  const maxShift = width === 'x' ? 48 : 16;
  if (!Number.isInteger(shift) || shift < 0 || shift > maxShift || shift % 16 !== 0) {
    throw new AsmError('IMM_RANGE', `move-wide shift must be 0, 16${width === 'x' ? ', 32 or 48' : ''}, got ${String(shift)}`);
  }
  return ((sf(width) << 31) | (opc << 29) | (0b100101 << 23) | ((shift / 16) << 21) | (uimm(imm16, 16, 'imm16') << 5) | reg(rd)) >>> 0;
}

/**
 * `movz <rd>, #imm16, lsl #shift`.
 *
 * @throws {AsmError} BAD_REGISTER, IMM_RANGE
 */
export function movz(rd: number, imm16: number, shift = 0, width: RegWidth = 'x'): number {
  return moveWide(0b10, rd, imm16, shift, width);
}

/**
 * `movk <rd>, #imm16, lsl #shift`.
 *
 * @throws {AsmError} BAD_REGISTER, IMM_RANGE
 */
export function movk(rd: number, imm16: number, shift = 0, width: RegWidth = 'x'): number {
  return moveWide(0b11, rd, imm16, shift, width);
}

/**
 * The shortest `movz` + `movk` sequence that loads `value` into `rd` (1–4 instructions for `x`,
 * 1–2 for `w`).
 *
 * @throws {AsmError} BAD_REGISTER, IMM_RANGE (negative or too wide a value)
 */
export function movImm(rd: number, value: bigint | number, width: RegWidth = 'x'): number[] {
  const v = typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value) : -1n;
  const bits = width === 'x' ? 64n : 32n;
  if (v < 0n || v >= 1n << bits) throw new AsmError('IMM_RANGE', `value ${String(value)} does not fit ${bits} bits`);
  const out: number[] = [];
  for (let shift = 0; shift < Number(bits); shift += 16) {
    const chunk = Number((v >> BigInt(shift)) & 0xffffn);
    if (chunk === 0 && !(shift === 0 && v === 0n)) continue;
    out.push(out.length === 0 ? movz(rd, chunk, shift, width) : movk(rd, chunk, shift, width));
  }
  return out;
}

const LDST_SIZE: Readonly<Record<AccessSize, number>> = { b: 0, h: 1, w: 2, x: 3 };

/**
 * Load/store register, unsigned immediate offset: `size(2) | 111 | 0 | 01 | opc(2) | imm12 | Rn | Rt`
 * with opc 00 = store, 01 = load; the byte offset is `imm12 << size`.
 */
function ldst(load: boolean, size: AccessSize, rt: number, rn: number, offset: number): number {
  const s = LDST_SIZE[size];
  if (s === undefined) throw new AsmError('IMM_RANGE', `unknown access size ${String(size)}`);
  const scale = 1 << s;
  if (!Number.isInteger(offset) || offset < 0) throw new AsmError('IMM_RANGE', `offset must be a non-negative integer, got ${String(offset)}`);
  if (offset % scale !== 0) throw new AsmError('MISALIGNED', `offset ${offset} is not a multiple of ${scale}`);
  const imm12 = uimm(offset / scale, 12, 'scaled offset');
  return ((s << 30) | (0b111001 << 24) | ((load ? 0b01 : 0b00) << 22) | (imm12 << 10) | (reg(rn, 'base register') << 5) | reg(rt)) >>> 0;
}

/**
 * `str`/`strh`/`strb <rt>, [<rn>, #offset]` (unsigned offset, scaled by the access size).
 *
 * @throws {AsmError} BAD_REGISTER, IMM_RANGE, MISALIGNED
 */
export function str(size: AccessSize, rt: number, rn: number, offset = 0): number {
  return ldst(false, size, rt, rn, offset);
}

/**
 * `ldr`/`ldrh`/`ldrb <rt>, [<rn>, #offset]` (unsigned offset; `h`/`b` zero-extend into `w<rt>`).
 *
 * @throws {AsmError} BAD_REGISTER, IMM_RANGE, MISALIGNED
 */
export function ldr(size: AccessSize, rt: number, rn: number, offset = 0): number {
  return ldst(true, size, rt, rn, offset);
}

/** Add/subtract immediate: `sf | op | S | 100010 | sh | imm12 | Rn | Rd`. */
function addSubImm(op: number, setFlags: boolean, rd: number, rn: number, imm: number, width: RegWidth): number {
  let sh = 0;
  let imm12 = imm;
  if (Number.isInteger(imm) && imm >= 4096 && imm % 4096 === 0 && imm / 4096 < 4096) {
    sh = 1;
    imm12 = imm / 4096;
  }
  uimm(imm12, 12, 'add/sub immediate');
  return ((sf(width) << 31) | (op << 30) | ((setFlags ? 1 : 0) << 29) | (0b100010 << 23) | (sh << 22) | (imm12 << 10) | (reg(rn) << 5) | reg(rd)) >>> 0;
}

/**
 * `add <rd>, <rn>, #imm` (imm 0…4095, or a multiple of 4096 up to 4095 × 4096 via `lsl #12`).
 *
 * @throws {AsmError} BAD_REGISTER, IMM_RANGE
 */
export function addImm(rd: number, rn: number, imm: number, width: RegWidth = 'x'): number {
  return addSubImm(0, false, rd, rn, imm, width);
}

/**
 * `sub <rd>, <rn>, #imm`.
 *
 * @throws {AsmError} BAD_REGISTER, IMM_RANGE
 */
export function subImm(rd: number, rn: number, imm: number, width: RegWidth = 'x'): number {
  return addSubImm(1, false, rd, rn, imm, width);
}

/**
 * `subs <rd>, <rn>, #imm`.
 *
 * @throws {AsmError} BAD_REGISTER, IMM_RANGE
 */
export function subsImm(rd: number, rn: number, imm: number, width: RegWidth = 'x'): number {
  return addSubImm(1, true, rd, rn, imm, width);
}

/**
 * `cmp <rn>, #imm` (= `subs xzr, <rn>, #imm`).
 *
 * @throws {AsmError} BAD_REGISTER, IMM_RANGE
 */
export function cmpImm(rn: number, imm: number, width: RegWidth = 'x'): number {
  return subsImm(31, rn, imm, width);
}

function branchOffset(offset: number, bits: number, what: string): number {
  if (!Number.isInteger(offset) || offset % 4 !== 0) throw new AsmError('MISALIGNED', `${what} offset must be a multiple of 4, got ${String(offset)}`);
  const words = offset / 4;
  const limit = 2 ** (bits - 1);
  if (words < -limit || words >= limit) throw new AsmError('BRANCH_RANGE', `${what} offset ${offset} is out of range`);
  return words & (2 ** bits - 1);
}

/**
 * `b <offset>` (bytes from this instruction, ±128 MiB): 0x14000000 | imm26.
 *
 * @throws {AsmError} MISALIGNED, BRANCH_RANGE
 */
export function b(offset: number): number {
  return (0x1400_0000 | branchOffset(offset, 26, 'b')) >>> 0;
}

/**
 * `b.<cond> <offset>` (±1 MiB): 0x54000000 | imm19 << 5 | cond.
 *
 * @throws {AsmError} BAD_CONDITION, MISALIGNED, BRANCH_RANGE
 */
export function bCond(cond: A64Cond, offset: number): number {
  const c = (A64_COND as Record<string, number | undefined>)[cond];
  if (c === undefined || !Object.hasOwn(A64_COND, cond)) throw new AsmError('BAD_CONDITION', `unknown condition ${String(cond)}`);
  return (0x5400_0000 | (branchOffset(offset, 19, 'b.cond') << 5) | c) >>> 0;
}

/**
 * `cbnz <rt>, <offset>` (±1 MiB): `sf | 011010 | 1 | imm19 | Rt`.
 *
 * @throws {AsmError} BAD_REGISTER, MISALIGNED, BRANCH_RANGE
 */
export function cbnz(rt: number, offset: number, width: RegWidth = 'x'): number {
  return ((sf(width) << 31) | 0x3500_0000 | (branchOffset(offset, 19, 'cbnz') << 5) | reg(rt)) >>> 0;
}

/**
 * `cbz <rt>, <offset>` (±1 MiB): `sf | 011010 | 0 | imm19 | Rt`.
 *
 * @throws {AsmError} BAD_REGISTER, MISALIGNED, BRANCH_RANGE
 */
export function cbz(rt: number, offset: number, width: RegWidth = 'x'): number {
  return ((sf(width) << 31) | 0x3400_0000 | (branchOffset(offset, 19, 'cbz') << 5) | reg(rt)) >>> 0;
}
