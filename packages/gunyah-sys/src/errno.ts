import { constants } from 'node:os';

const NAMES: ReadonlyMap<number, string> = (() => {
  const m = new Map<number, string>();
  for (const [name, value] of Object.entries(constants.errno)) {
    // Several names share a number on Linux (EAGAIN/EWOULDBLOCK, EDEADLK/EDEADLOCK); keep the first,
    // which is the canonical one in Node's table.
    if (!m.has(value)) m.set(value, name);
  }
  return m;
})();

/**
 * The symbolic name of an errno value (`9` → `'EBADF'`), or `'E<n>'` when the platform has none.
 *
 * @example
 * ```ts
 * errnoName(9); // 'EBADF'
 * ```
 */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `E${errno}`;
}

/**
 * The errno value of a symbolic name (`'ENOTTY'` → 25 on Linux), or `undefined` if unknown.
 */
export function errnoValue(name: string): number | undefined {
  return (constants.errno as Record<string, number | undefined>)[name];
}

/**
 * A failed syscall. `errno` is the positive error number, `code` its name (`'EBADF'`), `syscall` the
 * call that failed (`'ioctl'`) and `op`, when set, the operation of the higher layer that issued it
 * (`'GUNYAH_VM_START'`).
 *
 * @example
 * ```ts
 * try { close(-2); } catch (e) { if (e instanceof ErrnoError && e.code === 'EBADF') { … } }
 * ```
 */
export class ErrnoError extends Error {
  /** Always `'ErrnoError'`. */
  override readonly name = 'ErrnoError';
  /** Positive errno value. */
  readonly errno: number;
  /** Symbolic errno name, e.g. `'EBADF'`. */
  readonly code: string;
  /** The syscall that failed, e.g. `'ioctl'`. */
  readonly syscall: string;
  /** The higher-level operation, e.g. an ioctl name; absent for plain syscalls. */
  readonly op: string | undefined;

  /**
   * @param errno - positive errno value
   * @param syscall - the failing syscall's name
   * @param op - the higher-level operation, if any
   * @param options - standard error options (`cause`)
   */
  constructor(errno: number, syscall: string, op?: string, options?: ErrorOptions) {
    const code = errnoName(errno);
    super(`${op !== undefined ? `${op}: ` : ''}${syscall} failed: ${code}`, options);
    this.errno = errno;
    this.code = code;
    this.syscall = syscall;
    this.op = op;
  }

  /**
   * A copy of this error with `op` set, keeping errno and syscall; the original becomes the `cause`.
   */
  withOp(op: string): ErrnoError {
    return new ErrnoError(this.errno, this.syscall, op, { cause: this });
  }

  /**
   * Convert what a binding threw into an `ErrnoError` when it carries a numeric `errno`; anything
   * else (TypeError, RangeError, bugs) is returned unchanged.
   */
  static from(error: unknown, op?: string): unknown {
    if (error instanceof ErrnoError) return op !== undefined && error.op === undefined ? error.withOp(op) : error;
    if (typeof error === 'object' && error !== null) {
      const e = error as { errno?: unknown; syscall?: unknown };
      if (typeof e.errno === 'number' && Number.isInteger(e.errno) && e.errno > 0) {
        return new ErrnoError(e.errno, typeof e.syscall === 'string' ? e.syscall : 'unknown', op, { cause: error });
      }
    }
    return error;
  }
}
