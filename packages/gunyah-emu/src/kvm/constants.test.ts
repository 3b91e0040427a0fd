import { io, ior, iow, iowr } from '@gunyah-ts/sys';
import { describe, expect, it } from 'vitest';
import {
  KVM_API_VERSION,
  KVM_ARM_VCPU_FEATURE,
  KVM_ARM_VM_SMCCC_CTRL,
  KVM_ARM_VM_SMCCC_FILTER,
  KVM_CAP,
  KVM_CREATE_DEVICE_TEST,
  KVM_DEV_ARM_VGIC_CTRL_INIT,
  KVM_DEV_ARM_VGIC_GRP,
  KVM_DEV_TYPE,
  KVM_EXIT,
  KVM_HYPERCALL_EXIT,
  KVM_IOEVENTFD_FLAG,
  KVM_IRQFD_FLAG,
  KVM_MEM,
  KVM_REQUEST,
  KVM_SMCCC_FILTER_ACTION,
  KVM_SYSTEM_EVENT,
  KVM_VGIC_V3_ADDR_TYPE,
  KVMIO,
  VGIC_NR_PRIVATE_IRQS,
  VGIC_V3_DIST_SIZE,
  VGIC_V3_REDIST_SIZE_PER_CPU,
} from './constants.js';
import {
  CreateDeviceCodec,
  DeviceAttrCodec,
  IoeventfdCodec,
  IrqfdCodec,
  OneRegCodec,
  UserspaceMemoryRegionCodec,
  VcpuInitCodec,
} from './structs.js';

describe('KVM request numbers', () => {
  it('are the _IOC encodings of (dir, 0xAE, nr, sizeof)', () => {
    expect(KVMIO).toBe(0xae);
    expect(KVM_API_VERSION).toBe(12);
    const want: Record<keyof typeof KVM_REQUEST, number> = {
      GET_API_VERSION: io(KVMIO, 0x00),
      CREATE_VM: io(KVMIO, 0x01),
      CHECK_EXTENSION: io(KVMIO, 0x03),
      GET_VCPU_MMAP_SIZE: io(KVMIO, 0x04),
      CREATE_VCPU: io(KVMIO, 0x41),
      SET_USER_MEMORY_REGION: iow(KVMIO, 0x46, UserspaceMemoryRegionCodec.size),
      IRQFD: iow(KVMIO, 0x76, IrqfdCodec.size),
      IOEVENTFD: iow(KVMIO, 0x79, IoeventfdCodec.size),
      RUN: io(KVMIO, 0x80),
      GET_ONE_REG: iow(KVMIO, 0xab, OneRegCodec.size),
      SET_ONE_REG: iow(KVMIO, 0xac, OneRegCodec.size),
      ARM_VCPU_INIT: iow(KVMIO, 0xae, VcpuInitCodec.size),
      ARM_PREFERRED_TARGET: ior(KVMIO, 0xaf, VcpuInitCodec.size),
      CREATE_DEVICE: iowr(KVMIO, 0xe0, CreateDeviceCodec.size),
      SET_DEVICE_ATTR: iow(KVMIO, 0xe1, DeviceAttrCodec.size),
      GET_DEVICE_ATTR: iow(KVMIO, 0xe2, DeviceAttrCodec.size),
      HAS_DEVICE_ATTR: iow(KVMIO, 0xe3, DeviceAttrCodec.size),
    };
    expect(KVM_REQUEST).toEqual(want);
  });

  it('pin the literal values', () => {
    expect(KVM_REQUEST).toEqual({
      GET_API_VERSION: 0xae00,
      CREATE_VM: 0xae01,
      CHECK_EXTENSION: 0xae03,
      GET_VCPU_MMAP_SIZE: 0xae04,
      CREATE_VCPU: 0xae41,
      SET_USER_MEMORY_REGION: 0x4020ae46,
      IRQFD: 0x4020ae76,
      IOEVENTFD: 0x4040ae79,
      RUN: 0xae80,
      GET_ONE_REG: 0x4010aeab,
      SET_ONE_REG: 0x4010aeac,
      ARM_VCPU_INIT: 0x4020aeae,
      ARM_PREFERRED_TARGET: 0x8020aeaf,
      CREATE_DEVICE: 0xc00caee0,
      SET_DEVICE_ATTR: 0x4018aee1,
      GET_DEVICE_ATTR: 0x4018aee2,
      HAS_DEVICE_ATTR: 0x4018aee3,
    });
  });
});

describe('KVM constant tables', () => {
  it('exit reasons and system events', () => {
    expect(KVM_EXIT).toEqual({ UNKNOWN: 0, HYPERCALL: 3, MMIO: 6, FAIL_ENTRY: 9, INTR: 10, INTERNAL_ERROR: 17, SYSTEM_EVENT: 24, ARM_NISV: 28 });
    expect(KVM_SYSTEM_EVENT).toEqual({ SHUTDOWN: 1, RESET: 2, CRASH: 3, WAKEUP: 4, SUSPEND: 5 });
    expect(KVM_HYPERCALL_EXIT).toEqual({ SMC: 1, BIT16: 2 });
  });

  it('capabilities', () => {
    expect(KVM_CAP).toEqual({
      IRQCHIP: 0,
      USER_MEMORY: 3,
      NR_VCPUS: 9,
      IRQFD: 32,
      IOEVENTFD: 36,
      MAX_VCPUS: 66,
      ONE_REG: 70,
      READONLY_MEM: 81,
      ARM_PSCI: 87,
      DEVICE_CTRL: 89,
      ARM_PSCI_0_2: 102,
      IMMEDIATE_EXIT: 136,
      ARM_VM_IPA_SIZE: 165,
    });
  });

  it('flags and features', () => {
    expect(KVM_ARM_VCPU_FEATURE).toEqual({ POWER_OFF: 0, EL1_32BIT: 1, PSCI_0_2: 2, PMU_V3: 3 });
    expect(KVM_MEM).toEqual({ LOG_DIRTY_PAGES: 1, READONLY: 2 });
    expect(KVM_IRQFD_FLAG).toEqual({ DEASSIGN: 1, RESAMPLE: 2 });
    expect(KVM_IOEVENTFD_FLAG).toEqual({ DATAMATCH: 1, PIO: 2, DEASSIGN: 4 });
  });

  it('devices, vGIC and SMCCC filter', () => {
    expect(KVM_DEV_TYPE).toEqual({ ARM_VGIC_V2: 5, ARM_VGIC_V3: 7, ARM_VGIC_ITS: 8 });
    expect(KVM_CREATE_DEVICE_TEST).toBe(1);
    expect(KVM_DEV_ARM_VGIC_GRP).toEqual({ ADDR: 0, DIST_REGS: 1, CPU_REGS: 2, NR_IRQS: 3, CTRL: 4, REDIST_REGS: 5 });
    expect(KVM_DEV_ARM_VGIC_CTRL_INIT).toBe(0);
    expect(KVM_VGIC_V3_ADDR_TYPE).toEqual({ DIST: 2, REDIST: 3 });
    expect([VGIC_V3_DIST_SIZE, VGIC_V3_REDIST_SIZE_PER_CPU, VGIC_NR_PRIVATE_IRQS]).toEqual([0x10000, 0x20000, 32]);
    expect([KVM_ARM_VM_SMCCC_CTRL, KVM_ARM_VM_SMCCC_FILTER]).toEqual([0, 0]);
    expect(KVM_SMCCC_FILTER_ACTION).toEqual({ handle: 0, deny: 1, forward: 2 });
  });
});
