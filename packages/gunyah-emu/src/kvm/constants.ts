/**
 * Linux KVM uapi numbers used on arm64, written out as our own tables (facts from the Linux KVM
 * API: `Documentation/virt/kvm/api.rst` and the uapi headers). Request numbers use the generic
 * `_IOC` layout (bits 0–7 nr, 8–15 type, 16–29 size, 30–31 direction) with type `KVMIO` = 0xAE;
 * a unit test recomputes every one with `@gunyah-ts/sys`'s encoder.
 *
 * @module
 */

/** The ioctl type byte of every KVM request. */
export const KVMIO = 0xae;

/** The only KVM API version Linux has ever reported (`KVM_GET_API_VERSION`). */
export const KVM_API_VERSION = 12;

/**
 * KVM ioctl request numbers (arm64). The comment gives the `_IOC` form and the argument struct size.
 */
export const KVM_REQUEST = {
  /** `_IO(0xAE, 0x00)`: system fd; returns 12. */
  GET_API_VERSION: 0xae00,
  /** `_IO(0xAE, 0x01)`: system fd; arg = machine type (arm64: IPA size in bits 7:0, 0 = 40 bits). */
  CREATE_VM: 0xae01,
  /** `_IO(0xAE, 0x03)`: system or VM fd; arg = capability number; returns ≥ 0. */
  CHECK_EXTENSION: 0xae03,
  /** `_IO(0xAE, 0x04)`: system fd; returns the size of the vCPU `kvm_run` mapping. */
  GET_VCPU_MMAP_SIZE: 0xae04,
  /** `_IO(0xAE, 0x41)`: VM fd; arg = vCPU id; returns the vCPU fd. */
  CREATE_VCPU: 0xae41,
  /** `_IOW(0xAE, 0x46, kvm_userspace_memory_region)`, 32 bytes. */
  SET_USER_MEMORY_REGION: 0x4020_ae46,
  /** `_IOW(0xAE, 0x76, kvm_irqfd)`, 32 bytes. */
  IRQFD: 0x4020_ae76,
  /** `_IOW(0xAE, 0x79, kvm_ioeventfd)`, 64 bytes. */
  IOEVENTFD: 0x4040_ae79,
  /** `_IO(0xAE, 0x80)`: vCPU fd; enters the guest until an exit. */
  RUN: 0xae80,
  /** `_IOW(0xAE, 0xab, kvm_one_reg)`, 16 bytes (the kernel writes through `addr`). */
  GET_ONE_REG: 0x4010_aeab,
  /** `_IOW(0xAE, 0xac, kvm_one_reg)`, 16 bytes. */
  SET_ONE_REG: 0x4010_aeac,
  /** `_IOW(0xAE, 0xae, kvm_vcpu_init)`, 32 bytes. */
  ARM_VCPU_INIT: 0x4020_aeae,
  /** `_IOR(0xAE, 0xaf, kvm_vcpu_init)`, 32 bytes: VM fd; the kernel fills in the target. */
  ARM_PREFERRED_TARGET: 0x8020_aeaf,
  /** `_IOWR(0xAE, 0xe0, kvm_create_device)`, 12 bytes: VM fd; the kernel fills in `fd`. */
  CREATE_DEVICE: 0xc00c_aee0,
  /** `_IOW(0xAE, 0xe1, kvm_device_attr)`, 24 bytes: device, VM or vCPU fd. */
  SET_DEVICE_ATTR: 0x4018_aee1,
  /** `_IOW(0xAE, 0xe2, kvm_device_attr)`, 24 bytes (the kernel writes through `addr`). */
  GET_DEVICE_ATTR: 0x4018_aee2,
  /** `_IOW(0xAE, 0xe3, kvm_device_attr)`, 24 bytes: returns 0 when the attribute exists. */
  HAS_DEVICE_ATTR: 0x4018_aee3,
} as const;

/** Name of a {@link KVM_REQUEST} entry. */
export type KvmRequestName = keyof typeof KVM_REQUEST;

/** `kvm_run.exit_reason` values this package decodes (plus a few it names when reporting). */
export const KVM_EXIT = {
  /** The kernel could not say why. */
  UNKNOWN: 0,
  /** Forwarded SMCCC call (arm64: SMCCC filter action "forward to user"). */
  HYPERCALL: 3,
  /** An access to guest-physical memory that no memslot backs. */
  MMIO: 6,
  /** The hardware refused to enter the guest. */
  FAIL_ENTRY: 9,
  /** A signal or `immediate_exit` interrupted `KVM_RUN`. */
  INTR: 10,
  /** KVM hit an internal error. */
  INTERNAL_ERROR: 17,
  /** A PSCI system call (off, reset, crash…). */
  SYSTEM_EVENT: 24,
  /** arm64: a data abort without a valid syndrome (ISV = 0). */
  ARM_NISV: 28,
} as const;

/** `kvm_run.system_event.type` values. */
export const KVM_SYSTEM_EVENT = {
  /** PSCI SYSTEM_OFF. */
  SHUTDOWN: 1,
  /** PSCI SYSTEM_RESET / SYSTEM_RESET2. */
  RESET: 2,
  /** The guest reported a crash. */
  CRASH: 3,
  /** A vCPU woke up (not used on arm64 before 6.x SYSTEM_SUSPEND). */
  WAKEUP: 4,
  /** PSCI SYSTEM_SUSPEND (when enabled). */
  SUSPEND: 5,
} as const;

/** `kvm_run.hypercall.flags` bits on arm64. */
export const KVM_HYPERCALL_EXIT = {
  /** The guest used `smc` (otherwise `hvc`). */
  SMC: 1 << 0,
  /** The guest used a 16-bit (T32) instruction; never set for an AArch64 guest. */
  BIT16: 1 << 1,
} as const;

/** Capability numbers for `KVM_CHECK_EXTENSION` used here. */
export const KVM_CAP = {
  /** In-kernel interrupt controller. */
  IRQCHIP: 0,
  /** `KVM_SET_USER_MEMORY_REGION`. */
  USER_MEMORY: 3,
  /** Recommended number of vCPUs. */
  NR_VCPUS: 9,
  /** `KVM_IRQFD`. */
  IRQFD: 32,
  /** `KVM_IOEVENTFD`. */
  IOEVENTFD: 36,
  /** Maximum number of vCPUs. */
  MAX_VCPUS: 66,
  /** `KVM_GET_ONE_REG` / `KVM_SET_ONE_REG`. */
  ONE_REG: 70,
  /** Read-only memslots. */
  READONLY_MEM: 81,
  /** PSCI 0.1 emulation. */
  ARM_PSCI: 87,
  /** `KVM_CREATE_DEVICE` and the device-attribute ioctls. */
  DEVICE_CTRL: 89,
  /** PSCI 0.2+ emulation (vCPU feature `PSCI_0_2`). */
  ARM_PSCI_0_2: 102,
  /** `kvm_run.immediate_exit`. */
  IMMEDIATE_EXIT: 136,
  /** Largest IPA size (bits) the host supports for `CREATE_VM`. */
  ARM_VM_IPA_SIZE: 165,
} as const;

/** Bit numbers of `kvm_vcpu_init.features[0]`. */
export const KVM_ARM_VCPU_FEATURE = {
  /** Start the vCPU powered off (secondary CPUs waiting for PSCI CPU_ON). */
  POWER_OFF: 0,
  /** AArch32 EL1. */
  EL1_32BIT: 1,
  /** PSCI 0.2+ (SYSTEM_OFF and friends). */
  PSCI_0_2: 2,
  /** PMUv3. */
  PMU_V3: 3,
} as const;

/** `kvm_userspace_memory_region.flags` bits. */
export const KVM_MEM = {
  /** Track dirty pages. */
  LOG_DIRTY_PAGES: 1 << 0,
  /** Guest writes exit as MMIO. */
  READONLY: 1 << 1,
} as const;

/** `kvm_irqfd.flags` bits. */
export const KVM_IRQFD_FLAG = {
  /** Remove the irqfd. */
  DEASSIGN: 1 << 0,
  /** Level-triggered with a resample eventfd. */
  RESAMPLE: 1 << 1,
} as const;

/** `kvm_ioeventfd.flags` bits. */
export const KVM_IOEVENTFD_FLAG = {
  /** Only signal when the written value equals `datamatch`. */
  DATAMATCH: 1 << 0,
  /** Port I/O (x86 only). */
  PIO: 1 << 1,
  /** Remove the ioeventfd. */
  DEASSIGN: 1 << 2,
} as const;

/** `kvm_create_device.type` values used here. */
export const KVM_DEV_TYPE = {
  /** GICv2. */
  ARM_VGIC_V2: 5,
  /** GICv3. */
  ARM_VGIC_V3: 7,
  /** GICv3 ITS. */
  ARM_VGIC_ITS: 8,
} as const;

/** `kvm_create_device.flags`: only test whether the type can be created. */
export const KVM_CREATE_DEVICE_TEST = 1;

/** vGIC device-attribute groups. */
export const KVM_DEV_ARM_VGIC_GRP = {
  /** Base addresses; `attr` is a {@link KVM_VGIC_V3_ADDR_TYPE}, `addr` points at a u64. */
  ADDR: 0,
  /** Distributor registers. */
  DIST_REGS: 1,
  /** CPU interface registers (v2). */
  CPU_REGS: 2,
  /** Number of interrupts (u32, including the 32 private ones). */
  NR_IRQS: 3,
  /** Control; `attr` {@link KVM_DEV_ARM_VGIC_CTRL_INIT}. */
  CTRL: 4,
  /** Redistributor registers (v3). */
  REDIST_REGS: 5,
} as const;

/** `KVM_DEV_ARM_VGIC_GRP_CTRL` attribute that initialises the vGIC (after every vCPU exists). */
export const KVM_DEV_ARM_VGIC_CTRL_INIT = 0;

/** vGICv3 address types for `KVM_DEV_ARM_VGIC_GRP_ADDR`. */
export const KVM_VGIC_V3_ADDR_TYPE = {
  /** Distributor, 64 KiB. */
  DIST: 2,
  /** Redistributors, 128 KiB per vCPU, contiguous. */
  REDIST: 3,
} as const;

/** Size of the GICv3 distributor frame. */
export const VGIC_V3_DIST_SIZE = 0x1_0000;
/** Size of one vCPU's GICv3 redistributor (RD + SGI frames). */
export const VGIC_V3_REDIST_SIZE_PER_CPU = 0x2_0000;
/** The number of private interrupts (SGIs and PPIs); SPI n is INTID 32 + n. */
export const VGIC_NR_PRIVATE_IRQS = 32;

/** VM device-attribute group of the arm64 SMCCC controls (Linux ≥ 6.4). */
export const KVM_ARM_VM_SMCCC_CTRL = 0;
/** Attribute of {@link KVM_ARM_VM_SMCCC_CTRL}: install an SMCCC filter range. */
export const KVM_ARM_VM_SMCCC_FILTER = 0;

/** `kvm_smccc_filter.action` values. */
export const KVM_SMCCC_FILTER_ACTION = {
  /** KVM handles the call itself (the default). */
  handle: 0,
  /** KVM answers NOT_SUPPORTED (-1). */
  deny: 1,
  /** KVM exits to userspace with `KVM_EXIT_HYPERCALL`. */
  forward: 2,
} as const;

/** An SMCCC filter action name. */
export type SmcccFilterAction = keyof typeof KVM_SMCCC_FILTER_ACTION;
