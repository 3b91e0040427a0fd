import { CmdlineError } from './errors.js';

/**
 * The arm64 kernel's command-line capacity (`COMMAND_LINE_SIZE`, 2048 bytes including the final NUL).
 */
export const ARM64_CMDLINE_CAPACITY = 2048;

function checkChars(s: string, what: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      throw new CmdlineError('INVALID_CHARACTER', `${what} has character 0x${c.toString(16)} at ${i}; only printable ASCII is allowed`);
    }
  }
}

function checkKey(key: string): void {
  if (key.length === 0) throw new CmdlineError('EMPTY_KEY', 'parameter name is empty');
  checkChars(key, `parameter name "${key}"`);
  if (/[ ="]/.test(key)) throw new CmdlineError('INVALID_KEY', `parameter name "${key}" contains a space, "=" or a quote`);
}

function formatValue(value: string): string {
  checkChars(value, `value "${value}"`);
  if (value.includes('"')) throw new CmdlineError('INVALID_VALUE', `value ${JSON.stringify(value)} contains a quote`);
  return value.includes(' ') || value.length === 0 ? `"${value}"` : value;
}

/**
 * A kernel command line built parameter by parameter, each piece checked as it is added: printable
 * ASCII only, well-formed `key=value` pairs, and a length that fits the capacity (the NUL the kernel
 * needs included). Values containing spaces are quoted.
 *
 * @example
 * ```ts
 * const cmd = new Cmdline();
 * cmd.insert('console', 'ttyS0,115200').insert('earlycon', 'uart8250,mmio,0x3f8').insertFlag('panic=-1');
 * cmd.toString(); // 'console=ttyS0,115200 earlycon=uart8250,mmio,0x3f8 panic=-1'
 * ```
 */
export class Cmdline {
  /** Maximum size in bytes, counting the final NUL. */
  readonly capacity: number;
  #parts: string[] = [];
  #length = 0;

  /**
   * @param capacity - maximum size including the NUL (default {@link ARM64_CMDLINE_CAPACITY})
   * @throws {CmdlineError} INVALID_CAPACITY when `capacity` is not a positive safe integer
   */
  constructor(capacity: number = ARM64_CMDLINE_CAPACITY) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) {
      throw new CmdlineError('INVALID_CAPACITY', `capacity ${String(capacity)} is not a positive safe integer`);
    }
    this.capacity = capacity;
  }

  #push(text: string): this {
    const added = (this.#parts.length > 0 ? 1 : 0) + text.length;
    if (this.#length + added + 1 > this.capacity) {
      throw new CmdlineError('TOO_LARGE', `adding "${text}" would make the command line ${this.#length + added + 1} bytes (capacity ${this.capacity}, NUL included)`);
    }
    this.#parts.push(text);
    this.#length += added;
    return this;
  }

  /**
   * Append `key=value`.
   *
   * @throws {CmdlineError} EMPTY_KEY, INVALID_KEY, INVALID_VALUE, INVALID_CHARACTER, TOO_LARGE
   */
  insert(key: string, value: string | number | bigint): this {
    checkKey(key);
    return this.#push(`${key}=${formatValue(String(value))}`);
  }

  /**
   * Append `key=v1,v2,…`.
   *
   * @throws {CmdlineError} INVALID_VALUE for an empty list or a value with a comma or quote; as {@link insert}
   */
  insertMultiple(key: string, values: readonly (string | number)[]): this {
    if (values.length === 0) throw new CmdlineError('INVALID_VALUE', `no values for "${key}"`);
    const parts = values.map((v) => {
      const s = String(v);
      if (s.includes(',')) throw new CmdlineError('INVALID_VALUE', `value "${s}" of "${key}" contains a comma`);
      return s;
    });
    return this.insert(key, parts.join(','));
  }

  /**
   * Append a bare word or a pre-formed `key=value` (`quiet`, `panic=-1`). Several words separated by
   * spaces are each checked and appended.
   *
   * @throws {CmdlineError} INVALID_CHARACTER, EMPTY_KEY, INVALID_KEY, INVALID_VALUE, TOO_LARGE
   */
  insertFlag(text: string): this {
    checkChars(text, `"${text}"`);
    const words = text.split(' ').filter((w) => w.length > 0);
    if (words.length === 0) throw new CmdlineError('EMPTY_KEY', 'nothing to add');
    // Validate every word first so a failure leaves the command line unchanged.
    const formatted = words.map((w) => {
      const eq = w.indexOf('=');
      if (eq < 0) {
        checkKey(w);
        return w;
      }
      const key = w.slice(0, eq);
      checkKey(key);
      return `${key}=${formatValue(w.slice(eq + 1))}`;
    });
    const total = formatted.reduce((n, w) => n + w.length + 1, 0) - (this.#parts.length > 0 ? 0 : 1);
    if (this.#length + total + 1 > this.capacity) {
      throw new CmdlineError('TOO_LARGE', `adding "${text}" would exceed the capacity ${this.capacity}`);
    }
    for (const w of formatted) this.#push(w);
    return this;
  }

  /** Length in bytes, without the NUL. */
  get length(): number {
    return this.#length;
  }

  /** The command line as a string (for `/chosen/bootargs`). */
  toString(): string {
    return this.#parts.join(' ');
  }

  /** The command line as ASCII bytes with the final NUL. */
  toBytes(): Uint8Array {
    const s = this.toString();
    const out = new Uint8Array(s.length + 1);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
}
