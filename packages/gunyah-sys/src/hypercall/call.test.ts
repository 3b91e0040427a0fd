import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { MAX_HYPERCALL_INPUTS, RES1_VALUE, decodeHypercall, decodeHypercallResult, encodeHypercall, encodeHypercallResult } from './call.js';
import { HypercallError } from './errors.js';
import { HYPERCALL_LIST, type HypercallName } from './table.js';

const code = (c: string) => expect.objectContaining({ name: 'HypercallError', code: c });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const ALL_ONES = 2n ** 64n - 1n;

describe('encodeHypercall', () => {
  it('reproduces the doorbell_send register example of spec §1.2', () => {
    // SMCCC: x0=0xC6008012, x1=cap, x2=new_flags, x3=0
    expect(encodeHypercall('doorbell_send', { doorbell: 7n, new_flags: 1n })).toEqual({
      form: 'smccc',
      functionId: 0xc6008012,
      registers: [0xc6008012n, 7n, 1n, 0n, 0n, 0n, 0n, 0n, 0n],
    });
    // Native: hvc #0x6012, x0=cap, x1=new_flags, x2=0
    expect(encodeHypercall('doorbell_send', { doorbell: 7n, new_flags: 1n }, 'native')).toEqual({
      form: 'native',
      immediate: 0x6012,
      registers: [7n, 1n, 0n, 0n, 0n, 0n, 0n, 0n],
    });
  });

  it('zeroes the registers after the last input (Linux: x8=0 for addrspace_map, x7=0 for unmap)', () => {
    const map = encodeHypercall('addrspace_map', { addrspace: 1n, memextent: 2n, vbase: 3n, map_attrs: 4, map_flags: 5, offset: 6n, size: 7n });
    expect(map.registers).toEqual([0xc600802bn, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 0n]);
    const unmap = encodeHypercall('addrspace_unmap', { addrspace: 1n, memextent: 2n, vbase: 3n, map_flags: 5n, offset: 6n, size: 7n });
    expect(unmap.registers[7]).toBe(0n);
    // vcpu_run passes x5 = 0 (its res0)
    expect(encodeHypercall('vcpu_run', { vcpu: 9n, resume_data0: 1n, resume_data1: 2n, resume_data2: 3n }).registers.slice(0, 6)).toEqual([0xc6008065n, 9n, 1n, 2n, 3n, 0n]);
  });

  it('sets res1 inputs to all-ones (§3.3, §3.8)', () => {
    expect(encodeHypercall('vcpu_set_affinity', { vcpu: 1n, cpu_index: 2n }).registers.slice(0, 4)).toEqual([0xc600803dn, 1n, 2n, ALL_ONES]);
    expect(RES1_VALUE).toBe(ALL_ONES);
    expect(encodeHypercall('msgqueue_configure_send', { mq: 1n, not_full_threshold: ALL_ONES, not_full_holdoff: ALL_ONES }, 'native').registers[3]).toBe(ALL_ONES);
  });

  it('identify has no inputs', () => {
    expect(encodeHypercall('hypervisor_identify', {}, 'native')).toEqual({ form: 'native', immediate: 0x6000, registers: [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n] });
  });

  it('rejects bad arguments with typed errors', () => {
    expect(() => encodeHypercall('doorbell_send', { doorbell: 1n } as never)).toThrow(code('MISSING_ARGUMENT'));
    expect(() => encodeHypercall('doorbell_send', { doorbell: 1n, new_flags: 1n, res0: 0n } as never)).toThrow(code('UNEXPECTED_ARGUMENT'));
    expect(() => encodeHypercall('doorbell_send', { doorbell: -1n, new_flags: 1n })).toThrow(code('NOT_U64'));
    expect(() => encodeHypercall('doorbell_send', { doorbell: 2n ** 64n, new_flags: 1n })).toThrow(code('NOT_U64'));
    expect(() => encodeHypercall('doorbell_send', { doorbell: 1.5, new_flags: 1n })).toThrow(code('NOT_U64'));
    expect(() => encodeHypercall('memextent_donate', { options: 2n ** 32n, from: 1n, to: 2n, offset: 0n, size: 1n })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeHypercall('addrspace_find_info_area', {}, 'native')).toThrow(code('FORM_NOT_AVAILABLE'));
    expect(() => encodeHypercall('watchdog_manage', { watchdog: 1n, operation: 0n }, 'smccc')).toThrow(code('FORM_NOT_AVAILABLE'));
    expect(() => encodeHypercall('watchdog_manage', { watchdog: 1n, operation: 0n }, 'native')).toThrow(code('INCOMPLETE_SIGNATURE'));
    expect(() => encodeHypercall('nope' as HypercallName, {} as never)).toThrow(code('UNKNOWN_HYPERCALL'));
  });
});

describe('decodeHypercall', () => {
  it('decodes a traced SMCCC vcpu_run', () => {
    const d = decodeHypercall({ form: 'smccc', registers: [0xc6008065n, 9n, 1n, 2n, 3n, 0n] });
    expect(d.hypercall.name).toBe('vcpu_run');
    expect(d.args).toEqual({ vcpu: 9n, resume_data0: 1n, resume_data1: 2n, resume_data2: 3n });
    expect(d.reservedViolations).toEqual([]);
  });

  it('reads the function ID from W0 and reports reserved-input violations', () => {
    const d = decodeHypercall({ form: 'smccc', registers: [0xffff_ffff_c600_8012n, 7n, 1n, 5n] });
    expect(d.hypercall.name).toBe('doorbell_send');
    expect(d.reservedViolations).toEqual(['x3 (res0)']);
    const n = decodeHypercall({ form: 'native', immediate: 0x603d, registers: [1n, 2n, 0n] });
    expect(n.reservedViolations).toEqual(['x2 (res1)']);
  });

  it('rejects what it cannot decode', () => {
    expect(() => decodeHypercall({ form: 'smccc', registers: [0xc6008016n] })).toThrow(code('UNKNOWN_HYPERCALL'));
    expect(() => decodeHypercall({ form: 'smccc', registers: [0x8600ff01n] })).toThrow(code('UNKNOWN_HYPERCALL'));
    expect(() => decodeHypercall({ form: 'smccc', registers: [] })).toThrow(code('TRUNCATED_REGISTERS'));
    expect(() => decodeHypercall({ form: 'smccc', registers: [0xc6008012n, 1n] })).toThrow(code('TRUNCATED_REGISTERS'));
    expect(() => decodeHypercall({ form: 'smccc', registers: [0xc6fe8012n, 1n, 2n, 3n] })).toThrow(code('SMCCC_RESERVED_BITS'));
    expect(() => decodeHypercall({ form: 'native', immediate: 0, registers: [] })).toThrow(code('NOT_GUNYAH_IMMEDIATE'));
    expect(() => decodeHypercall({ form: 'native', immediate: 0x606a, registers: [0n] })).toThrow(code('UNKNOWN_HYPERCALL'));
    expect(() => decodeHypercall({ form: 'native', immediate: 0x6012, registers: [1n, -2n, 0n] })).toThrow(code('NOT_U64'));
  });

  it('round-trips every callable hypercall in both forms (property)', () => {
    const callable = HYPERCALL_LIST.filter((d) => d.signatureComplete);
    fc.assert(
      fc.property(fc.constantFrom(...callable), fc.constantFrom('smccc' as const, 'native' as const), fc.array(u64, { minLength: 8, maxLength: 8 }), (d, form, values) => {
        if (!d.forms.includes(form)) return;
        const args: Record<string, bigint> = {};
        d.inputs.forEach((name, i) => {
          if (name !== 'res0' && name !== 'res1') args[name] = d.types[name] === 'u32' ? (values[i] as bigint) & 0xffffffffn : (values[i] as bigint);
        });
        const enc = encodeHypercall(d.name, args as never, form);
        expect(enc.registers).toHaveLength(form === 'smccc' ? MAX_HYPERCALL_INPUTS + 1 : MAX_HYPERCALL_INPUTS);
        const dec = decodeHypercall(enc.form === 'smccc' ? { form: 'smccc', registers: enc.registers } : { form: 'native', immediate: enc.immediate, registers: enc.registers });
        expect(dec.hypercall).toBe(d);
        expect(dec.args).toEqual(args);
        expect(dec.reservedViolations).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });

  it('fuzz: random registers decode or give a typed error', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ form: fc.constant('smccc' as const), registers: fc.array(fc.oneof(u64, u64.map((x) => (x & ~0xffffn) | 0xc6008000n | (x & 0x7fn))), { maxLength: 10 }) }),
          fc.record({ form: fc.constant('native' as const), immediate: fc.integer({ min: 0x5ff0, max: 0x6210 }), registers: fc.array(fc.oneof(u64, fc.bigInt()), { maxLength: 9 }) }),
        ),
        (inv) => {
          try {
            const d = decodeHypercall(inv);
            expect(Object.keys(d.args).length).toBeLessThanOrEqual(8);
          } catch (e) {
            expect(e).toBeInstanceOf(HypercallError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('hypercall results', () => {
  it('doorbell_send: x0 = error, x1 = old_flags', () => {
    expect(encodeHypercallResult('doorbell_send', { error: 0, old_flags: 0x3n })).toEqual([0n, 3n, 0n, 0n, 0n, 0n, 0n, 0n]);
    expect(decodeHypercallResult('doorbell_send', [0n, 3n])).toEqual({ error: 0n, errorName: 'OK', outputs: { old_flags: 3n } });
  });

  it('negative errors are two\'s complement in x0', () => {
    expect(encodeHypercallResult('vcpu_run', { error: -2, state: 0n, state_data0: 0n, state_data1: 0n, state_data2: 0n })[0]).toBe(ALL_ONES - 1n);
    expect(decodeHypercallResult('vcpu_run', [ALL_ONES - 1n, 0n, 0n, 0n, 0n])).toMatchObject({ error: -2n, errorName: 'RETRY' });
    expect(decodeHypercallResult('msgqueue_send', [61n, 0n])).toMatchObject({ error: 61n, errorName: 'MSGQUEUE_FULL', outputs: { not_full: 0n } });
    expect(decodeHypercallResult('object_activate', [12345n]).errorName).toBeUndefined();
  });

  it('identify has no error output; the Android-only call decodes too', () => {
    expect(decodeHypercallResult('hypervisor_identify', [1n, 2n, 3n, 4n])).toEqual({ error: undefined, errorName: undefined, outputs: { api_info: 1n, flags0: 2n, flags1: 3n, flags2: 4n } });
    expect(decodeHypercallResult('addrspace_find_info_area', [0n, 0x1000n, 0x2000n])).toMatchObject({ outputs: { ipa: 0x1000n, size: 0x2000n } });
  });

  it('rejects bad result values', () => {
    expect(() => encodeHypercallResult('doorbell_send', { old_flags: 0n } as never)).toThrow(code('MISSING_ARGUMENT'));
    expect(() => encodeHypercallResult('doorbell_send', { error: 0, old_flags: 0n, x: 1n } as never)).toThrow(code('UNEXPECTED_ARGUMENT'));
    expect(() => encodeHypercallResult('doorbell_send', { error: '0', old_flags: 0n } as never)).toThrow(code('NOT_U64'));
    expect(() => encodeHypercallResult('msgqueue_send', { error: 0, not_full: 2n })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeHypercallResult('prng_get_entropy', { error: 0, data0: 2n ** 32n, data1: 0n, data2: 0n, data3: 0n })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => decodeHypercallResult('vcpu_run', [0n, 1n])).toThrow(code('TRUNCATED_REGISTERS'));
    expect(() => decodeHypercallResult('watchdog_configure', [0n])).toThrow(code('INCOMPLETE_SIGNATURE'));
    expect(() => encodeHypercallResult('watchdog_configure', {} as never)).toThrow(code('INCOMPLETE_SIGNATURE'));
  });

  it('round-trips every call\'s results (property)', () => {
    const callable = HYPERCALL_LIST.filter((d) => d.signatureComplete);
    fc.assert(
      fc.property(fc.constantFrom(...callable), fc.array(u64, { minLength: 8, maxLength: 8 }), fc.integer({ min: -1000, max: 1000 }), (d, values, error) => {
        const given: Record<string, bigint | number> = {};
        d.outputs.forEach((name, i) => {
          const v = values[i] as bigint;
          given[name] = name === 'error' ? error : d.types[name] === 'bool' ? v & 1n : d.types[name] === 'u32' ? v & 0xffffffffn : v;
        });
        const regs = encodeHypercallResult(d.name, given as never);
        expect(regs).toHaveLength(8);
        const dec = decodeHypercallResult(d.name, regs);
        const { error: _e, ...rest } = given;
        expect(dec.outputs).toEqual(rest);
        expect(dec.error).toBe(d.hasErrorOutput ? BigInt(error) : undefined);
      }),
      { numRuns: 1000 },
    );
  });

  it('fuzz: decodeHypercallResult on random registers', () => {
    fc.assert(
      fc.property(fc.constantFrom(...HYPERCALL_LIST), fc.array(fc.oneof(u64, fc.bigInt()), { maxLength: 9 }), (d, regs) => {
        try {
          const r = decodeHypercallResult(d.name, regs);
          if (r.error !== undefined) expect(r.error).toBe(BigInt.asIntN(64, regs[0] as bigint));
        } catch (e) {
          expect(e).toBeInstanceOf(HypercallError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
