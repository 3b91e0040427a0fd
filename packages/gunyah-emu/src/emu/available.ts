/**
 * Can this machine run the emulator? arm64 Linux with an accessible `/dev/kvm`.
 *
 * @module
 */
import { accessSync, constants, statSync } from 'node:fs';

const TESTBED = 'on other machines run it inside the testbed (npm run demo / npm run test:e2e)';

/** The answer of {@link emulatorAvailable}. */
export type EmulatorAvailability =
  | {
      /** The emulator can run here. */
      ok: true;
    }
  | {
      /** It cannot. */
      ok: false;
      /** What is missing, and how to use the testbed instead. */
      reason: string;
    };

/**
 * Checks that the emulator can run here: Linux, arm64, and a `/dev/kvm` (or `kvmPath`) that is a
 * character device this process may read and write. Returns the reason otherwise: what is
 * missing and how to use the testbed.
 *
 * @example
 * ```ts
 * const a = emulatorAvailable();
 * if (!a.ok) console.error(a.reason);
 * ```
 */
export function emulatorAvailable(options: { kvmPath?: string } = {}): EmulatorAvailability {
  const path = options.kvmPath ?? '/dev/kvm';
  if (process.platform !== 'linux') {
    return { ok: false, reason: `this machine runs ${process.platform}: the Gunyah emulator needs arm64 Linux with KVM; ${TESTBED}` };
  }
  if (process.arch !== 'arm64') {
    const arch = process.arch === 'x64' ? 'x86_64' : process.arch;
    return { ok: false, reason: `this machine is ${arch}: the Gunyah emulator needs arm64 Linux with KVM; on x86 ${TESTBED.replace('on other machines ', '')}` };
  }
  try {
    if (!statSync(path).isCharacterDevice()) return { ok: false, reason: `${path} is not a character device: load the kvm module or ${TESTBED}` };
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'error';
    const hint =
      code === 'ENOENT'
        ? 'KVM is not available (no virtualisation extensions, or the kvm module is not loaded)'
        : code === 'EACCES' || code === 'EPERM'
          ? 'add your user to the kvm group or change the device permissions'
          : 'check the device';
    return { ok: false, reason: `${path}: ${code}: ${hint}; ${TESTBED}` };
  }
  return { ok: true };
}
