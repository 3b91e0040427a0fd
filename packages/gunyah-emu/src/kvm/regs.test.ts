import { describe, expect, it } from 'vitest';
import { ARM64_CORE_REG, coreRegId, KVM_REG_ARM64, KVM_REG_ARM_CORE, KVM_REG_SIZE_U32, KVM_REG_SIZE_U64, regSize, xReg } from './regs.js';

describe('arm64 core register ids', () => {
  it('pins the fields', () => {
    expect(KVM_REG_ARM64).toBe(0x6000000000000000n);
    expect(KVM_REG_SIZE_U64).toBe(0x0030000000000000n);
    expect(KVM_REG_SIZE_U32).toBe(0x0020000000000000n);
    expect(KVM_REG_ARM_CORE).toBe(0x10n << 16n);
  });

  it('x0..x30 are offset/4 = 2n', () => {
    expect(xReg(0)).toBe(0x6030000000100000n);
    expect(xReg(1)).toBe(0x6030000000100002n);
    expect(xReg(30)).toBe(0x603000000010003cn);
    for (let n = 0; n <= 30; n++) expect(xReg(n)).toBe(0x6030000000100000n + BigInt(2 * n));
  });

  it('sp, pc, pstate, sp_el1, elr_el1', () => {
    expect(ARM64_CORE_REG).toEqual({
      SP: 0x603000000010003en,
      PC: 0x6030000000100040n,
      PSTATE: 0x6030000000100042n,
      SP_EL1: 0x6030000000100044n,
      ELR_EL1: 0x6030000000100046n,
    });
  });

  it('regSize reads the size field', () => {
    expect(regSize(xReg(3))).toBe(8);
    expect(regSize(KVM_REG_ARM64 | KVM_REG_SIZE_U32 | 5n)).toBe(4);
    expect(regSize(KVM_REG_ARM64 | (0x4n << 52n))).toBe(16);
  });

  it('rejects bad numbers', () => {
    for (const n of [-1, 31, 1.5, Number.NaN]) expect(() => xReg(n)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    for (const o of [-8, 4, 288, 1.5]) expect(() => coreRegId(o)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });
});
