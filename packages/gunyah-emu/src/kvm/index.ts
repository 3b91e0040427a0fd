/**
 * Typed wrappers over Linux KVM on arm64 (the substrate of the Gunyah emulator): request numbers,
 * struct codecs, register ids, the `kvm_run` view and exit decoder, and the `Kvm` / `KvmVm` /
 * `KvmVcpu` / `KvmDevice` fd owners.
 *
 * @module
 */
export * from './constants.js';
export { KvmError, KvmRunError, type KvmErrorCode, type KvmRunErrorCode } from './errors.js';
export {
  ARM64_CORE_REG,
  coreRegId,
  KVM_REG_ARM64,
  KVM_REG_ARM_CORE,
  KVM_REG_SIZE_MASK,
  KVM_REG_SIZE_SHIFT,
  KVM_REG_SIZE_U32,
  KVM_REG_SIZE_U64,
  regSize,
  xReg,
} from './regs.js';
export {
  decodeExit,
  KVM_EXIT_MAX_NDATA,
  KVM_RUN_MIN_SIZE,
  KVM_RUN_OFFSET,
  KVM_RUN_STRUCT_SIZE,
  KvmRunView,
  type KvmExit,
  type SystemEventName,
} from './run.js';
export {
  CreateDeviceCodec,
  DeviceAttrCodec,
  IoeventfdCodec,
  IrqfdCodec,
  OneRegCodec,
  SmcccFilterCodec,
  UserspaceMemoryRegionCodec,
  VcpuInitCodec,
  type CreateDevice,
  type DeviceAttr,
  type Ioeventfd,
  type Irqfd,
  type OneReg,
  type SmcccFilter,
  type UserspaceMemoryRegion,
  type VcpuInit,
} from './structs.js';
export {
  CREATE_VM_EINTR_RETRIES,
  Kvm,
  KVM_DEVICE_PATH,
  KvmDevice,
  KvmFdOwner,
  KvmVcpu,
  KvmVm,
  type IoeventfdOptions,
  type IrqfdOptions,
  type KvmBindingOptions,
  type KvmOpenOptions,
  type KvmVcpuFromRawFdOptions,
  type KvmVmFromRawFdOptions,
  type MemoryRegionOptions,
  type SmcccFilterOptions,
  type VcpuInitOptions,
  type VgicV3Options,
} from './kvm.js';
