/**
 * Runtime detection of the ABI variant with the non-destructive probes of spec/gunyah-uapi.md §9,
 * and the per-variant gate every wrapper runs before issuing an ioctl.
 *
 * @module
 */
import {
  ErrnoError,
  GUNYAH_IOCTLS,
  ioctlAvailable,
  type BindingModule,
  type GunyahIoctlName,
  type GunyahIoctlSpec,
  type GunyahVariant,
} from '@gunyah-ts/sys';
import { IoctlsError, UnsupportedIoctlError } from './errors.js';

/** What the probes found: the variant plus the C+ extras present. */
export interface VariantInfo {
  /** The ABI family. */
  readonly variant: GunyahVariant;
  /** A C kernel with at least one C+ extra (reclaim or capability query). */
  readonly cPlus: boolean;
  /** `GH_VM_CHECK_EXTENSION` answers (newest C+). */
  readonly checkExtension: boolean;
  /** `GH_VM_RECLAIM_REGION` is handled (C+). */
  readonly reclaim: boolean;
}

/** Features a VM may have; see {@link Vm.supports}. */
export type GunyahFeature =
  | 'user-memory'
  | 'lend-user-memory'
  | 'guest-memfd'
  | 'boot-context'
  | 'firmware-config'
  | 'page-fault-exits'
  | 'mmio-resume-action'
  | 'mmio-retry'
  | 'reclaim'
  | 'cma'
  | 'auth-type'
  | 'check-extension';

/** The {@link VariantInfo} of a variant given by name (no probing): C without C+ extras unless `cPlus`. */
export function variantInfo(variant: GunyahVariant, cPlus = false): VariantInfo {
  if (variant !== 'A' && variant !== 'B' && variant !== 'C') {
    throw new IoctlsError('INVALID_ARGUMENT', 'variantInfo', `unknown variant ${String(variant)}`);
  }
  const plus = variant === 'C' && cPlus;
  return Object.freeze({ variant, cPlus: plus, checkExtension: plus, reclaim: plus });
}

/** Whether `info` has `feature`. */
export function hasFeature(info: VariantInfo, feature: GunyahFeature): boolean {
  const v = info.variant;
  switch (feature) {
    case 'user-memory':
    case 'lend-user-memory':
    case 'firmware-config':
      return v === 'A' || v === 'C';
    case 'guest-memfd':
    case 'mmio-retry':
      return v === 'B';
    case 'boot-context':
    case 'page-fault-exits':
    case 'mmio-resume-action':
      return v === 'B' || v === 'C';
    case 'reclaim':
      return info.reclaim;
    case 'check-extension':
      return info.checkExtension;
    case 'cma':
    case 'auth-type':
      return info.cPlus;
  }
}

/** The kernel name of an ioctl in a variant's spelling (`GH_` in A, `GUNYAH_` where it exists in B/C). */
export function ioctlOpName(spec: GunyahIoctlSpec, variant: GunyahVariant): string {
  const gh = spec.names.find((n) => n.startsWith('GH_'));
  const gunyah = spec.names.find((n) => n.startsWith('GUNYAH_'));
  return (variant === 'A' ? (gh ?? gunyah) : (gunyah ?? gh)) ?? spec.name;
}

/**
 * Throw {@link UnsupportedIoctlError} when `info`'s variant lacks ioctl `name`; otherwise return its
 * spec and op name. Runs before any syscall.
 *
 * @internal
 */
export function gate(info: VariantInfo, name: GunyahIoctlName): { spec: GunyahIoctlSpec; op: string } {
  const spec = GUNYAH_IOCTLS[name];
  const op = ioctlOpName(spec, info.variant);
  let ok = ioctlAvailable(name, info.variant, info.cPlus);
  if (name === 'CHECK_EXTENSION') ok = info.checkExtension;
  if (name === 'RECLAIM_REGION') ok = info.reclaim;
  if (!ok) throw new UnsupportedIoctlError(op, info.variant, info.cPlus);
  return { spec, op };
}

function probe(binding: BindingModule, fd: number, request: number, arg: number | Uint8Array): number | string {
  try {
    return binding.ioctl(fd, request, arg);
  } catch (e) {
    const err = ErrnoError.from(e);
    if (err instanceof ErrnoError) return err.code;
    throw err;
  }
}

/**
 * Detect the variant behind an open `/dev/gunyah` fd (spec §9): create a probe VM, send
 * `SET_BOOT_CONTEXT` with an invalid register set (EINVAL ⇒ B/C, ENOTTY ⇒ A), then a zeroed
 * `ANDROID_LEND_USER_MEM` (EINVAL ⇒ C, ENOTTY ⇒ B), then for C the C+ probes (`CHECK_EXTENSION(0)`,
 * `RECLAIM_REGION` with an unaligned address), and close the never-started probe VM.
 *
 * @throws {ErrnoError} when `CREATE_VM` fails (op `GUNYAH_CREATE_VM`)
 * @throws {IoctlsError} DETECTION_FAILED when a probe answers like no known variant
 */
export function detectVariant(binding: BindingModule, devFd: number): VariantInfo {
  let vmFd: number;
  try {
    vmFd = binding.ioctl(devFd, GUNYAH_IOCTLS.CREATE_VM.request, 0);
  } catch (e) {
    throw ErrnoError.from(e, 'GUNYAH_CREATE_VM');
  }
  const unexpected = (what: string, got: number | string): never => {
    throw new IoctlsError('DETECTION_FAILED', 'detectVariant', `${what} answered ${String(got)}`);
  };
  try {
    const boot = new Uint8Array(16);
    new DataView(boot.buffer).setUint32(0, 0xff00, true);
    const r1 = probe(binding, vmFd, GUNYAH_IOCTLS.SET_BOOT_CONTEXT.request, boot);
    if (r1 === 'ENOTTY') return variantInfo('A');
    if (r1 !== 'EINVAL') return unexpected('SET_BOOT_CONTEXT(reg 0xff00)', r1);
    const r2 = probe(binding, vmFd, GUNYAH_IOCTLS.ANDROID_LEND_USER_MEM.request, new Uint8Array(32));
    if (r2 === 'ENOTTY') return variantInfo('B');
    if (r2 !== 'EINVAL') return unexpected('ANDROID_LEND_USER_MEM(zeroed)', r2);
    const r3 = probe(binding, vmFd, GUNYAH_IOCTLS.CHECK_EXTENSION.request, 0);
    const checkExtension = typeof r3 === 'number';
    const reclaimArg = new Uint8Array(16);
    reclaimArg[0] = 1; // guest_phys_addr = 1: unaligned
    const r4 = probe(binding, vmFd, GUNYAH_IOCTLS.RECLAIM_REGION.request, reclaimArg);
    const reclaim = r4 === 'EINVAL';
    return Object.freeze({ variant: 'C' as const, cPlus: checkExtension || reclaim, checkExtension, reclaim });
  } finally {
    try {
      binding.close(vmFd);
    } catch {
      /* the probe VM is gone either way */
    }
  }
}
