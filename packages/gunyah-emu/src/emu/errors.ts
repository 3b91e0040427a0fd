/**
 * Errors of the emulator.
 *
 * @module
 */

/**
 * Codes of {@link EmuError}.
 *
 * - `NO_KVM`: this machine cannot run the emulator (not arm64 Linux, or `/dev/kvm` missing or
 *   not accessible); the message says what is missing and how to use the testbed.
 * - `BAD_OPTIONS`: an option of {@link createEmulator} is out of range.
 * - `BAD_PAGE`: an emulated vCPU or VM page does not hold the emulator's layout (bad magic,
 *   version or field value): the fd is not an emulated one, or its page was overwritten.
 * - `CLOSED`: the emulator was closed.
 */
export type EmuErrorCode = 'NO_KVM' | 'BAD_OPTIONS' | 'BAD_PAGE' | 'CLOSED';

/** An emulator failure that is not a driver errno (those are `ErrnoError`s, as from the kernel). */
export class EmuError extends Error {
  /** Always `'EmuError'`. */
  override readonly name = 'EmuError';
  /** What went wrong. */
  readonly code: EmuErrorCode;

  /**
   * @param code - the reason.
   * @param message - human-readable detail.
   * @param options - `{ cause }`.
   */
  constructor(code: EmuErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
