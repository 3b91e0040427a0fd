/**
 * A small label-aware assembler over the A64 encoders of this package and the test-guest programs built
 * with it. The guests run at EL1 with the MMU off straight from the reset state KVM gives a vCPU:
 * no stack, no exception vectors, only registers, loads/stores and `hvc`.
 *
 * @module
 */

import { AsmError, b, bCond, cbnz, hvc, movImm, smc, type A64Cond, type RegWidth } from './a64.js';

/** PSCI 0.2 `SYSTEM_OFF` function id (SMC32, standard service). */
export const PSCI_SYSTEM_OFF = 0x8400_0008;

/** An assembled program: instruction words and their little-endian bytes. */
export interface GuestProgram {
  /** Instruction words, in order. */
  readonly words: Uint32Array;
  /** The same as little-endian bytes, ready to copy into guest memory. */
  readonly bytes: Uint8Array;
  /** Byte offset of each label from the start of the program. */
  readonly labels: ReadonlyMap<string, number>;
}

type Fixup = (offset: number) => number;

/**
 * Collects instruction words; branches may name labels defined before or after them.
 *
 * @example
 * ```ts
 * const a = new Assembler();
 * a.label('loop').emit(nop()).b('loop');
 * const { bytes } = a.assemble();
 * ```
 */
export class Assembler {
  readonly #words: (number | { fixup: Fixup; label: string })[] = [];
  readonly #labels = new Map<string, number>();

  /** Byte offset of the next instruction. */
  get offset(): number {
    return this.#words.length * 4;
  }

  /**
   * Append instruction words.
   *
   * @throws {AsmError} IMM_RANGE when a word is not a u32
   */
  emit(...words: number[]): this {
    for (const w of words) {
      if (!Number.isInteger(w) || w < 0 || w > 0xffff_ffff) throw new AsmError('IMM_RANGE', `instruction word must be a u32, got ${String(w)}`);
      this.#words.push(w);
    }
    return this;
  }

  /**
   * Define `name` at the current offset.
   *
   * @throws {AsmError} DUPLICATE_LABEL
   */
  label(name: string): this {
    if (this.#labels.has(name)) throw new AsmError('DUPLICATE_LABEL', `label ${name} is defined twice`);
    this.#labels.set(name, this.offset);
    return this;
  }

  /** `movz`/`movk` sequence loading `value` into `rd`. */
  mov(rd: number, value: bigint | number, width: RegWidth = 'x'): this {
    return this.emit(...movImm(rd, value, width));
  }

  /** `b <label>`. */
  b(label: string): this {
    return this.#branch(label, (off) => b(off));
  }

  /** `b.<cond> <label>`. */
  bCond(cond: A64Cond, label: string): this {
    return this.#branch(label, (off) => bCond(cond, off));
  }

  /** `cbnz <rt>, <label>`. */
  cbnz(rt: number, label: string, width: RegWidth = 'x'): this {
    return this.#branch(label, (off) => cbnz(rt, off, width));
  }

  /** Load PSCI SYSTEM_OFF into x0 and `hvc #0` (or `smc #0`), then spin if it ever returns. */
  systemOff(conduit: 'hvc' | 'smc' = 'hvc'): this {
    this.mov(0, PSCI_SYSTEM_OFF).emit(conduit === 'hvc' ? hvc(0) : smc(0));
    return this.emit(b(0));
  }

  #branch(label: string, fixup: Fixup): this {
    this.#words.push({ fixup, label });
    return this;
  }

  /**
   * Resolve labels and produce the program.
   *
   * @throws {AsmError} UNKNOWN_LABEL, BRANCH_RANGE
   */
  assemble(): GuestProgram {
    const words = new Uint32Array(this.#words.length);
    this.#words.forEach((w, i) => {
      if (typeof w === 'number') {
        words[i] = w;
        return;
      }
      const target = this.#labels.get(w.label);
      if (target === undefined) throw new AsmError('UNKNOWN_LABEL', `label ${w.label} is not defined`);
      words[i] = w.fixup(target - i * 4);
    });
    const bytes = new Uint8Array(words.length * 4);
    const dv = new DataView(bytes.buffer);
    words.forEach((w, i) => dv.setUint32(i * 4, w, true));
    return { words, bytes, labels: new Map(this.#labels) };
  }
}
