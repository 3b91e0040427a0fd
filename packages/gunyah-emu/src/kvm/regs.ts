/**
 * arm64 register ids for `KVM_GET_ONE_REG` / `KVM_SET_ONE_REG`. An id is
 * `KVM_REG_ARM64 | size | KVM_REG_ARM_CORE | index`, where a core register's index is its byte
 * offset in `struct kvm_regs` divided by 4. `kvm_regs` begins with `user_pt_regs`:
 * `u64 regs[31] @0; u64 sp @248; u64 pc @256; u64 pstate @264`, then `u64 sp_el1 @272`,
 * `u64 elr_el1 @280`.
 *
 * @module
 */

import { KvmError } from './errors.js';

/** Architecture field of a register id (arm64). */
export const KVM_REG_ARM64 = 0x6000_0000_0000_0000n;
/** Size field of a register id: 64-bit register. */
export const KVM_REG_SIZE_U64 = 0x0030_0000_0000_0000n;
/** Size field of a register id: 32-bit register. */
export const KVM_REG_SIZE_U32 = 0x0020_0000_0000_0000n;
/** Mask of the size field (bits 55:52); the size in bytes is `1 << field`. */
export const KVM_REG_SIZE_MASK = 0x00f0_0000_0000_0000n;
/** Shift of the size field. */
export const KVM_REG_SIZE_SHIFT = 52n;
/** Coprocessor field meaning "core register" (0x0010 in bits 31:16). */
export const KVM_REG_ARM_CORE = 0x0010_0000n;

/**
 * The id of the 64-bit core register at byte offset `offset` of `struct kvm_regs`.
 *
 * @throws {KvmError} BAD_ARGUMENT when the offset is not a multiple of 8 or passes `elr_el1`
 */
export function coreRegId(offset: number): bigint {
  if (!Number.isInteger(offset) || offset < 0 || offset > 280 || offset % 8 !== 0) {
    throw new KvmError('BAD_ARGUMENT', `core register offset must be a multiple of 8 in 0..280, got ${String(offset)}`);
  }
  return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | BigInt(offset / 4);
}

/**
 * The id of general-purpose register `x<n>` (0…30).
 *
 * @example
 * ```ts
 * xReg(0); // 0x6030000000100000n
 * ```
 * @throws {KvmError} BAD_ARGUMENT when `n` is not 0…30
 */
export function xReg(n: number): bigint {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new KvmError('BAD_ARGUMENT', `x register number must be 0..30, got ${String(n)}`);
  return coreRegId(8 * n);
}

/** Named arm64 core register ids. */
export const ARM64_CORE_REG = {
  /** `sp` (SP_EL0), offset 248. */
  SP: coreRegId(248),
  /** `pc`, offset 256. */
  PC: coreRegId(256),
  /** `pstate`, offset 264. */
  PSTATE: coreRegId(264),
  /** `sp_el1`, offset 272. */
  SP_EL1: coreRegId(272),
  /** `elr_el1`, offset 280. */
  ELR_EL1: coreRegId(280),
} as const;

/**
 * The size in bytes of the register a register id names (from bits 55:52).
 */
export function regSize(id: bigint): number {
  return 1 << Number((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
}
