/**
 * Errors of `@gunyah-ts/ioctls`. Syscall failures are `ErrnoError` from `@gunyah-ts/sys` with `op`
 * set to the ioctl name; calls a variant lacks are {@link UnsupportedIoctlError} (an `ErrnoError`
 * with `code: 'ENOTTY'`); bad arguments caught before any syscall are {@link IoctlsError}.
 *
 * @module
 */
import { ErrnoError, errnoValue, type GunyahVariant } from '@gunyah-ts/sys';

/**
 * A call the VM's ABI variant does not have. Thrown before any syscall, with the errno the kernel
 * would return for an unhandled ioctl (`ENOTTY`, spec/gunyah-uapi.md §2.1).
 *
 * @example
 * ```ts
 * try { vm.setBootContext('pc', 0, entry); }
 * catch (e) { if (e instanceof UnsupportedIoctlError) console.log(e.variant, e.op); } // 'A', 'GUNYAH_VM_SET_BOOT_CONTEXT'
 * ```
 */
export class UnsupportedIoctlError extends ErrnoError {
  /** The variant that lacks the call. */
  readonly variant: GunyahVariant;
  /** Whether the VM is a C+ kernel. */
  readonly cPlus: boolean;

  /**
   * @param op - the ioctl name
   * @param variant - the VM's variant
   * @param cPlus - C+ kernel
   */
  constructor(op: string, variant: GunyahVariant, cPlus = false) {
    super(errnoValue('ENOTTY') ?? 25, 'ioctl', op);
    this.message = `${op}: not available in Gunyah ABI variant ${variant}${cPlus ? '+' : ''} (ENOTTY, not issued)`;
    this.variant = variant;
    this.cPlus = cPlus;
  }
}

/**
 * Why an argument was refused before any syscall.
 *
 * - `INVALID_ARGUMENT`: a value outside what the ioctl accepts (length, id, flag, alignment…).
 * - `UNSUPPORTED_RESUME_ACTION`: a resume action the variant does not accept (A: only handled; C: no retry).
 * - `NO_PENDING_MMIO`: completing an MMIO access while the run page holds no MMIO exit.
 * - `DETECTION_FAILED`: the variant probes gave an answer no known variant gives.
 * - `RUNNER_STATE`: a {@link VcpuRunner} method called in the wrong state.
 * - `KERNEL_VALUE`: the kernel (or backend) returned a value outside the spec (threat model).
 */
export type IoctlsErrorCode =
  | 'INVALID_ARGUMENT'
  | 'UNSUPPORTED_RESUME_ACTION'
  | 'NO_PENDING_MMIO'
  | 'DETECTION_FAILED'
  | 'RUNNER_STATE'
  | 'KERNEL_VALUE';

/**
 * A misuse caught by `@gunyah-ts/ioctls` before any syscall.
 *
 * @example
 * ```ts
 * try { vm.addIoeventfd({ addr: 0x9000n, len: 3, fd }); } catch (e) { (e as IoctlsError).code; } // 'INVALID_ARGUMENT'
 * ```
 */
export class IoctlsError extends Error {
  /** Always `'IoctlsError'`. */
  override readonly name = 'IoctlsError';
  /** What went wrong. */
  readonly code: IoctlsErrorCode;
  /** The operation refused. */
  readonly op: string;

  /**
   * @param code - the failure kind
   * @param op - the operation
   * @param message - detail
   * @param options - `cause`
   */
  constructor(code: IoctlsErrorCode, op: string, message: string, options?: ErrorOptions) {
    super(`${op}: ${message}`, options);
    this.code = code;
    this.op = op;
  }
}
