/**
 * The per-variant driver rules the fake enforces, as data (spec/gunyah-uapi.md §2–§6, §8). An
 * emulator backend can read the same table to answer like the real driver of a variant.
 *
 * @module
 */
import type { GunyahVariant } from '../uapi/constants.js';

/** Errno names the fake driver returns. */
export type DriverErrno =
  | 'EBADF'
  | 'EEXIST'
  | 'EFAULT'
  | 'EINTR'
  | 'EINVAL'
  | 'ENODEV'
  | 'ENOENT'
  | 'ENOTTY'
  | 'EOVERFLOW'
  | 'EPERM'
  | 'EAGAIN'
  | 'ENOMEM'
  | 'ESPIPE';

/**
 * Where the DTB must lie at `VM_START` (spec §5.3): A, a region overlapping it (and containing its
 * start); B, all its whole pages inside one guest_memfd binding; C, its first page inside a binding.
 */
export interface DtbRule {
  /** The placement rule. */
  readonly kind: 'region-overlap' | 'whole-pages-in-binding' | 'start-page-in-binding';
  /** The errno when it is not met. */
  readonly errno: 'EINVAL' | 'ENOENT';
}

/** The behaviour of one driver variant. Every field cites the spec section it comes from. */
export interface GunyahDriverRules {
  /** The ABI family. */
  readonly variant: GunyahVariant;
  /** Newest ACK trees: reclaim, CMA, auth type, CHECK_EXTENSION (spec §5.9). */
  readonly cPlus: boolean;
  /** §0/§8: A pins regions at ioctl time, B uses guest_memfd bindings, C records user-memory bindings. */
  readonly memoryModel: 'pinned-regions' | 'guest-memfd' | 'bindings';
  /** §5.1: labels must be unique per VM (A only; C does not check). */
  readonly uniqueRegionLabels: boolean;
  /** §5.1: user pages are pinned at ioctl time, so an unmapped `userspace_addr` fails with `EFAULT` (A). */
  readonly pinAtIoctl: boolean;
  /** §5.3: where the DTB must lie at `VM_START`, and the errno otherwise. */
  readonly dtbRule: DtbRule;
  /** §5.3: `size >> PAGE_SHIFT` must be ≥ 1 (B, C) else `EINVAL`. */
  readonly dtbMinOnePage: boolean;
  /** §5.4: `SET_FW_CONFIG` checks gpa+size overflow (C). */
  readonly fwOverflowCheck: boolean;
  /** §5.5: `reg` bits above 15 → `EINVAL` (newer C). */
  readonly bootContextRegHighBitsCheck: boolean;
  /**
   * §5.5 (derived, UNCONFIRMED): the value is stored as an XArray entry, so 0 is dropped and values ≤ 1026
   * whose low two bits are `0b10` fail with `EINVAL` (v17 / the B tree). The fake models it for B.
   */
  readonly bootContextXarrayQuirk: boolean;
  /** §2.1: the errno of an unknown vCPU-fd ioctl. */
  readonly unknownVcpuIoctlErrno: 'EINVAL' | 'ENOTTY';
  /** §3.14: exit reasons the kernel produces. */
  readonly exitReasons: readonly number[];
  /** §6.3.3: highest `mmio.resume_action` accepted on the next `RUN` (B: RETRY = 2, C: FAULT = 1); `undefined` in A. */
  readonly maxMmioResumeAction: number | undefined;
  /** §5.8: how `REMOVE_FUNCTION` matches an ioeventfd: address only (A) or addr+len+flags(+datamatch) (B, C). */
  readonly ioeventfdRemoveMatch: 'addr' | 'exact';
  /** §5.8: `arg_size` = 0 in `REMOVE_FUNCTION` returns 0 without removing (A); B/C → `ENOENT`. */
  readonly removeZeroArgSizeSucceeds: boolean;
  /** §5.7: a duplicate vCPU id fails with `EEXIST`, or (C+) is accepted but never gets a resource. */
  readonly duplicateVcpu: 'EEXIST' | 'accept-unusable';
  /** §4, §5.1, §6.3.1: ioctls refused with `EPERM` from a process other than the VM creator. Informative: the fake is single-process. */
  readonly creatorProcessOnly: readonly string[];
  /** §6.6: teardown on the last close. */
  readonly teardown: 'async' | 'sync';
}

const A: GunyahDriverRules = Object.freeze({
  variant: 'A',
  cPlus: false,
  memoryModel: 'pinned-regions',
  uniqueRegionLabels: true,
  pinAtIoctl: true,
  dtbRule: { kind: 'region-overlap', errno: 'EINVAL' },
  dtbMinOnePage: false,
  fwOverflowCheck: false,
  bootContextRegHighBitsCheck: false,
  bootContextXarrayQuirk: false,
  unknownVcpuIoctlErrno: 'EINVAL',
  exitReasons: [1, 2],
  maxMmioResumeAction: undefined,
  ioeventfdRemoveMatch: 'addr',
  removeZeroArgSizeSucceeds: true,
  duplicateVcpu: 'EEXIST',
  creatorProcessOnly: ['SET_USER_MEM_REGION', 'ANDROID_LEND_USER_MEM'],
  teardown: 'async',
} as const);

const B: GunyahDriverRules = Object.freeze({
  variant: 'B',
  cPlus: false,
  memoryModel: 'guest-memfd',
  uniqueRegionLabels: false,
  pinAtIoctl: false,
  dtbRule: { kind: 'whole-pages-in-binding', errno: 'ENOENT' },
  dtbMinOnePage: true,
  fwOverflowCheck: false,
  bootContextRegHighBitsCheck: false,
  bootContextXarrayQuirk: true,
  unknownVcpuIoctlErrno: 'ENOTTY',
  exitReasons: [1, 2, 3],
  maxMmioResumeAction: 2,
  ioeventfdRemoveMatch: 'exact',
  removeZeroArgSizeSucceeds: false,
  duplicateVcpu: 'EEXIST',
  creatorProcessOnly: [],
  teardown: 'sync',
} as const);

const C: GunyahDriverRules = Object.freeze({
  variant: 'C',
  cPlus: false,
  memoryModel: 'bindings',
  uniqueRegionLabels: false,
  pinAtIoctl: false,
  dtbRule: { kind: 'start-page-in-binding', errno: 'ENOENT' },
  dtbMinOnePage: true,
  fwOverflowCheck: true,
  bootContextRegHighBitsCheck: false,
  bootContextXarrayQuirk: false,
  unknownVcpuIoctlErrno: 'ENOTTY',
  exitReasons: [1, 2, 3],
  maxMmioResumeAction: 1,
  ioeventfdRemoveMatch: 'exact',
  removeZeroArgSizeSucceeds: false,
  duplicateVcpu: 'EEXIST',
  creatorProcessOnly: ['SET_USER_MEM_REGION', 'ANDROID_LEND_USER_MEM', 'VCPU_RUN'],
  teardown: 'sync',
} as const);

const CPLUS: GunyahDriverRules = Object.freeze({
  ...C,
  cPlus: true,
  bootContextRegHighBitsCheck: true,
  duplicateVcpu: 'accept-unusable',
  creatorProcessOnly: ['SET_USER_MEM_REGION', 'ANDROID_LEND_USER_MEM', 'VCPU_RUN', 'RECLAIM_REGION', 'ANDROID_MAP_CMA_MEM'],
} as const);

/** The rule table: one entry per variant, plus `'C+'` for the newest C trees. */
export const GUNYAH_RULES: Readonly<Record<GunyahVariant | 'C+', GunyahDriverRules>> = Object.freeze({ A, B, C, 'C+': CPLUS });

/** The rules of `variant` (C with `cPlus` → the `'C+'` entry). */
export function rulesFor(variant: GunyahVariant, cPlus = false): GunyahDriverRules {
  return variant === 'C' && cPlus ? CPLUS : GUNYAH_RULES[variant];
}
