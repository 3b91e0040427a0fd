import type { BindingModule, IoctlArg, PointerField, SysConstants } from '@gunyah-ts/sys';
import { ErrnoError } from '@gunyah-ts/sys';
import { describe, expect, it } from 'vitest';
import { KVM_EXIT, KVM_REQUEST } from './constants.js';
import { KvmError } from './errors.js';
import { CREATE_VM_EINTR_RETRIES, Kvm, KvmVcpu, KvmVm } from './kvm.js';
import { ARM64_CORE_REG, xReg } from './regs.js';
import { KVM_RUN_OFFSET } from './run.js';

// ---------------------------------------------------------------------------------------------
// A recording fake of the KVM syscall surface. It keeps the rules these wrappers rely on: fds
// must be open and of the right kind (EBADF/ENOTTY otherwise), the API version, one vGIC per VM,
// no vCPU after vGIC init (EBUSY), the SMCCC filter only when enabled (ENXIO otherwise), and it
// records every ioctl with a copy of its argument bytes and of each pointed-to buffer.

const ERRNO = { EBADF: 9, ENOENT: 2, EINTR: 4, ENXIO: 6, EBUSY: 16, EEXIST: 17, EINVAL: 22, ENOTTY: 25 } as const;
const sysErr = (name: keyof typeof ERRNO): Error => Object.assign(new Error(name), { errno: ERRNO[name], syscall: 'ioctl' });

const NAME = new Map<number, string>(Object.entries(KVM_REQUEST).map(([k, v]) => [v, `KVM_${k}`]));
const hex = (b: ArrayBufferView | ArrayBuffer | undefined): string =>
  b === undefined ? '' : Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).toString('hex');

interface Call {
  readonly op: string;
  readonly fd: number;
  readonly arg: string;
  readonly inner?: string;
}

type Kind = 'system' | 'vm' | 'vcpu' | 'device';
type RunScript = (page: DataView, vcpu: { regs: Map<bigint, bigint> }) => void | 'EINTR';

const CONSTANTS = {
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_CLOEXEC: 0x80000,
  O_NONBLOCK: 0x800,
  PROT_NONE: 0,
  PROT_READ: 1,
  PROT_WRITE: 2,
  PROT_EXEC: 4,
  MAP_SHARED: 1,
  MAP_PRIVATE: 2,
  MAP_ANONYMOUS: 0x20,
  MAP_NORESERVE: 0x4000,
  MFD_CLOEXEC: 1,
  MFD_ALLOW_SEALING: 2,
  EFD_CLOEXEC: 0x80000,
  EFD_NONBLOCK: 0x800,
  EFD_SEMAPHORE: 1,
  POLLIN: 1,
  POLLOUT: 4,
  POLLERR: 8,
  POLLHUP: 16,
} satisfies SysConstants;

class FakeKvm implements BindingModule {
  readonly calls: Call[] = [];
  readonly fds = new Map<number, { kind: Kind; vm?: number; regs?: Map<bigint, bigint>; page?: ArrayBuffer }>();
  readonly vms = new Map<number, { vgic: number | undefined; vgicInit: boolean; filters: string[] }>();
  readonly runScripts: RunScript[] = [];
  readonly unmapped: ArrayBuffer[] = [];
  closedFds: number[] = [];
  apiVersion = 12;
  smcccFilter = true;
  #next = 10;
  readonly mmapSize: number;

  constructor(mmapSize = 8192) {
    this.mmapSize = mmapSize;
  }

  #get(fd: number): { kind: Kind; vm?: number; regs?: Map<bigint, bigint>; page?: ArrayBuffer } {
    const f = this.fds.get(fd);
    if (f === undefined) throw sysErr('EBADF');
    return f;
  }

  open(path: string): number {
    if (path !== '/dev/kvm') throw Object.assign(new Error('ENOENT'), { errno: ERRNO.ENOENT, syscall: 'open' });
    const fd = this.#next++;
    this.fds.set(fd, { kind: 'system' });
    return fd;
  }

  close(fd: number): void {
    this.#get(fd);
    this.fds.delete(fd);
    this.closedFds.push(fd);
  }

  ioctl(fd: number, request: number, arg?: IoctlArg): number {
    const f = this.#get(fd);
    const bytes = arg instanceof Uint8Array ? arg : undefined;
    this.calls.push({ op: NAME.get(request) ?? `0x${request.toString(16)}`, fd, arg: typeof arg === 'number' ? String(arg) : hex(bytes) });
    const dv = bytes === undefined ? undefined : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    switch (f.kind) {
      case 'system':
        if (request === KVM_REQUEST.GET_API_VERSION) return this.apiVersion;
        if (request === KVM_REQUEST.CHECK_EXTENSION) return arg === 102 ? 1 : 0;
        if (request === KVM_REQUEST.GET_VCPU_MMAP_SIZE) return this.mmapSize;
        if (request === KVM_REQUEST.CREATE_VM) {
          const vm = this.#next++;
          this.fds.set(vm, { kind: 'vm' });
          this.vms.set(vm, { vgic: undefined, vgicInit: false, filters: [] });
          return vm;
        }
        throw sysErr('ENOTTY');
      case 'vm': {
        const vm = this.vms.get(fd)!;
        switch (request) {
          case KVM_REQUEST.CHECK_EXTENSION:
            return 0;
          case KVM_REQUEST.SET_USER_MEMORY_REGION:
          case KVM_REQUEST.IOEVENTFD:
            return 0;
          case KVM_REQUEST.IRQFD:
            if (!vm.vgicInit) throw sysErr('EINVAL');
            return 0;
          case KVM_REQUEST.CREATE_VCPU: {
            if (vm.vgicInit) throw sysErr('EBUSY');
            const v = this.#next++;
            this.fds.set(v, { kind: 'vcpu', vm: fd, regs: new Map() });
            return v;
          }
          case KVM_REQUEST.ARM_PREFERRED_TARGET:
            dv!.setUint32(0, 5, true);
            return 0;
          case KVM_REQUEST.CREATE_DEVICE: {
            if (vm.vgic !== undefined) throw sysErr('EEXIST');
            const d = this.#next++;
            this.fds.set(d, { kind: 'device', vm: fd });
            vm.vgic = d;
            dv!.setUint32(4, d, true);
            return 0;
          }
          case KVM_REQUEST.HAS_DEVICE_ATTR:
            if (!this.smcccFilter) throw sysErr('ENXIO');
            return 0;
          default:
            throw sysErr('ENOTTY');
        }
      }
      case 'device': {
        if (request === KVM_REQUEST.SET_DEVICE_ATTR && dv!.getUint32(4, true) === 4) {
          this.vms.get(f.vm!)!.vgicInit = true;
          return 0;
        }
        if (request === KVM_REQUEST.HAS_DEVICE_ATTR) {
          if (dv!.getUint32(4, true) === 0 && dv!.getBigUint64(8, true) === 2n) return 0;
          throw sysErr(dv!.getUint32(4, true) === 99 ? 'EINVAL' : 'ENXIO');
        }
        throw sysErr('EINVAL');
      }
      case 'vcpu': {
        if (request === KVM_REQUEST.ARM_VCPU_INIT) return 0;
        if (request === KVM_REQUEST.RUN) {
          if (f.page === undefined) throw sysErr('EINVAL');
          const page = new DataView(f.page);
          if (page.getUint8(1) !== 0) {
            page.setUint32(8, KVM_EXIT.INTR, true);
            throw sysErr('EINTR');
          }
          const script = this.runScripts.shift();
          if (script === undefined) throw new Error('no run script left');
          if (script(page, { regs: f.regs! }) === 'EINTR') throw sysErr('EINTR');
          return 0;
        }
        throw sysErr('ENOTTY');
      }
    }
  }

  ioctlWithPtrs(fd: number, request: number, buf: ArrayBufferView | ArrayBuffer, ptrs: readonly PointerField[]): number {
    const f = this.#get(fd);
    const b = buf as Uint8Array;
    const inner = ptrs[0]?.buffer as Uint8Array;
    this.calls.push({ op: NAME.get(request) ?? `0x${request.toString(16)}`, fd, arg: hex(b), inner: hex(inner) });
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (f.kind === 'vcpu' && (request === KVM_REQUEST.GET_ONE_REG || request === KVM_REQUEST.SET_ONE_REG)) {
      const id = dv.getBigUint64(0, true);
      const iv = new DataView(inner.buffer, inner.byteOffset, inner.byteLength);
      if (request === KVM_REQUEST.SET_ONE_REG) f.regs!.set(id, iv.getBigUint64(0, true));
      else iv.setBigUint64(0, f.regs!.get(id) ?? 0n, true);
      return 0;
    }
    if (f.kind === 'vm' && request === KVM_REQUEST.SET_DEVICE_ATTR) {
      if (!this.smcccFilter) throw sysErr('ENXIO');
      this.vms.get(fd)!.filters.push(hex(inner));
      return 0;
    }
    if (f.kind === 'device' && request === KVM_REQUEST.SET_DEVICE_ATTR) return 0;
    if (f.kind === 'device' && request === KVM_REQUEST.GET_DEVICE_ATTR) {
      inner.fill(0xab);
      return 0;
    }
    throw sysErr('ENOTTY');
  }

  mmap(fd: number, length: number | bigint): ArrayBuffer {
    const f = this.#get(fd);
    if (f.kind !== 'vcpu') throw Object.assign(new Error('ENODEV'), { errno: 19, syscall: 'mmap' });
    f.page ??= new ArrayBuffer(Number(length));
    return f.page;
  }

  munmap(buffer: ArrayBuffer): void {
    this.unmapped.push(buffer);
  }

  constants(): SysConstants {
    return CONSTANTS;
  }

  addressOf(): bigint {
    return 0x7f00_0000_0000n;
  }
  memfdCreate(): number {
    throw new Error('not used');
  }
  ftruncate(): void {}
  read(): number {
    return 0;
  }
  write(): number {
    return 0;
  }
  pread(): number {
    return 0;
  }
  pwrite(): number {
    return 0;
  }
  eventfd(): number {
    return this.#next++;
  }
  poll(): number {
    return 0;
  }
  pageSize(): number {
    return 4096;
  }
  kickSignal(): number {
    return 34;
  }
  currentThread(): bigint {
    return 1n;
  }
  kick(): void {}
}

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof KvmError || e instanceof ErrnoError) return e.code;
    throw e;
  }
  return undefined;
};

function setup(opts: { smcccFilter?: boolean } = {}): { fake: FakeKvm; kvm: Kvm; vm: KvmVm } {
  const fake = new FakeKvm();
  if (opts.smcccFilter === false) fake.smcccFilter = false;
  const kvm = Kvm.open({ binding: fake });
  const vm = kvm.createVm();
  fake.calls.length = 0;
  return { fake, kvm, vm };
}

describe('Kvm', () => {
  it('opens /dev/kvm and checks the API version', () => {
    const fake = new FakeKvm();
    const kvm = Kvm.open({ binding: fake });
    expect(fake.calls).toEqual([{ op: 'KVM_GET_API_VERSION', fd: kvm.fd, arg: '0' }]);
    expect(kvm.checkExtension(102)).toBe(1);
    expect(kvm.vcpuMmapSize()).toBe(8192);
    expect(kvm.vcpuMmapSize()).toBe(8192);
    expect(fake.calls.filter((c) => c.op === 'KVM_GET_VCPU_MMAP_SIZE')).toHaveLength(1);
    kvm.close();
    kvm.close();
    expect(fake.closedFds).toEqual([10]);
    expect(codeOf(() => kvm.fd)).toBe('CLOSED');
    expect(codeOf(() => kvm.apiVersion())).toBe('CLOSED');
  });

  it('rejects another API version and closes the fd', () => {
    const fake = new FakeKvm();
    fake.apiVersion = 11;
    expect(codeOf(() => Kvm.open({ binding: fake }))).toBe('API_VERSION');
    expect(fake.fds.size).toBe(0);
  });

  it('maps open failures to ErrnoError', () => {
    expect(codeOf(() => Kvm.open({ binding: new FakeKvm(), path: '/nope' }))).toBe('ENOENT');
  });

  it('createVm passes the IPA size and validates it', () => {
    const fake = new FakeKvm();
    const kvm = Kvm.open({ binding: fake });
    kvm.createVm({ ipaBits: 44 });
    expect(fake.calls.at(-1)).toEqual({ op: 'KVM_CREATE_VM', fd: kvm.fd, arg: '44' });
    expect(codeOf(() => kvm.createVm({ ipaBits: 31 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => kvm.createVm({ ipaBits: 53 }))).toBe('BAD_ARGUMENT');
  });

  it('createVm retries KVM_CREATE_VM on EINTR, a bounded number of times', () => {
    const fake = new FakeKvm();
    const kvm = Kvm.open({ binding: fake });
    const real = fake.ioctl.bind(fake);
    let interrupts = 3;
    fake.ioctl = (fd, request, arg) => {
      if (request === KVM_REQUEST.CREATE_VM && interrupts-- > 0) throw sysErr('EINTR');
      return real(fd, request, arg);
    };
    const vm = kvm.createVm();
    expect(vm.fd).toBeGreaterThan(kvm.fd);
    vm.close();
    interrupts = Infinity;
    const before = fake.fds.size;
    expect(codeOf(() => kvm.createVm())).toBe('EINTR');
    expect(fake.fds.size).toBe(before);
    let einval = 1;
    fake.ioctl = (fd, request, arg) => {
      if (request === KVM_REQUEST.CREATE_VM && einval-- > 0) throw sysErr('EINVAL');
      return real(fd, request, arg);
    };
    expect(codeOf(() => kvm.createVm())).toBe('EINVAL'); // other errnos are not retried
    expect(CREATE_VM_EINTR_RETRIES).toBeGreaterThan(0);
  });

  it('ioctls on a stale fd give EBADF with op set', () => {
    const fake = new FakeKvm();
    const kvm = Kvm.fromRawFd(-2, { binding: fake });
    try {
      kvm.checkExtension(0);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ErrnoError);
      expect((e as ErrnoError).code).toBe('EBADF');
      expect((e as ErrnoError).op).toBe('KVM_CHECK_EXTENSION');
    }
  });
});

describe('KvmVm', () => {
  it('setUserMemoryRegion encodes kvm_userspace_memory_region', () => {
    const { fake, vm } = setup();
    vm.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0x8000_0000n, size: 0x20_0000, userspaceAddr: 0x7f12_3456_0000n, readonly: true });
    expect(fake.calls).toEqual([
      { op: 'KVM_SET_USER_MEMORY_REGION', fd: vm.fd, arg: '01000000' + '02000000' + '0000008000000000' + '0000200000000000' + '00005634127f0000' },
    ]);
    expect(codeOf(() => vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: -1, size: 0, userspaceAddr: 0 }))).toBe('BAD_ARGUMENT');
  });

  it('createVgicV3 + initVgic issue the exact ioctl sequence', () => {
    const { fake, vm } = setup();
    const vcpu = vm.createVcpu(0);
    fake.calls.length = 0;
    const dev = vm.createVgicV3({ distBase: 0x3fff_0000n, redistBase: 0x3ffd_0000, nrIrqs: 128 });
    vm.initVgic();
    expect(fake.calls).toEqual([
      // type VGIC_V3 7; fd 0 in (the kernel writes the new fd back); flags 0
      { op: 'KVM_CREATE_DEVICE', fd: vm.fd, arg: '07000000' + '00000000' + '00000000' },
      // kvm_device_attr { flags 0, group ADDR 0, attr DIST 2, addr → u64 0x3fff0000 }
      { op: 'KVM_SET_DEVICE_ATTR', fd: dev.fd, arg: '00000000' + '00000000' + '0200000000000000' + '0000000000000000', inner: '0000ff3f00000000' },
      { op: 'KVM_SET_DEVICE_ATTR', fd: dev.fd, arg: '00000000' + '00000000' + '0300000000000000' + '0000000000000000', inner: '0000fd3f00000000' },
      // group NR_IRQS 3 → u32 128
      { op: 'KVM_SET_DEVICE_ATTR', fd: dev.fd, arg: '00000000' + '03000000' + '0000000000000000' + '0000000000000000', inner: '80000000' },
      // group CTRL 4, attr INIT 0, no value
      { op: 'KVM_SET_DEVICE_ATTR', fd: dev.fd, arg: '00000000' + '04000000' + '0000000000000000' + '0000000000000000' },
    ]);
    expect(codeOf(() => vm.initVgic())).toBe('BAD_STATE');
    expect(codeOf(() => vm.createVcpu(1))).toBe('BAD_STATE');
    expect(codeOf(() => vm.createVgicV3({ distBase: 0, redistBase: 0x20000, nrIrqs: 64 }))).toBe('BAD_STATE');
    const devFd = dev.fd;
    vcpu.close();
    vm.close();
    expect(fake.closedFds).toContain(devFd);
    expect(dev.closed).toBe(true);
  });

  it('KvmDevice attribute helpers', () => {
    const { fake, vm } = setup();
    const dev = vm.createDevice(7);
    expect(dev.type).toBe(7);
    expect(dev.hasAttr(0, 2)).toBe(true);
    expect(dev.hasAttr(0, 3n)).toBe(false);
    expect(codeOf(() => dev.hasAttr(99, 0))).toBe('EINVAL');
    expect([...dev.getAttr(1, 0x10, 4)]).toEqual([0xab, 0xab, 0xab, 0xab]);
    expect(fake.calls.at(-1)).toEqual({ op: 'KVM_GET_DEVICE_ATTR', fd: dev.fd, arg: '00000000' + '01000000' + '1000000000000000' + '00'.repeat(8), inner: '00000000' }); // recorded on the way in
    expect(codeOf(() => dev.setAttr(-1, 0))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => dev.setAttr(0, -1n))).toBe('BAD_ARGUMENT');
  });

  it('vGIC argument and order checks', () => {
    const { vm } = setup();
    expect(codeOf(() => vm.createVgicV3({ distBase: 0x1000, redistBase: 0x20000, nrIrqs: 64 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => vm.createVgicV3({ distBase: 0, redistBase: 0x20000, nrIrqs: 100 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => vm.createVgicV3({ distBase: 0, redistBase: 0x20000, nrIrqs: 1056 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => vm.initVgic())).toBe('BAD_STATE');
    vm.createVgicV3({ distBase: 0x3fff_0000n, redistBase: 0x3ffe_0000n, nrIrqs: 64 });
    expect(codeOf(() => vm.initVgic())).toBe('BAD_STATE'); // no vCPU yet
    vm.createVcpu(0);
    vm.createVcpu(1); // two redistributors: 0x3ffe0000..0x40020000 overlaps the distributor
    expect(codeOf(() => vm.initVgic())).toBe('BAD_ARGUMENT');
    expect(codeOf(() => vm.createVcpu(1))).toBe('BAD_ARGUMENT');
  });

  it('irqfd and ioeventfd encode their structs', () => {
    const { fake, vm } = setup();
    vm.createVcpu(0);
    vm.createVgicV3({ distBase: 0x3fff_0000n, redistBase: 0x3ffd_0000n, nrIrqs: 64 });
    vm.initVgic();
    fake.calls.length = 0;
    vm.irqfd({ fd: 33, spi: 0 });
    vm.irqfd({ fd: 33, spi: 0, deassign: true });
    vm.irqfd({ fd: 34, spi: 7, resampleFd: 35 });
    vm.ioeventfd({ addr: 0x0a00_0000n, len: 4, fd: 36 });
    vm.ioeventfd({ addr: 0x0a00_0008, len: 8, fd: 37, datamatch: 0x1234n, deassign: true });
    expect(fake.calls).toEqual([
      { op: 'KVM_IRQFD', fd: vm.fd, arg: '21000000' + '00000000' + '00000000' + '00000000' + '00'.repeat(16) },
      { op: 'KVM_IRQFD', fd: vm.fd, arg: '21000000' + '00000000' + '01000000' + '00000000' + '00'.repeat(16) },
      { op: 'KVM_IRQFD', fd: vm.fd, arg: '22000000' + '07000000' + '02000000' + '23000000' + '00'.repeat(16) },
      { op: 'KVM_IOEVENTFD', fd: vm.fd, arg: '00'.repeat(8) + '0000000a00000000' + '04000000' + '24000000' + '00000000' + '00'.repeat(36) },
      { op: 'KVM_IOEVENTFD', fd: vm.fd, arg: '3412000000000000' + '0800000a00000000' + '08000000' + '25000000' + '05000000' + '00'.repeat(36) },
    ]);
    expect(codeOf(() => vm.ioeventfd({ addr: 0, len: 3, fd: 1 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => vm.ioeventfd({ addr: 0, len: 0, fd: 1, datamatch: 1 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => vm.irqfd({ fd: -1, spi: 0 }))).toBe('BAD_ARGUMENT');
  });

  it('irqfd before vGIC init surfaces the kernel errno', () => {
    const { vm } = setup();
    expect(codeOf(() => vm.irqfd({ fd: 3, spi: 0 }))).toBe('EINVAL');
  });

  it('setSmcccFilter probes HAS_DEVICE_ATTR then sets kvm_smccc_filter', () => {
    const { fake, vm } = setup();
    vm.setSmcccFilter({ base: 0x8600_0000, count: 0x1_0000, action: 'forward' });
    vm.setSmcccFilter({ base: 0xc600_0000, count: 0x1_0000, action: 'deny' });
    const attr = '00000000' + '00000000' + '0000000000000000' + '0000000000000000';
    expect(fake.calls).toEqual([
      { op: 'KVM_HAS_DEVICE_ATTR', fd: vm.fd, arg: attr },
      { op: 'KVM_SET_DEVICE_ATTR', fd: vm.fd, arg: attr, inner: '00000086' + '00000100' + '02' + '00'.repeat(15) },
      { op: 'KVM_HAS_DEVICE_ATTR', fd: vm.fd, arg: attr },
      { op: 'KVM_SET_DEVICE_ATTR', fd: vm.fd, arg: attr, inner: '000000c6' + '00000100' + '01' + '00'.repeat(15) },
    ]);
  });

  it('setSmcccFilter validates and reports UNSUPPORTED', () => {
    const { vm } = setup({ smcccFilter: false });
    expect(vm.hasSmcccFilter()).toBe(false);
    expect(codeOf(() => vm.setSmcccFilter({ base: 0x8600_0000, count: 1, action: 'forward' }))).toBe('UNSUPPORTED');
    expect(codeOf(() => vm.setSmcccFilter({ base: 0x8600_0000, count: 0, action: 'forward' }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => vm.setSmcccFilter({ base: 0xffff_ffff, count: 2, action: 'forward' }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => vm.setSmcccFilter({ base: 0, count: 1, action: 'nope' as 'deny' }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => vm.setSmcccFilter({ base: 0, count: 1, action: 'toString' as 'deny' }))).toBe('BAD_ARGUMENT');
  });
});

describe('KvmVcpu', () => {
  it('init uses the preferred target and the PSCI 0.2 feature', () => {
    const { fake, vm } = setup();
    const vcpu = vm.createVcpu(0);
    vcpu.init();
    vcpu.init({ powerOff: true, psci02: false, target: 9 });
    expect(fake.calls.slice(1)).toEqual([
      { op: 'KVM_ARM_PREFERRED_TARGET', fd: vm.fd, arg: '00'.repeat(32) },
      { op: 'KVM_ARM_VCPU_INIT', fd: vcpu.fd, arg: '05000000' + '04000000' + '00'.repeat(24) },
      { op: 'KVM_ARM_VCPU_INIT', fd: vcpu.fd, arg: '09000000' + '01000000' + '00'.repeat(24) },
    ]);
    const borrowed = KvmVcpu.fromRawFd(vcpu.fd, { mmapSize: 8192, binding: fake, owned: false });
    expect(codeOf(() => borrowed.init())).toBe('BAD_STATE');
    borrowed.close();
    expect(fake.fds.has(vcpu.fd)).toBe(true); // not owned: not closed
  });

  it('get/set registers through kvm_one_reg pointers', () => {
    const { fake, vm } = setup();
    const vcpu = vm.createVcpu(0);
    fake.calls.length = 0;
    vcpu.setPc(0x8000_0000n);
    vcpu.setX(3, 0x1122_3344_5566_7788n);
    expect(vcpu.getPc()).toBe(0x8000_0000n);
    expect(vcpu.getX(3)).toBe(0x1122_3344_5566_7788n);
    expect(fake.calls[0]).toEqual({ op: 'KVM_SET_ONE_REG', fd: vcpu.fd, arg: '4000100000003060' + '00'.repeat(8), inner: '0000008000000000' });
    expect(fake.calls[1]).toEqual({ op: 'KVM_SET_ONE_REG', fd: vcpu.fd, arg: '0600100000003060' + '00'.repeat(8), inner: '8877665544332211' });
    expect(fake.calls[2]?.op).toBe('KVM_GET_ONE_REG');
    expect(codeOf(() => vcpu.setReg(xReg(0), 1n << 64n))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => vcpu.setReg(xReg(0), -1n))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => vcpu.setX(31, 0))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => vcpu.getReg(0x60f0_0000_0000_0000n))).toBe('BAD_ARGUMENT');
    vcpu.completeHypercall([1, 2n, 3, 4]);
    expect([0, 1, 2, 3].map((n) => vcpu.getX(n))).toEqual([1n, 2n, 3n, 4n]);
    expect(codeOf(() => vcpu.completeHypercall(new Array(19).fill(0)))).toBe('BAD_ARGUMENT');
    expect(ARM64_CORE_REG.PC).toBe(0x6030000000100040n);
  });

  it('run decodes exits and completes MMIO reads into the run page', () => {
    const { fake, vm } = setup();
    const vcpu = vm.createVcpu(0);
    fake.runScripts.push(
      (p) => {
        p.setUint32(8, KVM_EXIT.MMIO, true);
        p.setBigUint64(32, 0x0900_0000n, true);
        p.setBigUint64(40, 0x42n, true);
        p.setUint32(48, 8, true);
        p.setUint8(52, 1);
      },
      (p) => {
        p.setUint32(8, KVM_EXIT.MMIO, true);
        p.setBigUint64(32, 0x0900_0000n, true);
        p.setBigUint64(40, 0xdeadn, true); // stale bytes the kernel leaves: must be overwritten
        p.setUint32(48, 2, true);
        p.setUint8(52, 0);
      },
      (p) => {
        // the "kernel" sees the completed data
        expect(p.getBigUint64(40, true)).toBe(0x11n);
        p.setUint32(8, KVM_EXIT.SYSTEM_EVENT, true);
        p.setUint32(32, 1, true);
        p.setUint32(36, 1, true);
        p.setBigUint64(40, 0n, true);
      },
      () => 'EINTR',
    );
    expect(codeOf(() => vcpu.completeMmioRead(1))).toBe('BAD_STATE');
    expect(vcpu.run()).toEqual({ kind: 'mmio', addr: 0x0900_0000n, len: 8, isWrite: true, data: 0x42n });
    expect(codeOf(() => vcpu.completeMmioRead(1))).toBe('BAD_STATE');
    expect(vcpu.run()).toEqual({ kind: 'mmio', addr: 0x0900_0000n, len: 2, isWrite: false, data: 0n });
    expect(codeOf(() => vcpu.completeMmioRead(0x10000))).toBe('BAD_ARGUMENT');
    vcpu.completeMmioRead(0x11);
    expect(codeOf(() => vcpu.completeMmioRead(0x11))).toBe('BAD_STATE');
    expect(vcpu.run()).toEqual({ kind: 'system-event', event: 'shutdown', type: 1, data: [0n] });
    expect(vcpu.run()).toEqual({ kind: 'interrupted' });
    // immediate_exit: the run returns interrupted at once and stays set until cleared
    vcpu.runView().immediateExit = 1;
    expect(vcpu.run()).toEqual({ kind: 'interrupted' });
    expect(vcpu.runView().immediateExit).toBe(1);
    expect(new DataView(vcpu.runView().buffer).getUint8(KVM_RUN_OFFSET.IMMEDIATE_EXIT)).toBe(1);
    const page = vcpu.runView().buffer;
    vcpu.close();
    expect(fake.unmapped).toEqual([page]);
    expect(codeOf(() => vcpu.run())).toBe('CLOSED');
  });

  it('close still closes the fd when unmapping the run page fails', () => {
    const { fake, vm } = setup();
    const vcpu = vm.createVcpu(0);
    vcpu.runView();
    fake.munmap = () => {
      throw new TypeError('boom');
    };
    const fd = vcpu.fd;
    expect(() => vcpu.close()).toThrow(TypeError);
    expect(vcpu.closed).toBe(true);
    expect(fake.closedFds).toContain(fd);
  });

  it('run surfaces other errnos', () => {
    const { fake, vm } = setup();
    const vcpu = vm.createVcpu(0);
    fake.runScripts.push(() => {
      throw sysErr('EINVAL');
    });
    expect(codeOf(() => vcpu.run())).toBe('EINVAL');
  });

  it('fromRawFd validates the mmap size', () => {
    expect(codeOf(() => KvmVcpu.fromRawFd(3, { mmapSize: 0, binding: new FakeKvm() }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => KvmVm.fromRawFd(3, { vcpuMmapSize: -1, binding: new FakeKvm() }))).toBe('BAD_ARGUMENT');
  });

  it('supports using-declarations', () => {
    const fake = new FakeKvm();
    {
      using kvm = Kvm.open({ binding: fake });
      using vm = kvm.createVm();
      using vcpu = vm.createVcpu(0);
      expect(vcpu.id).toBe(0);
    }
    expect(fake.fds.size).toBe(0);
  });
});

describe('EBADF sweep: every method on fd -2 fails with EBADF', () => {
  const fake = new FakeKvm();
  const kvm = Kvm.fromRawFd(-2, { binding: fake });
  const vm = KvmVm.fromRawFd(-2, { binding: fake, vcpuMmapSize: 8192 });
  const vcpu = KvmVcpu.fromRawFd(-2, { binding: fake, mmapSize: 8192 });
  const calls: [string, () => unknown][] = [
    ['kvm.apiVersion', () => kvm.apiVersion()],
    ['kvm.checkExtension', () => kvm.checkExtension(0)],
    ['kvm.vcpuMmapSize', () => kvm.vcpuMmapSize()],
    ['kvm.createVm', () => kvm.createVm()],
    ['vm.checkExtension', () => vm.checkExtension(0)],
    ['vm.setUserMemoryRegion', () => vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, size: 4096, userspaceAddr: 0 })],
    ['vm.preferredTarget', () => vm.preferredTarget()],
    ['vm.createVcpu', () => vm.createVcpu(0)],
    ['vm.createDevice', () => vm.createDevice(7)],
    ['vm.createVgicV3', () => vm.createVgicV3({ distBase: 0, redistBase: 0x20000, nrIrqs: 64 })],
    ['vm.irqfd', () => vm.irqfd({ fd: 3, spi: 0 })],
    ['vm.ioeventfd', () => vm.ioeventfd({ addr: 0, len: 4, fd: 3 })],
    ['vm.hasSmcccFilter', () => vm.hasSmcccFilter()],
    ['vm.setSmcccFilter', () => vm.setSmcccFilter({ base: 0x86000000, count: 1, action: 'forward' })],
    ['vcpu.init', () => vcpu.init({ target: 0 })],
    ['vcpu.getReg', () => vcpu.getPc()],
    ['vcpu.setReg', () => vcpu.setX(0, 1)],
    ['vcpu.runView', () => vcpu.runView()],
    ['vcpu.run', () => vcpu.run()],
  ];
  it.each(calls)('%s', (_name, f) => {
    expect(codeOf(f)).toBe('EBADF');
  });
});
