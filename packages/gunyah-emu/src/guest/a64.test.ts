import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AsmError, addImm, b, bCond, cbnz, cbz, cmpImm, hvc, ldr, movImm, movk, movz, nop, ret, smc, str, subImm, subsImm, wfi } from './a64.js';

const hex = (w: number): string => `0x${w.toString(16).padStart(8, '0')}`;

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof AsmError) return e.code;
    throw e;
  }
}

describe('well-known words', () => {
  it.each([
    ['nop', nop(), 0xd503201f],
    ['wfi', wfi(), 0xd503207f],
    ['ret', ret(), 0xd65f03c0],
    ['hvc #0', hvc(0), 0xd4000002],
    ['smc #0', smc(0), 0xd4000003],
    ['hvc #0x1234', hvc(0x1234), 0xd4024682],
  ])('%s', (_name, got, want) => {
    expect(hex(got)).toBe(hex(want));
  });
});

describe('move wide', () => {
  it.each([
    ['movz x0, #0x42', movz(0, 0x42), 0xd2800840],
    ['movz w1, #1', movz(1, 1, 0, 'w'), 0x52800021],
    ['movk x0, #0x8400, lsl #16', movk(0, 0x8400, 16), 0xf2b08000],
    ['movz x0, #0xffff, lsl #48', movz(0, 0xffff, 48), 0xd2ffffe0],
    ['movk w3, #0xabcd, lsl #16', movk(3, 0xabcd, 16, 'w'), 0x72b579a3],
    ['movz xzr (31)', movz(31, 0), 0xd280001f],
  ])('%s', (_name, got, want) => {
    expect(hex(got)).toBe(hex(want));
  });

  it('movImm picks the non-zero halfwords', () => {
    expect(movImm(0, 0n)).toEqual([movz(0, 0)]);
    expect(movImm(0, 0x84000008)).toEqual([movz(0, 0x0008), movk(0, 0x8400, 16)]);
    expect(movImm(5, 0x1_0000_0000n)).toEqual([movz(5, 1, 32)]);
    expect(movImm(2, 0xffff_0000_0000_ffffn)).toEqual([movz(2, 0xffff), movk(2, 0xffff, 48)]);
    expect(movImm(1, 0x12345678, 'w')).toEqual([movz(1, 0x5678, 0, 'w'), movk(1, 0x1234, 16, 'w')]);
  });

  it('rejects bad operands with typed codes', () => {
    expect(code(() => movz(32, 0))).toBe('BAD_REGISTER');
    expect(code(() => movz(-1, 0))).toBe('BAD_REGISTER');
    expect(code(() => movz(0, 0x10000))).toBe('IMM_RANGE');
    expect(code(() => movz(0, 1, 8))).toBe('IMM_RANGE');
    expect(code(() => movz(0, 1, 32, 'w'))).toBe('IMM_RANGE');
    expect(code(() => movImm(0, -1))).toBe('IMM_RANGE');
    expect(code(() => movImm(0, 1n << 64n))).toBe('IMM_RANGE');
    expect(code(() => movImm(0, 0x1_0000_0000, 'w'))).toBe('IMM_RANGE');
    expect(code(() => movImm(0, 0.5))).toBe('IMM_RANGE');
  });

  it('movImm reassembles to the value (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => {
        let acc = 0n;
        for (const w of movImm(7, v)) {
          expect(w & 0x1f).toBe(7);
          const hw = BigInt((w >>> 21) & 3) * 16n;
          const imm = BigInt((w >>> 5) & 0xffff);
          const opc = (w >>> 29) & 3;
          acc = opc === 0b10 ? imm << hw : (acc & ~(0xffffn << hw)) | (imm << hw);
        }
        expect(acc).toBe(v);
      }),
    );
  });
});

describe('loads and stores (unsigned offset)', () => {
  it.each([
    ['str x1, [x0]', str('x', 1, 0), 0xf9000001],
    ['str x2, [x0, #8]', str('x', 2, 0, 8), 0xf9000402],
    ['ldr x2, [x0]', ldr('x', 2, 0), 0xf9400002],
    ['ldr x0, [x0]', ldr('x', 0, 0), 0xf9400000],
    ['str w4, [x3]', str('w', 4, 3), 0xb9000064],
    ['ldr w1, [x0, #4]', ldr('w', 1, 0, 4), 0xb9400401],
    ['strh w1, [x0, #2]', str('h', 1, 0, 2), 0x79000401],
    ['ldrh w1, [x0, #6]', ldr('h', 1, 0, 6), 0x79400c01],
    ['strb w1, [x0, #3]', str('b', 1, 0, 3), 0x39000c01],
    ['ldrb w1, [x0]', ldr('b', 1, 0), 0x39400001],
    ['str x0, [sp, #32760]', str('x', 0, 31, 32760), 0xf93fffe0],
  ])('%s', (_name, got, want) => {
    expect(hex(got)).toBe(hex(want));
  });

  it('rejects misaligned and out-of-range offsets', () => {
    expect(code(() => str('x', 1, 0, 4))).toBe('MISALIGNED');
    expect(code(() => ldr('h', 1, 0, 1))).toBe('MISALIGNED');
    expect(code(() => str('x', 1, 0, 32768))).toBe('IMM_RANGE');
    expect(code(() => str('b', 1, 0, 4096))).toBe('IMM_RANGE');
    expect(code(() => str('b', 1, 0, -1))).toBe('IMM_RANGE');
    expect(code(() => ldr('x', 1, 40))).toBe('BAD_REGISTER');
  });
});

describe('arithmetic', () => {
  it.each([
    ['add x2, x2, #1', addImm(2, 2, 1), 0x91000442],
    ['add x0, x0, #1', addImm(0, 0, 1), 0x91000400],
    ['add x0, x1, #1, lsl #12', addImm(0, 1, 4096), 0x91400420],
    ['add w0, w1, #4095', addImm(0, 1, 4095, 'w'), 0x113ffc20],
    ['sub x1, x1, #1', subImm(1, 1, 1), 0xd1000421],
    ['sub sp, sp, #16', subImm(31, 31, 16), 0xd10043ff],
    ['subs x3, x3, #2', subsImm(3, 3, 2), 0xf1000863],
    ['cmp x0, #10', cmpImm(0, 10), 0xf100281f],
    ['cmp w0, #1', cmpImm(0, 1, 'w'), 0x7100041f],
  ])('%s', (_name, got, want) => {
    expect(hex(got)).toBe(hex(want));
  });

  it('rejects immediates that fit neither form', () => {
    expect(code(() => addImm(0, 0, 4097))).toBe('IMM_RANGE');
    expect(code(() => subImm(0, 0, -1))).toBe('IMM_RANGE');
    expect(code(() => addImm(0, 0, 4096 * 4096))).toBe('IMM_RANGE');
  });
});

describe('branches', () => {
  it.each([
    ['b .', b(0), 0x14000000],
    ['b .-4', b(-4), 0x17ffffff],
    ['b .+8', b(8), 0x14000002],
    ['b.ne .-8', bCond('ne', -8), 0x54ffffc1],
    ['b.eq .+12', bCond('eq', 12), 0x54000060],
    ['cbnz x1, .-8', cbnz(1, -8), 0xb5ffffc1],
    ['cbnz w2, .+4', cbnz(2, 4, 'w'), 0x35000022],
    ['cbz w0, .+16', cbz(0, 16, 'w'), 0x34000080],
  ])('%s', (_name, got, want) => {
    expect(hex(got)).toBe(hex(want));
  });

  it('checks alignment and range', () => {
    expect(code(() => b(2))).toBe('MISALIGNED');
    expect(code(() => b(128 * 1024 * 1024))).toBe('BRANCH_RANGE');
    expect(hex(b(128 * 1024 * 1024 - 4))).toBe('0x15ffffff');
    expect(hex(b(-128 * 1024 * 1024))).toBe('0x16000000');
    expect(code(() => cbnz(0, 1024 * 1024))).toBe('BRANCH_RANGE');
    expect(code(() => bCond('xx' as 'eq', 0))).toBe('BAD_CONDITION');
    expect(code(() => bCond('toString' as 'eq', 0))).toBe('BAD_CONDITION');
  });

  it('b round-trips every in-range offset (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(1 << 25), max: (1 << 25) - 1 }), (words) => {
        const w = b(words * 4);
        expect(w >>> 26).toBe(0b000101);
        const imm = w & 0x3ff_ffff;
        expect(imm >= 1 << 25 ? imm - (1 << 26) : imm).toBe(words);
      }),
    );
  });

  it('every encoder returns a u32 or an AsmError (property)', () => {
    const any = fc.oneof(fc.integer({ min: -100, max: 1 << 20 }), fc.double(), fc.constant(Number.NaN));
    fc.assert(
      fc.property(any, any, any, (x, y, z) => {
        for (const f of [() => movz(x, y, z), () => str('x', x, y, z), () => addImm(x, y, z), () => b(x), () => cbnz(x, y), () => hvc(x)]) {
          try {
            const w = f();
            expect(Number.isInteger(w) && w >= 0 && w <= 0xffffffff).toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(AsmError);
          }
        }
      }),
    );
  });
});
