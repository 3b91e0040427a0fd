/**
 * `@gunyah-ts/ioctls`: a typed, safe API over `/dev/gunyah` for all three ABI variants (A: GH /
 * ACK 6.1, B: v17 guest_memfd, C: ACK 6.6+), in the shape of rust-vmm's kvm-ioctls: {@link Gunyah}
 * → {@link Vm} → {@link Vcpu} / {@link GuestMemfd}, each owning its fd. The raw uapi (request numbers,
 * constants, struct codecs, the run page) comes from `@gunyah-ts/sys` and is re-exported here.
 *
 * @packageDocumentation
 */
export { Gunyah, type GunyahOpenOptions, type GuestMemOptions } from './gunyah.js';
export {
  Vm,
  type BootRegSet,
  type GuestMemoryInput,
  type GuestMemoryPerms,
  type GuestMemoryPlan,
  type GuestRangeInput,
  type IoeventfdInput,
  type IrqfdInput,
  type MapMemInput,
  type U64Input,
  type UserMemRegionInput,
} from './vm.js';
export { Vcpu, type MmioAccess, type MmioHandler, type VcpuFromRawFdOptions } from './vcpu.js';
export { GuestMemfd } from './guest-memfd.js';
export { UnsupportedIoctlError, IoctlsError, type IoctlsErrorCode } from './errors.js';
export { detectVariant, hasFeature, ioctlOpName, variantInfo, type GunyahFeature, type VariantInfo } from './variant.js';
export type { GunyahBackend } from './backend.js';
export {
  VcpuRunner,
  VcpuWorkerPool,
  type VcpuWorkerPoolOptions,
  type VcpuRunnerOptions,
  type VcpuRunnerExit,
  type VcpuRunnerMode,
  type WorkerMmioOptions,
  type WorkerMmioResult,
  type WorkerMmioHandler,
  type CreateWorkerMmio,
} from './runner.js';
export {
  // request numbers and constants (spec §2, §3, Appendix A)
  IOCTL,
  GUNYAH_IOCTLS,
  GUNYAH_IOCTL_TYPE,
  GH_ANDROID_IOCTL_TYPE,
  UAPI_STRUCT_SIZES,
  FN_TYPE,
  FN_ARG_SIZE,
  FN_MAX_ARG_SIZE,
  IRQFD_FLAGS,
  IOEVENTFD_FLAGS,
  IOEVENTFD_LENGTHS,
  USER_MEM_FLAGS,
  MEM_FLAGS_B,
  MEM_FLAGS_C,
  GUEST_MEM_FLAGS,
  BOOT_CONTEXT_REG_SET,
  BOOT_CONTEXT_REG_SHIFT,
  VM_STATUS,
  EXIT_REASON,
  RESUME_ACTION,
  VM_EXIT_TYPE,
  VM_MAX_EXIT_REASON_SIZE,
  AUTH_TYPE,
  GUNYAH_CAP,
  gunyahIoctlByRequest,
  ioctlAvailable,
  // codecs (spec §3)
  UserspaceMemoryRegion,
  VmDtbConfig,
  VmFirmwareConfig,
  AddressRange,
  FnDesc,
  AuthDesc,
  FnVcpuArg,
  FnIrqfdArg,
  FnIoeventfdArg,
  CreateMemArgs,
  MapMemArgs,
  VmBootContext,
  MapCmaMemArgs,
  QtvmAuthArg,
  VmExitInfo,
  STRUCT_CODECS,
  bootContextReg,
  UapiError,
  // run page (spec §3.14)
  VcpuRunPage,
  VCPU_RUN_SIZE,
  VCPU_RUN_OFFSETS,
  decodeVcpuExit,
  classifyStatus,
  resumeActionValue,
  // errors from sys
  ErrnoError,
} from '@gunyah-ts/sys';
export type {
  GunyahVariant,
  GunyahAvailability,
  GunyahFdKind,
  GunyahIoctlName,
  GunyahIoctlKernelName,
  GunyahIoctlSpec,
  FnType,
  StructCodec,
  EncodeInput,
  GuestRange,
  UapiErrorCode,
  VcpuExit,
  VcpuMmioExit,
  VcpuStatusExit,
  VcpuPageFaultExit,
  VcpuInterruptedExit,
  VcpuUnknownExit,
  VcpuStatusKind,
  ResumeActionName,
  BindingModule,
} from '@gunyah-ts/sys';
