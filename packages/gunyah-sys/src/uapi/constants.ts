/**
 * Request numbers and constants of the `/dev/gunyah` userspace ABI, for all three variants
 * (spec/gunyah-uapi.md §0, §2, §3, Appendix A).
 *
 * @module
 */
import { io, iow } from '../ioc.js';

/** The three `/dev/gunyah` ABI families (spec/gunyah-uapi.md §0): A = GH (ACK 6.1, v13/v14), B = v17 guest_memfd, C = ACK 6.6+ hybrid. */
export type GunyahVariant = 'A' | 'B' | 'C';

/** Where an ioctl is available: a variant, or `'C+'` for the newest ACK trees only (spec §2.1). */
export type GunyahAvailability = GunyahVariant | 'C+';

/** The fd an ioctl is issued on: `/dev/gunyah`, a VM, a vCPU, or a C+ CMA pool device. */
export type GunyahFdKind = 'dev' | 'vm' | 'vcpu' | 'cma';

/** The ioctl type byte of the core ioctls (`'G'`). */
export const GUNYAH_IOCTL_TYPE = 0x47;
/** The ioctl type byte of the Android extensions (`'A'`). */
export const GH_ANDROID_IOCTL_TYPE = 0x41;

/** Size in bytes of each argument struct, as the request numbers encode it (spec §3). */
export const UAPI_STRUCT_SIZES = {
  /** `gunyah_userspace_memory_region` (§3.1). */
  userspace_memory_region: 32,
  /** `gunyah_vm_dtb_config` (§3.2). */
  vm_dtb_config: 16,
  /** `gunyah_vm_firmware_config` (§3.3). */
  vm_firmware_config: 16,
  /** `gunyah_address_range` (§3.4, C+). */
  address_range: 16,
  /** `gunyah_fn_desc` (§3.5). */
  fn_desc: 16,
  /** `gunyah_fn_vcpu_arg` (§3.6). */
  fn_vcpu_arg: 4,
  /** `gunyah_fn_irqfd_arg` (§3.7). */
  fn_irqfd_arg: 16,
  /** `gunyah_fn_ioeventfd_arg` (§3.8). */
  fn_ioeventfd_arg: 32,
  /** `gunyah_create_mem_args` (§3.9, B). */
  create_mem_args: 64,
  /** `gunyah_map_mem_args` (§3.10, B). */
  map_mem_args: 32,
  /** `gunyah_vm_boot_context` (§3.11, B/C). */
  vm_boot_context: 16,
  /** `gunyah_map_cma_mem_args` (§3.12, C+). */
  map_cma_mem_args: 40,
  /** `gunyah_auth_desc` (§3.12, C+). */
  auth_desc: 16,
  /** `gunyah_qtvm_auth_arg` (§3.12, C+). */
  qtvm_auth_arg: 24,
  /** `gunyah_vm_exit_info` (§3.13). */
  vm_exit_info: 16,
  /** `gunyah_vcpu_run` (§3.14). */
  vcpu_run: 40,
} as const;

/** Short (spelling-neutral) name of an ioctl, the keys of Appendix A of the spec. */
export type GunyahIoctlName =
  | 'CREATE_VM'
  | 'SET_USER_MEM_REGION'
  | 'SET_DTB_CONFIG'
  | 'VM_START'
  | 'ADD_FUNCTION'
  | 'VCPU_RUN'
  | 'VCPU_MMAP_SIZE'
  | 'REMOVE_FUNCTION'
  | 'CREATE_GUEST_MEM'
  | 'MAP_MEM'
  | 'SET_BOOT_CONTEXT'
  | 'ANDROID_TENTATIVE_UAPI'
  | 'ANDROID_LEND_USER_MEM'
  | 'ANDROID_SET_FW_CONFIG'
  | 'RECLAIM_REGION'
  | 'CREATE_CMA_MEM_FD'
  | 'ANDROID_MAP_CMA_MEM'
  | 'ANDROID_SET_AUTH_TYPE'
  | 'CHECK_EXTENSION';

/** What the spec records about one ioctl: its request, fd, argument size and where it exists. */
export interface GunyahIoctlSpec {
  /** The short name (Appendix A key). */
  readonly name: GunyahIoctlName;
  /** Every kernel spelling of the name (A / B / C headers, crosvm). */
  readonly names: readonly string[];
  /** The 32-bit request number. */
  readonly request: number;
  /** The fd it is issued on. */
  readonly fd: GunyahFdKind;
  /** Argument struct size encoded in the request (0 for `_IO`). */
  readonly size: number;
  /** Where the driver implements it. An empty list means no driver is known to handle it. */
  readonly availability: readonly GunyahAvailability[];
}

function spec(
  name: GunyahIoctlName,
  names: readonly string[],
  request: number,
  fd: GunyahFdKind,
  size: number,
  availability: readonly GunyahAvailability[],
): GunyahIoctlSpec {
  return Object.freeze({ name, names: Object.freeze([...names]), request, fd, size, availability: Object.freeze([...availability]) });
}

const G = GUNYAH_IOCTL_TYPE;
const A = GH_ANDROID_IOCTL_TYPE;
const S = UAPI_STRUCT_SIZES;

/**
 * Every ioctl of spec §2.1, keyed by short name, with its request built by the `_IO`/`_IOW` encoder.
 * `availability` drives the per-variant gate of `@gunyah-ts/ioctls` and the fake driver's answers.
 * `'A' 0x10` has no known handler (spec §13 item 1): every variant answers `ENOTTY` here.
 */
export const GUNYAH_IOCTLS: Readonly<Record<GunyahIoctlName, GunyahIoctlSpec>> = Object.freeze({
  CREATE_VM: spec('CREATE_VM', ['GH_CREATE_VM', 'GUNYAH_CREATE_VM'], io(G, 0x00), 'dev', 0, ['A', 'B', 'C']),
  SET_USER_MEM_REGION: spec('SET_USER_MEM_REGION', ['GH_VM_SET_USER_MEM_REGION'], iow(G, 0x01, S.userspace_memory_region), 'vm', 32, ['A', 'C']),
  SET_DTB_CONFIG: spec('SET_DTB_CONFIG', ['GH_VM_SET_DTB_CONFIG', 'GUNYAH_VM_SET_DTB_CONFIG'], iow(G, 0x02, S.vm_dtb_config), 'vm', 16, ['A', 'B', 'C']),
  VM_START: spec('VM_START', ['GH_VM_START', 'GUNYAH_VM_START'], io(G, 0x03), 'vm', 0, ['A', 'B', 'C']),
  ADD_FUNCTION: spec('ADD_FUNCTION', ['GH_VM_ADD_FUNCTION', 'GUNYAH_VM_ADD_FUNCTION'], iow(G, 0x04, S.fn_desc), 'vm', 16, ['A', 'B', 'C']),
  VCPU_RUN: spec('VCPU_RUN', ['GH_VCPU_RUN', 'GUNYAH_VCPU_RUN'], io(G, 0x05), 'vcpu', 0, ['A', 'B', 'C']),
  VCPU_MMAP_SIZE: spec('VCPU_MMAP_SIZE', ['GH_VCPU_MMAP_SIZE', 'GUNYAH_VCPU_MMAP_SIZE'], io(G, 0x06), 'vcpu', 0, ['A', 'B', 'C']),
  REMOVE_FUNCTION: spec('REMOVE_FUNCTION', ['GH_VM_REMOVE_FUNCTION', 'GUNYAH_VM_REMOVE_FUNCTION'], iow(G, 0x07, S.fn_desc), 'vm', 16, ['A', 'B', 'C']),
  CREATE_GUEST_MEM: spec('CREATE_GUEST_MEM', ['GUNYAH_CREATE_GUEST_MEM'], iow(G, 0x08, S.create_mem_args), 'dev', 64, ['B']),
  MAP_MEM: spec('MAP_MEM', ['GUNYAH_VM_MAP_MEM'], iow(G, 0x09, S.map_mem_args), 'vm', 32, ['B']),
  SET_BOOT_CONTEXT: spec('SET_BOOT_CONTEXT', ['GUNYAH_VM_SET_BOOT_CONTEXT', 'GH_VM_SET_BOOT_CONTEXT'], iow(G, 0x0a, S.vm_boot_context), 'vm', 16, ['B', 'C']),
  ANDROID_TENTATIVE_UAPI: spec('ANDROID_TENTATIVE_UAPI', ['GH_ANDROID_TENTATIVE_UAPI', 'GH_ANDROID_CHECK_EXTENSION'], io(A, 0x10), 'vm', 0, []),
  ANDROID_LEND_USER_MEM: spec('ANDROID_LEND_USER_MEM', ['GH_VM_ANDROID_LEND_USER_MEM'], iow(A, 0x11, S.userspace_memory_region), 'vm', 32, ['A', 'C']),
  ANDROID_SET_FW_CONFIG: spec('ANDROID_SET_FW_CONFIG', ['GH_VM_ANDROID_SET_FW_CONFIG'], iow(A, 0x12, S.vm_firmware_config), 'vm', 16, ['A', 'C']),
  RECLAIM_REGION: spec('RECLAIM_REGION', ['GH_VM_RECLAIM_REGION'], iow(A, 0x13, S.address_range), 'vm', 16, ['C+']),
  CREATE_CMA_MEM_FD: spec('CREATE_CMA_MEM_FD', ['GH_ANDROID_CREATE_CMA_MEM_FD'], io(A, 0x14), 'cma', 0, ['C+']),
  ANDROID_MAP_CMA_MEM: spec('ANDROID_MAP_CMA_MEM', ['GH_VM_ANDROID_MAP_CMA_MEM'], iow(A, 0x15, S.map_cma_mem_args), 'vm', 40, ['C+']),
  ANDROID_SET_AUTH_TYPE: spec('ANDROID_SET_AUTH_TYPE', ['GH_VM_ANDROID_SET_AUTH_TYPE'], iow(A, 0x16, S.auth_desc), 'vm', 16, ['C+']),
  CHECK_EXTENSION: spec('CHECK_EXTENSION', ['GH_VM_CHECK_EXTENSION'], io(A, 0x17), 'vm', 0, ['C+']),
});

/** Every kernel spelling of an ioctl name (both `GH_` and `GUNYAH_` forms where they exist). */
export type GunyahIoctlKernelName =
  | 'GH_CREATE_VM' | 'GUNYAH_CREATE_VM'
  | 'GH_VM_SET_USER_MEM_REGION'
  | 'GH_VM_SET_DTB_CONFIG' | 'GUNYAH_VM_SET_DTB_CONFIG'
  | 'GH_VM_START' | 'GUNYAH_VM_START'
  | 'GH_VM_ADD_FUNCTION' | 'GUNYAH_VM_ADD_FUNCTION'
  | 'GH_VCPU_RUN' | 'GUNYAH_VCPU_RUN'
  | 'GH_VCPU_MMAP_SIZE' | 'GUNYAH_VCPU_MMAP_SIZE'
  | 'GH_VM_REMOVE_FUNCTION' | 'GUNYAH_VM_REMOVE_FUNCTION'
  | 'GUNYAH_CREATE_GUEST_MEM'
  | 'GUNYAH_VM_MAP_MEM'
  | 'GUNYAH_VM_SET_BOOT_CONTEXT' | 'GH_VM_SET_BOOT_CONTEXT'
  | 'GH_ANDROID_TENTATIVE_UAPI' | 'GH_ANDROID_CHECK_EXTENSION'
  | 'GH_VM_ANDROID_LEND_USER_MEM'
  | 'GH_VM_ANDROID_SET_FW_CONFIG'
  | 'GH_VM_RECLAIM_REGION'
  | 'GH_ANDROID_CREATE_CMA_MEM_FD'
  | 'GH_VM_ANDROID_MAP_CMA_MEM'
  | 'GH_VM_ANDROID_SET_AUTH_TYPE'
  | 'GH_VM_CHECK_EXTENSION';

/**
 * Request number of every ioctl, keyed by the kernel's names in every spelling (spec §2.1).
 *
 * @example
 * ```ts
 * IOCTL.GH_VM_SET_USER_MEM_REGION === 0x40204701; // true
 * IOCTL.GUNYAH_VM_START === IOCTL.GH_VM_START;    // true (0x4703)
 * ```
 */
export const IOCTL: Readonly<Record<GunyahIoctlKernelName, number>> = Object.freeze(
  Object.fromEntries(
    Object.values(GUNYAH_IOCTLS).flatMap((s) => s.names.map((n) => [n, s.request] as const)),
  ) as Record<GunyahIoctlKernelName, number>,
);

/**
 * Look up an ioctl by its request number; `undefined` when the number is not a Gunyah ioctl.
 */
export function gunyahIoctlByRequest(request: number): GunyahIoctlSpec | undefined {
  return REQUEST_INDEX.get(request);
}
const REQUEST_INDEX: ReadonlyMap<number, GunyahIoctlSpec> = new Map(Object.values(GUNYAH_IOCTLS).map((s) => [s.request, s]));

/**
 * Whether `variant` (with `cPlus` for the newest C trees) implements an ioctl (spec §2.1).
 * `GUNYAH_VM_MAP_MEM` in C is "header only" and counts as not implemented.
 */
export function ioctlAvailable(name: GunyahIoctlName, variant: GunyahVariant, cPlus = false): boolean {
  const av = GUNYAH_IOCTLS[name].availability;
  return av.includes(variant) || (variant === 'C' && cPlus && av.includes('C+'));
}

/** Function types of `ADD_FUNCTION` / `REMOVE_FUNCTION` (`GH_FN_*` / `GUNYAH_FN_*`, spec §3.5). */
export const FN_TYPE = {
  /** `GUNYAH_FN_VCPU`: a vCPU; ADD_FUNCTION returns its fd. */
  VCPU: 1,
  /** `GUNYAH_FN_IRQFD`: an eventfd that rings a doorbell. */
  IRQFD: 2,
  /** `GUNYAH_FN_IOEVENTFD`: an eventfd signalled by guest writes. */
  IOEVENTFD: 3,
} as const;
/** One of the {@link FN_TYPE} values. */
export type FnType = (typeof FN_TYPE)[keyof typeof FN_TYPE];
/** Required `arg_size` of each function type, and the driver's maximum (spec §3.5–§3.8). */
export const FN_ARG_SIZE = {
  /** `gunyah_fn_vcpu_arg` size. */
  VCPU: 4,
  /** `gunyah_fn_irqfd_arg` size. */
  IRQFD: 16,
  /** `gunyah_fn_ioeventfd_arg` size. */
  IOEVENTFD: 32,
} as const;
/** `GH_FN_MAX_ARG_SIZE` / `GUNYAH_FN_MAX_ARG_SIZE`: largest accepted `arg_size`. */
export const FN_MAX_ARG_SIZE = 256;
/** irqfd flags (`GH_IRQFD_LEVEL` / `GUNYAH_IRQFD_FLAGS_LEVEL`; spec §3.7). */
export const IRQFD_FLAGS = {
  /** Level-triggered: the guest acknowledgement clears the doorbell. */
  LEVEL: 1,
} as const;
/** ioeventfd flags (`GUNYAH_IOEVENTFD_FLAGS_DATAMATCH`, value 1, never `1 << 1`; spec §3.8, §10). */
export const IOEVENTFD_FLAGS = {
  /** Match only writes of exactly `len` bytes equal to `datamatch`. */
  DATAMATCH: 1,
} as const;
/** Lengths an ioeventfd may match (spec §5.7). */
export const IOEVENTFD_LENGTHS = [0, 1, 2, 4, 8] as const;

/** Permission flags of the user-memory ioctls, variants A and C ('G' 0x01, 'A' 0x11; spec §3.1). */
export const USER_MEM_FLAGS = {
  /** Guest may read. */
  ALLOW_READ: 0x1,
  /** Guest may write. */
  ALLOW_WRITE: 0x2,
  /** Guest may execute. */
  ALLOW_EXEC: 0x4,
  /** All three. */
  ALLOW_RWX: 0x7,
} as const;

/**
 * `GUNYAH_MEM_*` as variant B assigns them (access type in bits 0–2, permissions in 4–6; spec §3.10).
 * Never use these with variant C: see {@link MEM_FLAGS_C}.
 */
export const MEM_FLAGS_B = {
  /** Driver default (lend in v17). */
  DEFAULT_ACCESS: 0x0,
  /** Lend: the host loses access. */
  FORCE_LEND: 0x1,
  /** Share: the host keeps access. */
  FORCE_SHARE: 0x2,
  /** Mask of the access-type field. */
  ACCESS_MASK: 0x7,
  /** Guest may read. */
  ALLOW_READ: 0x10,
  /** Guest may write. */
  ALLOW_WRITE: 0x20,
  /** Guest may execute. */
  ALLOW_EXEC: 0x40,
  /** All three permissions. */
  ALLOW_RWX: 0x70,
  /** Remove the binding instead of adding it. */
  UNMAP: 0x100,
} as const;

/**
 * `GUNYAH_MEM_*` as variant C assigns them (permissions in bits 0–2, access type in 4–6; spec §3.10).
 * FORCE_LEND/FORCE_SHARE only matter to the C+ CMA mapping. Never use these with variant B.
 */
export const MEM_FLAGS_C = {
  /** Driver default (lend in v17). */
  DEFAULT_ACCESS: 0x0,
  /** Lend: the host loses access. */
  FORCE_LEND: 0x10,
  /** Share: the host keeps access. */
  FORCE_SHARE: 0x20,
  /** Mask of the access-type field. */
  ACCESS_MASK: 0x70,
  /** Guest may read. */
  ALLOW_READ: 0x1,
  /** Guest may write. */
  ALLOW_WRITE: 0x2,
  /** Guest may execute. */
  ALLOW_EXEC: 0x4,
  /** All three permissions. */
  ALLOW_RWX: 0x7,
  /** Remove the binding instead of adding it. */
  UNMAP: 0x100,
} as const;

/** guest_memfd creation flags of variant B (`GHMF_*`, spec §3.9). */
export const GUEST_MEM_FLAGS = {
  /** `GHMF_CLOEXEC`: the new fd is close-on-exec. */
  CLOEXEC: 0x1,
  /** `GHMF_ALLOW_HUGEPAGE`: PMD-size folios (bindings must be PMD aligned). */
  ALLOW_HUGEPAGE: 0x2,
} as const;

/** Boot-context register sets (`enum gunyah_vm_boot_context_reg`, spec §3.11). */
export const BOOT_CONTEXT_REG_SET = {
  /** General registers X0–X30 (index 0–31). */
  X: 0,
  /** The program counter (index 0). */
  PC: 1,
  /** Stack pointers SP_EL0–SP_EL2 (index 0–2). */
  SP: 2,
} as const;
/** `GUNYAH_VM_BOOT_CONTEXT_REG_SHIFT`: the reg set sits above the index. */
export const BOOT_CONTEXT_REG_SHIFT = 8;

/** `enum gunyah_vm_status` (spec §3.13). */
export const VM_STATUS = {
  /** RM reported an init failure. */
  LOAD_FAILED: 1,
  /** RM reported that the VM exited; see exit_info. */
  EXITED: 2,
  /** Any other non-running state. */
  CRASHED: 3,
} as const;
/** vCPU run page `exit_reason` values (3 exists only in B and C; spec §3.14). */
export const EXIT_REASON = {
  /** No exit recorded. */
  UNKNOWN: 0,
  /** The guest accessed unbacked IPA: see `mmio`. */
  MMIO: 1,
  /** The VM is not runnable: see `status`. */
  STATUS: 2,
  /** The kernel could not provide memory (B/C): see `page_fault`. */
  PAGE_FAULT: 3,
} as const;
/** `enum gunyah_vcpu_resume_action` (B, C; C refuses RETRY; spec §3.14, §6.3.3). */
export const RESUME_ACTION = {
  /** Complete the access (reads take `mmio.data`). */
  HANDLED: 0,
  /** Inject the original fault into the guest. */
  FAULT: 1,
  /** Retry the instruction (B only). */
  RETRY: 2,
} as const;
/** RM exit types in `exit_info.type`, as crosvm interprets them (spec §6.3.5). */
export const VM_EXIT_TYPE = {
  /** The VM exited. */
  VM_EXIT: 0,
  /** PSCI SYSTEM_OFF. */
  PSCI_POWER_OFF: 1,
  /** PSCI SYSTEM_RESET. */
  PSCI_SYSTEM_RESET: 2,
  /** PSCI SYSTEM_RESET2. */
  PSCI_SYSTEM_RESET2: 3,
  /** Watchdog bite. */
  WDOG_BITE: 4,
  /** Hypervisor error. */
  HYP_ERROR: 5,
  /** Asynchronous external abort. */
  ASYNC_EXT_ABORT: 6,
  /** Forced stop. */
  VM_FORCE_STOPPED: 7,
} as const;
/** `GH_VM_MAX_EXIT_REASON_SIZE`: bytes of `exit_info.reason` in the run page. */
export const VM_MAX_EXIT_REASON_SIZE = 8;
/** C+ authentication types for `GH_VM_ANDROID_SET_AUTH_TYPE` (spec §3.12). */
export const AUTH_TYPE = {
  /** `GUNYAH_QCOM_TRUSTED_VM_TYPE`: Qualcomm trusted VM (QTVM). */
  QCOM_TRUSTED_VM: 1,
} as const;
/** C+ capability ids for `GH_VM_CHECK_EXTENSION` (spec §3.12). */
export const GUNYAH_CAP = {
  /** `GH_CAP_VCPU_TIMER_WAKEUP`: the kernel arms timers for hypervisor wake-up deadlines. */
  VCPU_TIMER_WAKEUP: 0,
} as const;
