/**
 * `@gunyah-ts/emu`: Gunyah emulated on Linux KVM (arm64). {@link createEmulator} gives a
 * `BindingModule` that plugs into `@gunyah-ts/ioctls` as `/dev/gunyah` of ABI variant A, B or C:
 * a driver model with the variant's rules, an RM model reached over an in-process 240-byte
 * message-queue link, and guests executed by KVM. The KVM layer is available as
 * `@gunyah-ts/emu/kvm`, a tiny arm64 assembler for test guests as `@gunyah-ts/emu/guest`, the
 * vCPU worker binding as `@gunyah-ts/emu/worker-binding`.
 *
 * @packageDocumentation
 */
export { Kvm, KvmError, type KvmErrorCode } from './kvm/index.js';
export { emulatorAvailable, type EmulatorAvailability } from './emu/available.js';
export { EmuError, type EmuErrorCode } from './emu/errors.js';
export { createEmulator, emulatorRm, WORKER_BINDING_SPECIFIER, type Emulator, type EmulatorOptions } from './emu/emulator.js';
export { formatRmTrace, type RmTraceEntry } from './emu/trace.js';
export { EmuRm, type EmuRmOptions, type GuestMemoryAccessor, type RmDoorbell, type RmStartedVm } from './emu/rm-model.js';
export {
  KvmExecutor,
  KVM_SET_VCPU_EVENTS,
  EMU_VGIC_NR_IRQS,
  kvmVcpuPort,
  KVM_MMIO_EXIT_LAYOUT,
  type EmuExecutor,
  type ExecIoeventfd,
  type ExecIrqfd,
  type ExecMemorySlot,
  type ExecPlan,
  type ExecVcpu,
  type ExecVm,
  type KvmExecutorOptions,
} from './emu/executor.js';
export { runEmulatedVcpu, stopSiblings, type KvmVcpuPort, type RunServices, type SinkArgs } from './emu/translate.js';
export {
  PRIVATE_OFFSET,
  PRIVATE_SIZE,
  VCPU_MAGIC,
  VM_MAGIC,
  PAGE_VERSION,
  VM_PAGE_MAX_VCPUS,
  VM_PAGE_SIZE,
  VM_PAGE_STATUS,
  VM_SLOT_OFFSET,
  VM_SLOT_SIZE,
  decodeVcpuPrivate,
  decodeVmPage,
  encodeVcpuPrivate,
  hasVcpuMagic,
  initVmPage,
  markVmStopped,
  readVmSlot,
  setPending,
  setVcpuFlag,
  setVcpuKvm,
  setVmReported,
  setVmSlotKvmFd,
  setVmSlotThread,
  setVmStatus,
  type PendingAccess,
  type VcpuPrivate,
  type VmPageState,
  type VmSlot,
} from './emu/pages.js';
export { VCPU_MEMFD_NAME, VM_MEMFD_NAME, VM_PAGE_MEMFD_NAME, DEV_MEMFD_NAME, GMEM_MEMFD_NAME, fdTarget, isMemfdNamed, isRangeMapped } from './emu/host.js';
export { rightsFromBFlags, rightsFromUserFlags } from './emu/start-sequence.js';
