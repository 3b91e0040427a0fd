/**
 * The backend of this package is `@gunyah-ts/sys`'s `BindingModule`: the native addon by default, the
 * fake (`@gunyah-ts/sys/fake`) in tests, an emulator elsewhere. Helpers to call it with typed errors.
 *
 * @module
 */
import { ErrnoError, getBinding, type BindingModule } from '@gunyah-ts/sys';

/** The syscall surface this package needs (`ioctl`, `mmap`, `eventfd`, `kick`…): sys's `BindingModule`. */
export type GunyahBackend = BindingModule;

/** Resolve an optional backend to the process default (`getBinding()`, the native addon). @internal */
export function resolveBackend(binding: BindingModule | undefined): BindingModule {
  return binding ?? getBinding();
}

/** Run `fn`, turning what the binding throws into `ErrnoError` with `op` set. @internal */
export function sysCall<T>(op: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw ErrnoError.from(e, op);
  }
}
