// Test helpers: a recording executor (the KVM seam, no /dev/kvm needed) and the VMM-style call
// sequence through @gunyah-ts/ioctls that the unit tests and the e2e tests share in spirit.
import { Gunyah, type Vcpu, type Vm } from '@gunyah-ts/ioctls';
import { buildGunyahVmDt } from '@gunyah-ts/devicetree';
import type { KvmExit } from '../src/kvm/index.js';
import type { Emulator, EmuExecutor, ExecPlan, ExecVm, KvmVcpuPort } from '../src/index.js';

export const RAM_BASE = 0x8000_0000n;
export const RAM_SIZE = 0x20_0000;
export const DTB_OFFSET = 0x10_0000;
export const DTB_WINDOW = 0x1_0000;
export const MMIO = 0x0900_0000n;
export const IOEVENT = 0x0a00_0000n;

/** Records what the KVM side would be asked to do; vCPUs play scripted KVM exits. */
export class RecordingExecutor implements EmuExecutor {
  readonly plans: ExecPlan[] = [];
  readonly events: string[] = [];
  readonly scripts = new Map<number, KvmExit[]>();
  readonly calls: string[] = [];
  failStart: Error | undefined;
  #nextFd = 1000;

  start(plan: ExecPlan): ExecVm {
    if (this.failStart) throw this.failStart;
    this.plans.push(plan);
    const fds = new Map<number, number>();
    for (const v of plan.vcpus) fds.set(v.slot, this.#nextFd++);
    this.events.push(`start vmid=${plan.vmid} vcpus=${plan.vcpus.length} irqfds=${plan.irqfds.length} ioeventfds=${plan.ioeventfds.length}`);
    return {
      vcpuFds: fds,
      kvmRunSize: 8192,
      smcccForwarded: true,
      attachIrqfd: (i) => this.events.push(`attach irqfd fd=${i.fd} spi=${i.spi} level=${i.level}`),
      detachIrqfd: (i) => this.events.push(`detach irqfd fd=${i.fd} spi=${i.spi}`),
      attachIoeventfd: (e) => this.events.push(`attach ioeventfd 0x${e.addr.toString(16)}/${e.len}`),
      detachIoeventfd: (e) => this.events.push(`detach ioeventfd 0x${e.addr.toString(16)}/${e.len}`),
      close: () => this.events.push('close'),
    };
  }

  vcpuPort(fd: number): KvmVcpuPort {
    return {
      run: () => {
        const next = this.scripts.get(fd)?.shift();
        this.calls.push(`run ${fd}`);
        return next ?? { kind: 'interrupted' };
      },
      completeMmioRead: (v, len) => this.calls.push(`read-data 0x${v.toString(16)}/${len}`),
      completeHypercall: (r) => this.calls.push(`hvc-answer ${r.map((x) => `0x${x.toString(16)}`).join(',')}`),
      injectExternalAbort: () => this.calls.push('inject-dabt'),
      setImmediateExit: (v) => this.calls.push(`immediate-exit ${fd}=${v}`),
    };
  }
}

export interface TinyVm {
  gunyah: Gunyah;
  vm: Vm;
  vcpu: Vcpu;
  irqEfd: number;
  ioEfd: number;
  ram: ArrayBuffer | undefined;
  memfd: number;
  close(): void;
}

/**
 * The VMM call sequence of spec Appendix B for `variant` on `emu`: memory, a program at the RAM
 * base, the DTB from buildGunyahVmDt at RAM base + 1 MiB, SET_DTB_CONFIG, boot context (B/C),
 * vCPU 0, irqfd label 0, ioeventfd at IOEVENT (4 bytes). Does not start the VM.
 */
export function setupTinyVm(emu: Emulator, variant: 'A' | 'B' | 'C', program: Uint8Array, options: { mode?: 'share' | 'lend' } = {}): TinyVm {
  const gunyah = Gunyah.open({ binding: emu });
  if (gunyah.variant !== variant) throw new Error(`detected ${gunyah.variant}, expected ${variant}`);
  const vm = gunyah.createVm();
  const dt = buildGunyahVmDt({ memory: { base: RAM_BASE, size: BigInt(RAM_SIZE) } });
  const c = emu.constants();
  let ram: ArrayBuffer | undefined;
  let memfd = -1;
  const mode = options.mode ?? (variant === 'B' ? 'lend' : 'share');
  if (variant === 'B') {
    const gm = gunyah.createGuestMem(RAM_SIZE);
    memfd = gm.fd;
    const map = gm.mmap(0, RAM_SIZE);
    new Uint8Array(map).set(program, 0);
    new Uint8Array(map).set(dt.dtb, DTB_OFFSET);
    emu.munmap(map); // the DTB pages are lent at start: no host mapping may remain (spec §6.5)
    vm.addGuestMemory({ guestAddr: RAM_BASE, size: RAM_SIZE, mode, fd: gm.fd, offset: 0 });
  } else {
    memfd = emu.memfdCreate('guest-ram', c.MFD_CLOEXEC);
    emu.ftruncate(memfd, RAM_SIZE);
    ram = emu.mmap(memfd, RAM_SIZE, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
    new Uint8Array(ram).set(program, 0);
    new Uint8Array(ram).set(dt.dtb, DTB_OFFSET);
    vm.addGuestMemory({ guestAddr: RAM_BASE, size: RAM_SIZE, mode, hostAddr: emu.addressOf(ram) });
  }
  vm.setDtbConfig({ guestPhysAddr: RAM_BASE + BigInt(DTB_OFFSET), size: DTB_WINDOW });
  if (variant !== 'A') vm.setBootContext('pc', 0, RAM_BASE);
  const vcpu = vm.addVcpu(0);
  const irqEfd = emu.eventfd(0, c.EFD_NONBLOCK);
  const ioEfd = emu.eventfd(0, c.EFD_NONBLOCK);
  vm.addIrqfd({ fd: irqEfd, label: 0 });
  vm.addIoeventfd({ addr: IOEVENT, len: 4, fd: ioEfd });
  return {
    gunyah,
    vm,
    vcpu,
    irqEfd,
    ioEfd,
    ram,
    memfd,
    close() {
      vcpu.close();
      vm.close();
      gunyah.close();
      emu.close(irqEfd);
      emu.close(ioEfd);
      if (ram !== undefined) emu.munmap(ram);
      emu.close(memfd);
    },
  };
}
