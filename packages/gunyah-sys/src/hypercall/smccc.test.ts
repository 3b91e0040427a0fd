import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { HypercallError } from './errors.js';
import {
  GUNYAH_CALL_CLASS,
  GUNYAH_HVC_IMMEDIATE_BASE,
  GUNYAH_HVC_IMMEDIATE_LAST,
  GUNYAH_HYPERCALL_FUNCTION_BASE,
  GUNYAH_NATIVE_MAX_CALL_NUMBER,
  GUNYAH_SMCCC_VERSION,
  SMCCC_FUNCTION_ID,
  SMCCC_HVC_IMMEDIATE,
  SMCCC_NOT_SUPPORTED,
  SMCCC_OWNER,
  decodeHvcImmediate,
  decodeSmcccFunctionId,
  encodeHvcImmediate,
  encodeSmcccFunctionId,
  functionIdFromX0,
  hypercallFunctionId,
  hypercallNumberOfFunctionId,
  splitGunyahFunctionNumber,
} from './smccc.js';

const code = (c: string) => expect.objectContaining({ name: 'HypercallError', code: c });

describe('SMCCC constants (spec §1.1, §2.1)', () => {
  it('match the spec numbers', () => {
    expect(SMCCC_OWNER.VENDOR_HYP).toBe(6);
    expect(SMCCC_OWNER.STANDARD_HYP).toBe(5);
    expect(GUNYAH_CALL_CLASS).toEqual({ PLATFORM: 0b00, HYPERCALL: 0b10, SERVICE: 0b11 });
    expect(GUNYAH_HYPERCALL_FUNCTION_BASE).toBe(0xc6008000);
    expect(SMCCC_FUNCTION_ID).toEqual({
      HYPERVISOR_IDENTIFY: 0xc6008000,
      VENDOR_HYP_CALL_UID: 0x8600ff01,
      VENDOR_HYP_REVISION: 0x8600ff03,
      VENDOR_HYP_CALL_COUNT: 0x8600ff00,
      STANDARD_HYP_CALL_UID: 0x8500ff01,
      STANDARD_HYP_REVISION: 0x8500ff03,
      QCOM_DOWNSTREAM_CALL_UID: 0x86003f01,
    });
    expect(GUNYAH_SMCCC_VERSION).toBe(0x10003);
    expect(SMCCC_NOT_SUPPORTED).toBe(2n ** 64n - 1n);
    expect(SMCCC_HVC_IMMEDIATE).toBe(0);
    expect(GUNYAH_HVC_IMMEDIATE_BASE).toBe(0x6000);
    expect(GUNYAH_HVC_IMMEDIATE_LAST).toBe(0x61ff);
    expect(GUNYAH_NATIVE_MAX_CALL_NUMBER).toBe(0x1ff);
  });
});

describe('encodeSmcccFunctionId / decodeSmcccFunctionId', () => {
  it('encodes the spec IDs from their fields', () => {
    expect(encodeSmcccFunctionId({ fast: true, sixtyFour: true, owner: 6, number: 0x8000 })).toBe(0xc6008000);
    expect(encodeSmcccFunctionId({ fast: true, sixtyFour: true, owner: 6, number: 0x8012 })).toBe(0xc6008012);
    expect(encodeSmcccFunctionId({ fast: true, sixtyFour: false, owner: 6, number: 0xff01 })).toBe(0x8600ff01);
    expect(encodeSmcccFunctionId({ fast: true, sixtyFour: false, owner: 5, number: 0xff03 })).toBe(0x8500ff03);
    expect(encodeSmcccFunctionId({ fast: true, sixtyFour: false, owner: 6, number: 0x3f01 })).toBe(0x86003f01);
    expect(encodeSmcccFunctionId({ fast: false, sixtyFour: false, owner: 0, number: 0 })).toBe(0);
    expect(encodeSmcccFunctionId({ fast: true, sixtyFour: true, owner: 63, number: 0xffff, sveHint: true })).toBe(0xff01ffff);
  });

  it('decodes the fields of the spec IDs', () => {
    expect(decodeSmcccFunctionId(0xc6008065)).toEqual({ fast: true, sixtyFour: true, owner: 6, sveHint: false, number: 0x8065 });
    expect(decodeSmcccFunctionId(0x8600ff01n)).toEqual({ fast: true, sixtyFour: false, owner: 6, sveHint: false, number: 0xff01 });
    expect(decodeSmcccFunctionId(0xc6018000)).toEqual({ fast: true, sixtyFour: true, owner: 6, sveHint: true, number: 0x8000 });
  });

  it('rejects reserved bits 23:17 and non-u32 values', () => {
    for (let bit = 17; bit <= 23; bit++) {
      expect(() => decodeSmcccFunctionId((0xc6008000 | (1 << bit)) >>> 0)).toThrow(code('SMCCC_RESERVED_BITS'));
    }
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN, -1n, 2n ** 32n]) {
      expect(() => decodeSmcccFunctionId(bad)).toThrow(code('NOT_U32'));
    }
    expect(() => decodeSmcccFunctionId('0xc6008000' as unknown as number)).toThrow(code('NOT_U32'));
    // hostile objects never turn into a TypeError while the message is built
    const hostile = [Object.create(null), { toString: () => { throw new Error('boom'); } }, Symbol('x')];
    for (const h of hostile) expect(() => decodeSmcccFunctionId(h as number)).toThrow(code('NOT_U32'));
  });

  it('rejects fields that do not fit', () => {
    const base = { fast: true, sixtyFour: true, owner: 6, number: 0 };
    expect(() => encodeSmcccFunctionId({ ...base, owner: 64 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeSmcccFunctionId({ ...base, owner: -1 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeSmcccFunctionId({ ...base, number: 0x10000 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeSmcccFunctionId({ ...base, number: 1.5 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeSmcccFunctionId({ ...base, fast: 1 as unknown as boolean })).toThrow(code('FIELD_OUT_OF_RANGE'));
  });

  it('round-trips every field combination (property)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 0xffff }), fc.boolean(), (fast, sixtyFour, owner, number, sveHint) => {
        const id = encodeSmcccFunctionId({ fast, sixtyFour, owner, number, sveHint });
        expect(id).toBeGreaterThanOrEqual(0);
        expect(id).toBeLessThanOrEqual(0xffffffff);
        expect(id & 0x00fe0000).toBe(0);
        expect(decodeSmcccFunctionId(id)).toEqual({ fast, sixtyFour, owner, number, sveHint });
      }),
    );
  });

  it('fuzz: any u32 decodes and re-encodes to itself, or is a typed error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (id) => {
        try {
          expect(encodeSmcccFunctionId(decodeSmcccFunctionId(id))).toBe(id);
        } catch (e) {
          expect(e).toBeInstanceOf(HypercallError);
          expect((e as HypercallError).code).toBe('SMCCC_RESERVED_BITS');
          expect(id & 0x00fe0000).not.toBe(0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('fuzz: arbitrary JS values never crash the decoder', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true, withSet: true, withTypedArray: true }), (v) => {
        try {
          decodeSmcccFunctionId(v as number);
        } catch (e) {
          expect(e).toBeInstanceOf(HypercallError);
        }
      }),
    );
  });
});

describe('functionIdFromX0', () => {
  it('takes W0', () => {
    expect(functionIdFromX0(0xc6008000n)).toBe(0xc6008000);
    expect(functionIdFromX0(0xdead_beef_c600_8012n)).toBe(0xc6008012);
    expect(() => functionIdFromX0(-1n)).toThrow(code('NOT_U64'));
    expect(() => functionIdFromX0(2n ** 64n)).toThrow(code('NOT_U64'));
    expect(() => functionIdFromX0(5 as unknown as bigint)).toThrow(code('NOT_U64'));
  });
});

describe('Gunyah function numbers', () => {
  it('splits class and index (§1.1)', () => {
    expect(splitGunyahFunctionNumber(0x8065)).toEqual({ callClass: 2, callClassName: 'HYPERCALL', index: 0x65 });
    expect(splitGunyahFunctionNumber(0xff01)).toEqual({ callClass: 3, callClassName: 'SERVICE', index: 0x3f01 });
    expect(splitGunyahFunctionNumber(0x0001)).toEqual({ callClass: 0, callClassName: 'PLATFORM', index: 1 });
    expect(splitGunyahFunctionNumber(0x4001)).toEqual({ callClass: 1, callClassName: 'UNDEFINED', index: 1 });
    expect(() => splitGunyahFunctionNumber(0x10000)).toThrow(code('NOT_U16'));
  });

  it('hypercall function ID = 0xC6008000 | n', () => {
    expect(hypercallFunctionId(0)).toBe(0xc6008000);
    expect(hypercallFunctionId(0x6a)).toBe(0xc600806a);
    expect(hypercallFunctionId(0x3fff)).toBe(0xc600bfff);
    expect(() => hypercallFunctionId(0x4000)).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => hypercallFunctionId(-1)).toThrow(code('FIELD_OUT_OF_RANGE'));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x3fff }), (n) => {
        expect(hypercallNumberOfFunctionId(hypercallFunctionId(n))).toBe(n);
      }),
    );
  });

  it('hypercallNumberOfFunctionId: only fast, SMC64, owner 6, class 0b10', () => {
    expect(hypercallNumberOfFunctionId(0xc6008012)).toBe(0x12);
    expect(hypercallNumberOfFunctionId(0xc6018012)).toBe(0x12); // SVE hint ignored
    expect(hypercallNumberOfFunctionId(0x86008012)).toBeUndefined();
    expect(hypercallNumberOfFunctionId(0x46008012)).toBeUndefined();
    expect(hypercallNumberOfFunctionId(0xc7008012)).toBeUndefined();
    expect(hypercallNumberOfFunctionId(0xc600c012)).toBeUndefined();
    expect(hypercallNumberOfFunctionId(0x8600ff01)).toBeUndefined();
  });
});

describe('native hvc immediates (§1.2)', () => {
  it('imm = 0x6000 + call', () => {
    expect(encodeHvcImmediate(0)).toBe(0x6000);
    expect(encodeHvcImmediate(0x12)).toBe(0x6012);
    expect(encodeHvcImmediate(0x1ff)).toBe(0x61ff);
    expect(decodeHvcImmediate(0x6012)).toBe(0x12);
    expect(() => encodeHvcImmediate(0x200)).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeHvcImmediate(-1)).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => decodeHvcImmediate(0)).toThrow(code('NOT_GUNYAH_IMMEDIATE'));
    expect(() => decodeHvcImmediate(0x5fff)).toThrow(code('NOT_GUNYAH_IMMEDIATE'));
    expect(() => decodeHvcImmediate(0x6200)).toThrow(code('NOT_GUNYAH_IMMEDIATE'));
    expect(() => decodeHvcImmediate(0x10000)).toThrow(code('NOT_U16'));
  });

  it('fuzz: every u16 decodes to a call number that re-encodes, or is a typed error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (imm) => {
        try {
          const n = decodeHvcImmediate(imm);
          expect(encodeHvcImmediate(n)).toBe(imm);
        } catch (e) {
          expect((e as HypercallError).code).toBe('NOT_GUNYAH_IMMEDIATE');
        }
      }),
      { numRuns: 2000 },
    );
  });
});
