/**
 * The execution seam: what the driver model asks of KVM at `VM_START` and after it. The real
 * executor ({@link KvmExecutor}) builds a KVM VM; unit tests inject a recording one.
 *
 * @module
 */
import { ErrnoError, encodeMmioExitLayout, type BindingModule, type MmioExitLayout } from './sys.js';
import { ARM64_CORE_REG, KVM_EXIT, KVM_REQUEST, KVM_RUN_OFFSET, KVM_SMCCC_FILTER_ACTION, Kvm, KvmVcpu, decodeExit, type KvmExit, type KvmVm } from '../kvm/index.js';
import type { KvmVcpuPort, SinkArgs } from './translate.js';

/** One guest memory slot. */
export interface ExecMemorySlot {
  /** Guest IPA (page aligned). */
  readonly guestPhysAddr: bigint;
  /** Bytes (page multiple). */
  readonly size: bigint;
  /** Host virtual address of the backing memory in this process. */
  readonly userspaceAddr: bigint;
  /** Guest writes exit as MMIO (no WRITE permission). */
  readonly readonly: boolean;
}

/** One vCPU to create. */
export interface ExecVcpu {
  /** The VM-page slot (also the KVM vCPU id: the RM resource label = CPU node index). */
  readonly slot: number;
  /** Boot vCPU (the others start powered off, for PSCI CPU_ON). */
  readonly boot: boolean;
  /** Boot registers (boot vCPU only): `pc`, `sp`, `sp_el1`, `x0`…`x30`. */
  readonly regs: ReadonlyMap<string, bigint>;
}

/** An irqfd routed to a guest SPI. */
export interface ExecIrqfd {
  /** The VMM's eventfd. */
  readonly fd: number;
  /** SPI number (INTID − 32). */
  readonly spi: number;
  /** Level-triggered doorbell. */
  readonly level: boolean;
}

/** An ioeventfd in KVM's terms. */
export interface ExecIoeventfd {
  /** Guest IPA. */
  readonly addr: bigint;
  /** 0 (any length, no datamatch) or the datamatch length. */
  readonly len: number;
  /** Datamatch value, when `len` ≠ 0. */
  readonly datamatch: bigint | undefined;
  /** The eventfd. */
  readonly fd: number;
}

/** Everything `VM_START` decided, for the executor. */
export interface ExecPlan {
  /** The RM's VMID (for logs). */
  readonly vmid: number;
  /** Memory slots. */
  readonly memory: readonly ExecMemorySlot[];
  /** GICv3 distributor base, from the guest DT. */
  readonly gicdBase: bigint;
  /** GICv3 redistributor base, from the guest DT. */
  readonly gicrBase: bigint;
  /** vCPUs (slots 0…n−1 with RM resources). */
  readonly vcpus: readonly ExecVcpu[];
  /** irqfds whose label has a doorbell. */
  readonly irqfds: readonly ExecIrqfd[];
  /** ioeventfds. */
  readonly ioeventfds: readonly ExecIoeventfd[];
}

/** A running VM on the executor. */
export interface ExecVm {
  /** KVM vCPU fd per slot. */
  readonly vcpuFds: ReadonlyMap<number, number>;
  /** `KVM_GET_VCPU_MMAP_SIZE`. */
  readonly kvmRunSize: number;
  /** Whether guests' SMCCC vendor-hyp calls reach the emulator (kernel ≥ 6.4). */
  readonly smcccForwarded: boolean;
  /** Attach an irqfd after start. */
  attachIrqfd(i: ExecIrqfd): void;
  /** Detach an irqfd. */
  detachIrqfd(i: ExecIrqfd): void;
  /** Attach an ioeventfd after start. */
  attachIoeventfd(e: ExecIoeventfd): void;
  /** Detach an ioeventfd. */
  detachIoeventfd(e: ExecIoeventfd): void;
  /** Close every KVM fd (vCPUs, vGIC, VM). */
  close(): void;
}

/** Builds VMs and gives the main thread its KVM vCPU ports. */
export interface EmuExecutor {
  /** Create and configure the KVM VM. Throws an `ErrnoError` on failure (`VM_START` fails with it). */
  start(plan: ExecPlan): ExecVm;
  /** The main thread's port to a KVM vCPU fd (for inline `VCPU_RUN`). */
  vcpuPort(kvmFd: number, kvmRunSize: number): KvmVcpuPort;
}

/** `KVM_SET_VCPU_EVENTS` = `_IOW(0xAE, 0xA0, struct kvm_vcpu_events)` (64 bytes, arm64). */
export const KVM_SET_VCPU_EVENTS = 0x4040_aea0;

/** The SPI count the emulator gives the vGIC: 992 interrupts in total (KVM's maximum below 1024). */
export const EMU_VGIC_NR_IRQS = 992;

/** Where `kvm_run` keeps an MMIO exit, for the addon's `runMmioSink` (`struct kvm_run`, arm64). */
export const KVM_MMIO_EXIT_LAYOUT: MmioExitLayout = Object.freeze({
  exitReason: KVM_RUN_OFFSET.EXIT_REASON,
  mmioReason: KVM_EXIT.MMIO,
  physAddr: KVM_RUN_OFFSET.MMIO_PHYS_ADDR,
  data: KVM_RUN_OFFSET.MMIO_DATA,
  len: KVM_RUN_OFFSET.MMIO_LEN,
  isWrite: KVM_RUN_OFFSET.MMIO_IS_WRITE,
});

/** A {@link KvmVcpuPort} over a KVM vCPU fd (borrowed: never closed by the port). */
export function kvmVcpuPort(binding: BindingModule, kvmFd: number, kvmRunSize: number): KvmVcpuPort {
  const vcpu = KvmVcpu.fromRawFd(kvmFd, { binding, mmapSize: kvmRunSize, owned: false });
  const kvmRun = new DataView(vcpu.runView().buffer);
  const interrupted: KvmExit = Object.freeze({ kind: 'interrupted' });
  const layout = encodeMmioExitLayout(KVM_MMIO_EXIT_LAYOUT);
  const nativeSink = binding.runMmioSink?.bind(binding);
  /** One `KVM_RUN` (or the native sink loop) and the lean decode of its exit. */
  const lean = (sink: SinkArgs | undefined): KvmExit | undefined => {
    try {
      if (sink !== undefined && nativeSink !== undefined) nativeSink(kvmFd, KVM_REQUEST.RUN, kvmRun.buffer, layout, sink.descriptor, sink.state, sink.bytes);
      else binding.ioctl(kvmFd, KVM_REQUEST.RUN, 0);
    } catch (e) {
      const err = ErrnoError.from(e, 'KVM_RUN');
      if (err instanceof ErrnoError && err.code === 'EINTR') return interrupted;
      throw err;
    }
    if (kvmRun.getUint32(KVM_RUN_OFFSET.EXIT_REASON, true) === KVM_EXIT.MMIO) {
      const len = kvmRun.getUint32(KVM_RUN_OFFSET.MMIO_LEN, true);
      if (len >= 1 && len <= 8) return undefined;
    }
    return decodeExit(vcpu.runView()); // every other exit (a bad MMIO length throws here)
  };
  return {
    run: () => vcpu.run(),
    kvmRun,
    runLean: () => lean(undefined),
    ...(nativeSink !== undefined ? { runLeanSink: (sink: SinkArgs) => lean(sink) } : {}),
    completeMmioRead: (value, len) => vcpu.runView().setMmioData(value & ((1n << BigInt(8 * len)) - 1n), len),
    completeHypercall: (registers) => vcpu.completeHypercall(registers),
    injectExternalAbort: () => {
      // struct kvm_vcpu_events: exception { serror_pending, serror_has_esr, ext_dabt_pending, pad[5], serror_esr }, reserved[12]
      const ev = new Uint8Array(64);
      ev[2] = 1;
      try {
        binding.ioctl(kvmFd, KVM_SET_VCPU_EVENTS, ev);
      } catch (e) {
        throw ErrnoError.from(e, 'KVM_SET_VCPU_EVENTS');
      }
    },
    setImmediateExit: (v) => {
      vcpu.runView().immediateExit = v;
    },
  };
}

function regId(name: string): bigint | undefined {
  if (name === 'pc') return ARM64_CORE_REG.PC;
  if (name === 'sp') return ARM64_CORE_REG.SP;
  if (name === 'sp_el1') return ARM64_CORE_REG.SP_EL1;
  return undefined;
}

/** Options of {@link KvmExecutor}. */
export interface KvmExecutorOptions {
  /** The native binding. */
  readonly binding: BindingModule;
  /** `/dev/kvm` path. */
  readonly kvmPath: string;
}

/** The real executor: one KVM VM per Gunyah VM (design decision 5). */
export class KvmExecutor implements EmuExecutor {
  readonly #binding: BindingModule;
  readonly #kvmPath: string;
  readonly #ports = new Map<number, KvmVcpuPort>();

  /** @param options - binding and device path. */
  constructor(options: KvmExecutorOptions) {
    this.#binding = options.binding;
    this.#kvmPath = options.kvmPath;
  }

  /** Memory slots, vGICv3, vCPUs (PSCI 0.2, secondaries off), vGIC init, boot registers, irqfds, ioeventfds, SMCCC filter. */
  start(plan: ExecPlan): ExecVm {
    const b = this.#binding;
    const kvm = Kvm.open({ binding: b, path: this.#kvmPath });
    let vm: KvmVm | undefined;
    const vcpus: KvmVcpu[] = [];
    try {
      vm = kvm.createVm();
      plan.memory.forEach((m, slot) =>
        vm?.setUserMemoryRegion({ slot, guestPhysAddr: m.guestPhysAddr, size: m.size, userspaceAddr: m.userspaceAddr, readonly: m.readonly }),
      );
      vm.createVgicV3({ distBase: plan.gicdBase, redistBase: plan.gicrBase, nrIrqs: EMU_VGIC_NR_IRQS });
      const sorted = [...plan.vcpus].sort((a, c) => a.slot - c.slot);
      for (const v of sorted) {
        const vcpu = vm.createVcpu(v.slot);
        vcpus.push(vcpu);
        vcpu.init({ powerOff: !v.boot, psci02: true });
      }
      vm.initVgic();
      sorted.forEach((v, i) => {
        const vcpu = vcpus[i] as KvmVcpu;
        for (const [name, value] of v.regs) {
          const id = regId(name);
          if (id !== undefined) vcpu.setReg(id, value);
          else if (/^x([0-9]|[12][0-9]|30)$/.test(name)) vcpu.setX(Number(name.slice(1)), value);
        }
      });
      let smccc = false;
      if (vm.hasSmcccFilter()) {
        vm.setSmcccFilter({ base: 0x8600_0000, count: 0x1_0000, action: 'forward' });
        vm.setSmcccFilter({ base: 0xc600_0000, count: 0x1_0000, action: 'forward' });
        smccc = true;
      }
      const resample = new Map<number, number>();
      const theVm = vm;
      const attachIrqfd = (i: ExecIrqfd): void => {
        let resampleFd: number | undefined;
        if (i.level) {
          resampleFd = b.eventfd(0, 0);
          resample.set(i.fd, resampleFd);
        }
        theVm.irqfd({ fd: i.fd, spi: i.spi, ...(resampleFd === undefined ? {} : { resampleFd }) });
      };
      const toKvm = (e: ExecIoeventfd) => ({ addr: e.addr, len: e.len, fd: e.fd, ...(e.datamatch === undefined ? {} : { datamatch: e.datamatch }) });
      plan.irqfds.forEach(attachIrqfd);
      plan.ioeventfds.forEach((e) => theVm.ioeventfd(toKvm(e)));
      const fds = new Map<number, number>();
      sorted.forEach((v, i) => fds.set(v.slot, (vcpus[i] as KvmVcpu).fd));
      const runSize = kvm.vcpuMmapSize();
      kvm.close();
      return {
        vcpuFds: fds,
        kvmRunSize: runSize,
        smcccForwarded: smccc,
        attachIrqfd,
        detachIrqfd: (i) => {
          theVm.irqfd({ fd: i.fd, spi: i.spi, deassign: true });
          const r = resample.get(i.fd);
          if (r !== undefined) {
            resample.delete(i.fd);
            b.close(r);
          }
        },
        attachIoeventfd: (e) => theVm.ioeventfd(toKvm(e)),
        detachIoeventfd: (e) => theVm.ioeventfd({ ...toKvm(e), deassign: true }),
        close: () => {
          for (const fd of fds.values()) this.#ports.delete(fd);
          for (const v of vcpus) v.close();
          for (const r of resample.values()) b.close(r);
          theVm.close();
        },
      };
    } catch (e) {
      for (const v of vcpus) v.close();
      vm?.close();
      kvm.close();
      throw e;
    }
  }

  /** A cached port per KVM vCPU fd. */
  vcpuPort(kvmFd: number, kvmRunSize: number): KvmVcpuPort {
    let p = this.#ports.get(kvmFd);
    if (p === undefined) {
      p = kvmVcpuPort(this.#binding, kvmFd, kvmRunSize);
      this.#ports.set(kvmFd, p);
    }
    return p;
  }
}
