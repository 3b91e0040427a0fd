/**
 * Register-level encoding and decoding of hypercall invocations and results, in both calling
 * forms (spec/gunyah-hypercalls.md §1.1, §1.2, §3).
 *
 * @module
 */

import { gunyahErrorFromRegister, gunyahErrorName, type GunyahErrorName } from './error-codes.js';
import { HypercallError, U64_MAX, checkU64, checkUint, show } from './errors.js';
import { functionIdFromX0 } from './smccc.js';
import {
  findHypercallByHvcImmediate,
  findHypercallBySmcccId,
  requireHypercall,
  type CallingForm,
  type HYPERCALLS,
  type HypercallDescriptor,
  type HypercallName,
} from './table.js';

/** Input names of hypercall `N` that carry data (everything except `res0`/`res1`). */
export type HypercallInputName<N extends HypercallName> = Exclude<(typeof HYPERCALLS)[N]['inputs'][number], 'res0' | 'res1'>;

/** Output names of hypercall `N` other than `error`. */
export type HypercallOutputName<N extends HypercallName> = Exclude<(typeof HYPERCALLS)[N]['outputs'][number], 'error'>;

/** Arguments of hypercall `N`: one u64 (bigint, or a non-negative safe-integer number) per data input. */
export type HypercallArgs<N extends HypercallName> = { readonly [K in HypercallInputName<N>]: bigint | number };

/** Number of input registers the generator allows (spec §1.1). */
export const MAX_HYPERCALL_INPUTS = 8;

/** Number of output registers the generator allows (spec §1.1). */
export const MAX_HYPERCALL_OUTPUTS = 8;

/** Value a `res1` input must hold: all-ones (spec §1.2). */
export const RES1_VALUE = U64_MAX;

/** A hypercall invocation as registers. */
export type EncodedHypercall =
  | {
      /** SMCCC form: `hvc #0`. */
      readonly form: 'smccc';
      /** The function ID (W0). */
      readonly functionId: number;
      /** x0..x8: x0 = function ID, x1.. = inputs, the rest zero. Always 9 registers. */
      readonly registers: readonly bigint[];
    }
  | {
      /** Native form: `hvc #immediate`. */
      readonly form: 'native';
      /** The `hvc` immediate, 0x6000 + call number. */
      readonly immediate: number;
      /** x0..x7: x0.. = inputs, the rest zero. Always 8 registers. */
      readonly registers: readonly bigint[];
    };

function checkInputValue(d: HypercallDescriptor, name: string, value: unknown): bigint {
  const v = checkU64(value, `${d.name}.${name}`);
  if (d.types[name] === 'u32' && v > 0xffff_ffffn) {
    throw new HypercallError('FIELD_OUT_OF_RANGE', `${d.name}.${name} is a u32: ${v}`, value);
  }
  if (d.types[name] === 'bool' && v > 1n) {
    throw new HypercallError('FIELD_OUT_OF_RANGE', `${d.name}.${name} is a bool: ${v}`, value);
  }
  return v;
}

function checkKeys(d: HypercallDescriptor, given: object, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(given)) {
    if (!allowed.includes(k)) {
      throw new HypercallError('UNEXPECTED_ARGUMENT', `${d.name} has no ${what} named ${k}`, k);
    }
  }
}

/**
 * Builds the registers of a hypercall invocation.
 *
 * `res0` inputs are set to 0 and `res1` inputs to all-ones; registers after the last input are
 * zero (Linux passes an explicit 0 after the last argument and says Gunyah requires it; spec §1.1).
 *
 * @param name - the hypercall.
 * @param args - one value per data input, by the names of {@link HYPERCALLS}.
 * @param form - `'smccc'` (default) or `'native'`.
 * @throws {HypercallError} FORM_NOT_AVAILABLE if the call is not known in `form`.
 * @throws {HypercallError} INCOMPLETE_SIGNATURE for calls whose inputs the spec does not fully give.
 * @throws {HypercallError} MISSING_ARGUMENT / UNEXPECTED_ARGUMENT if `args` does not match the inputs.
 * @throws {HypercallError} NOT_U64 / FIELD_OUT_OF_RANGE for values that do not fit their register.
 *
 * @example
 * ```ts
 * encodeHypercall('doorbell_send', { doorbell: 5n, new_flags: 1n });
 * // { form: 'smccc', functionId: 0xc6008012, registers: [0xc6008012n, 5n, 1n, 0n, 0n, 0n, 0n, 0n, 0n] }
 * ```
 */
export function encodeHypercall<N extends HypercallName>(name: N, args: HypercallArgs<N>, form: CallingForm = 'smccc'): EncodedHypercall {
  const d = requireHypercall(name, form);
  if (!d.signatureComplete) {
    throw new HypercallError('INCOMPLETE_SIGNATURE', `the spec does not give all inputs of ${d.name}`, name);
  }
  const given = args as unknown as { readonly [k: string]: unknown };
  checkKeys(d, given, d.inputs.filter((i) => i !== 'res0' && i !== 'res1'), 'input');
  const inputs = d.inputs.map((input) => {
    if (input === 'res0') return 0n;
    if (input === 'res1') return RES1_VALUE;
    if (!Object.hasOwn(given, input)) {
      throw new HypercallError('MISSING_ARGUMENT', `${d.name} needs ${input}`, input);
    }
    return checkInputValue(d, input, given[input]);
  });
  if (form === 'smccc') {
    const functionId = d.smcccFunctionId as number;
    const registers = [BigInt(functionId), ...inputs];
    while (registers.length < MAX_HYPERCALL_INPUTS + 1) registers.push(0n);
    return { form, functionId, registers };
  }
  const registers = [...inputs];
  while (registers.length < MAX_HYPERCALL_INPUTS) registers.push(0n);
  return { form, immediate: d.hvcImmediate as number, registers };
}

/** A trapped or traced hypercall invocation, as input to {@link decodeHypercall}. */
export type HypercallInvocation =
  | {
      /** SMCCC form. */
      readonly form: 'smccc';
      /** x0 upwards; x0 holds the function ID in its low 32 bits. */
      readonly registers: readonly bigint[];
    }
  | {
      /** Native form. */
      readonly form: 'native';
      /** The `hvc` immediate. */
      readonly immediate: number;
      /** x0 upwards. */
      readonly registers: readonly bigint[];
    };

/** A decoded hypercall invocation. */
export interface DecodedHypercall {
  /** The hypercall. */
  readonly hypercall: HypercallDescriptor;
  /** Data inputs by name (reserved inputs left out). */
  readonly args: { readonly [name: string]: bigint };
  /**
   * Reserved inputs that do not hold their required value, as `'x3 (res0)'`. Non-empty means the
   * native path of the hypervisor answers ERROR_ARGUMENT_INVALID (spec §1.2); the 12/2023 SMCCC
   * path ignores them (§1.1).
   */
  readonly reservedViolations: readonly string[];
}

function checkRegisters(registers: unknown, needed: number, what: string): readonly bigint[] {
  if (!Array.isArray(registers)) {
    throw new HypercallError('TRUNCATED_REGISTERS', `${what}: registers must be an array`, registers);
  }
  if (registers.length < needed) {
    throw new HypercallError('TRUNCATED_REGISTERS', `${what} needs ${needed} registers, got ${registers.length}`, registers.length);
  }
  return registers.map((r: unknown, i) => checkU64(r, `x${i}`));
}

/**
 * Identifies a hypercall from its registers and names its arguments; the inverse of
 * {@link encodeHypercall}.
 *
 * @param invocation - the form, the `hvc` immediate (native form) and the registers from x0 upwards.
 * @throws {HypercallError} NOT_U64 if a register is not a u64; NOT_U16 / NOT_GUNYAH_IMMEDIATE for a
 *   bad immediate; SMCCC_RESERVED_BITS for a malformed function ID.
 * @throws {HypercallError} UNKNOWN_HYPERCALL if the ID or immediate names no hypercall known in that form.
 * @throws {HypercallError} TRUNCATED_REGISTERS if fewer registers than the inputs need are given.
 */
export function decodeHypercall(invocation: HypercallInvocation): DecodedHypercall {
  let d: HypercallDescriptor | undefined;
  let first: number;
  if (invocation.form === 'smccc') {
    const regs0 = checkRegisters(invocation.registers, 1, 'SMCCC invocation');
    d = findHypercallBySmcccId(functionIdFromX0(regs0[0] as bigint));
    first = 1;
  } else {
    checkUint(invocation.immediate, 16, 'hvc immediate');
    d = findHypercallByHvcImmediate(invocation.immediate);
    first = 0;
  }
  if (d === undefined) {
    throw new HypercallError('UNKNOWN_HYPERCALL', `no ${invocation.form} hypercall matches`, invocation);
  }
  const regs = checkRegisters(invocation.registers, first + d.inputs.length, d.name);
  const args: Record<string, bigint> = {};
  const reservedViolations: string[] = [];
  d.inputs.forEach((input, i) => {
    const v = regs[first + i] as bigint;
    if (input === 'res0' || input === 'res1') {
      if (v !== (input === 'res0' ? 0n : RES1_VALUE)) reservedViolations.push(`x${first + i} (${input})`);
    } else {
      args[input] = v;
    }
  });
  return { hypercall: d, args, reservedViolations };
}

/** Results of hypercall `N` for {@link encodeHypercallResult}: the error code plus one u64 per other output. */
export type HypercallResultValues<N extends HypercallName> = { readonly [K in HypercallOutputName<N>]: bigint | number } & {
  /** The Gunyah error code (signed); required when the call has an error output. */
  readonly error?: number | bigint;
};

/**
 * Builds the result registers x0..x7 of a hypercall (identical in both forms: output *j* in x*j*).
 * Unused result registers are zero.
 *
 * @param name - the hypercall.
 * @param values - `error` (signed Gunyah code, if the call has an error output) and the other outputs.
 * @throws {HypercallError} INCOMPLETE_SIGNATURE for calls whose outputs the spec does not give.
 * @throws {HypercallError} MISSING_ARGUMENT / UNEXPECTED_ARGUMENT if `values` does not match the outputs.
 * @throws {HypercallError} NOT_U64 / FIELD_OUT_OF_RANGE for values that do not fit their register.
 */
export function encodeHypercallResult<N extends HypercallName>(name: N, values: HypercallResultValues<N>): readonly bigint[] {
  return encodeResultFor(requireHypercall(name), values as unknown as { readonly [k: string]: unknown });
}

function encodeResultFor(d: HypercallDescriptor, given: { readonly [k: string]: unknown }): readonly bigint[] {
  if (!d.signatureComplete) {
    throw new HypercallError('INCOMPLETE_SIGNATURE', `the spec does not give the outputs of ${d.name}`, d.name);
  }
  checkKeys(d, given, d.outputs, 'output');
  const regs = d.outputs.map((out) => {
    if (!Object.hasOwn(given, out)) throw new HypercallError('MISSING_ARGUMENT', `${d.name} result needs ${out}`, out);
    const v = given[out];
    if (out === 'error') {
      if (typeof v !== 'number' && typeof v !== 'bigint') {
        throw new HypercallError('NOT_U64', `error must be a number or bigint: ${show(v)}`, v);
      }
      return BigInt.asUintN(64, gunyahErrorFromRegister(v));
    }
    return checkInputValue(d, out, v);
  });
  while (regs.length < MAX_HYPERCALL_OUTPUTS) regs.push(0n);
  return regs;
}

/** A decoded hypercall result. */
export interface DecodedHypercallResult {
  /** The signed Gunyah error code, or `undefined` for calls without an error output (identify). */
  readonly error: bigint | undefined;
  /** The error's name, when `error` is a known code. */
  readonly errorName: GunyahErrorName | undefined;
  /** The other outputs by name. */
  readonly outputs: { readonly [name: string]: bigint };
}

/**
 * Names the result registers of a hypercall; the inverse of {@link encodeHypercallResult}.
 *
 * Outputs after a non-zero error are still returned as the registers hold them; the hypervisor does
 * not define them in that case.
 *
 * @param name - the hypercall (any form).
 * @param registers - x0 upwards.
 * @throws {HypercallError} INCOMPLETE_SIGNATURE for calls whose outputs the spec does not give.
 * @throws {HypercallError} TRUNCATED_REGISTERS / NOT_U64 for missing or malformed registers.
 */
export function decodeHypercallResult(name: HypercallName, registers: readonly bigint[]): DecodedHypercallResult {
  return decodeResultFor(requireHypercall(name), registers);
}

function decodeResultFor(d: HypercallDescriptor, registers: readonly bigint[]): DecodedHypercallResult {
  if (!d.signatureComplete) {
    throw new HypercallError('INCOMPLETE_SIGNATURE', `the spec does not give the outputs of ${d.name}`, d.name);
  }
  const regs = checkRegisters(registers, d.outputs.length, `${d.name} result`);
  const outputs: Record<string, bigint> = {};
  let error: bigint | undefined;
  d.outputs.forEach((out, i) => {
    const v = regs[i] as bigint;
    if (out === 'error') error = BigInt.asIntN(64, v);
    else outputs[out] = v;
  });
  return { error, errorName: error === undefined ? undefined : gunyahErrorName(error), outputs };
}
