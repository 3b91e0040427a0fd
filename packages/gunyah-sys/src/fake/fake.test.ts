import { describe, expect, it } from 'vitest';
import { ErrnoError } from '../errno.js';
import { GUNYAH_IOCTLS as I, MEM_FLAGS_B, type GunyahVariant } from '../uapi/constants.js';
import { VcpuRunPage } from '../uapi/run-page.js';
import {
  CreateMemArgs,
  FnDesc,
  FnIoeventfdArg,
  FnIrqfdArg,
  FnVcpuArg,
  MapMemArgs,
  UserspaceMemoryRegion,
  VmBootContext,
  VmDtbConfig,
  VmFirmwareConfig,
} from '../uapi/structs.js';
import { GUNYAH_RULES, createFakeGunyah, type FakeGunyah } from './index.js';

const PS = 4096;
const u8 = (dv: DataView): Uint8Array => new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ErrnoError) return e.code;
    throw e;
  }
  return 'OK';
}

interface H {
  fake: FakeGunyah;
  dev: number;
  vm: number;
  ram: ArrayBuffer;
  ramAddr: bigint;
  gmem: number;
}

/** A device, a VM, and (A/C) a mapped 64 KiB memfd or (B) a 64 KiB guest_memfd. */
function setup(variant: GunyahVariant, cPlus = false): H {
  const fake = createFakeGunyah({ variant, cPlus });
  const dev = fake.open('/dev/gunyah', 2);
  const vm = fake.ioctl(dev, I.CREATE_VM.request, 0);
  let gmem = -1;
  let ram: ArrayBuffer;
  if (variant === 'B') {
    gmem = fake.ioctl(dev, I.CREATE_GUEST_MEM.request, u8(CreateMemArgs.encode({ flags: 1, size: 0x10000 })));
    ram = new ArrayBuffer(0);
  } else {
    const m = fake.memfdCreate('ram', 1);
    fake.ftruncate(m, 0x10000);
    ram = fake.mmap(m, 0x10000, 3, 1, 0);
  }
  return { fake, dev, vm, ram, ramAddr: variant === 'B' ? 0n : fake.addressOf(ram), gmem };
}

const region = (h: H, o: Partial<{ label: number; flags: number; gpa: bigint; size: bigint; uaddr: bigint }> = {}): Uint8Array =>
  u8(
    UserspaceMemoryRegion.encode({
      label: o.label ?? 0,
      flags: o.flags ?? 7,
      guestPhysAddr: o.gpa ?? 0x8000_0000n,
      memorySize: o.size ?? 0x10000n,
      userspaceAddr: o.uaddr ?? h.ramAddr,
    }),
  );

function addMemory(h: H, gpa = 0x8000_0000n): void {
  if (h.fake.variant === 'B') {
    h.fake.ioctl(h.vm, I.MAP_MEM.request, u8(MapMemArgs.encode({ guestAddr: gpa, flags: 0x71, guestMemFd: h.gmem, offset: 0, size: 0x10000 })));
  } else {
    h.fake.ioctl(h.vm, I.SET_USER_MEM_REGION.request, region(h, { gpa }));
  }
}

const dtb = (h: H, gpa: bigint, size: bigint): number => h.fake.ioctl(h.vm, I.SET_DTB_CONFIG.request, u8(VmDtbConfig.encode({ guestPhysAddr: gpa, size })));
const start = (h: H): string => code(() => h.fake.ioctl(h.vm, I.VM_START.request));

function fn(h: H, req: 'ADD_FUNCTION' | 'REMOVE_FUNCTION', type: number, arg: Uint8Array): number {
  return h.fake.ioctlWithPtrs(h.vm, I[req].request, u8(FnDesc.encode({ type, argSize: arg.length, arg: 0 })), [{ offset: 8, buffer: arg }]);
}
const vcpuArg = (id: number): Uint8Array => u8(FnVcpuArg.encode({ id }));
const irqArg = (fd: number, label: number, flags = 0): Uint8Array => u8(FnIrqfdArg.encode({ fd, label, flags }));
const ioeArg = (fd: number, addr: bigint, len: number, datamatch?: bigint): Uint8Array =>
  u8(FnIoeventfdArg.encode({ datamatch: datamatch ?? 0n, addr, len, fd, flags: datamatch === undefined ? 0 : 1 }));

function ready(h: H): void {
  addMemory(h);
  dtb(h, 0x8000_0000n, BigInt(PS));
}

describe.each(['A', 'B', 'C'] as const)('fake variant %s: common rules', (variant) => {
  it('CREATE_VM needs arg 0; unknown device ioctls are ENOTTY; only /dev/gunyah opens', () => {
    const h = setup(variant);
    expect(code(() => h.fake.ioctl(h.dev, I.CREATE_VM.request, 1))).toBe('EINVAL');
    expect(code(() => h.fake.ioctl(h.dev, I.VM_START.request))).toBe('ENOTTY');
    expect(code(() => h.fake.ioctl(h.vm, 0x4799))).toBe('ENOTTY');
    expect(code(() => h.fake.open('/dev/kvm', 2))).toBe('ENOENT');
    expect(code(() => h.fake.ioctl(-2, I.VM_START.request))).toBe('EBADF');
  });

  it('variant gate: ioctls the variant lacks are ENOTTY', () => {
    const h = setup(variant);
    const expectAvail = (name: keyof typeof I, arg: Uint8Array | number): void => {
      const r = code(() => h.fake.ioctl(h.vm, I[name].request, arg));
      if (I[name].availability.includes(variant)) expect(r).not.toBe('ENOTTY');
      else expect(r).toBe('ENOTTY');
    };
    expectAvail('SET_USER_MEM_REGION', new Uint8Array(32));
    expectAvail('ANDROID_LEND_USER_MEM', new Uint8Array(32));
    expectAvail('MAP_MEM', new Uint8Array(32));
    expectAvail('SET_BOOT_CONTEXT', u8(VmBootContext.encode({ reg: 0xff00, value: 1 })));
    expectAvail('ANDROID_SET_FW_CONFIG', new Uint8Array(16));
    expectAvail('RECLAIM_REGION', new Uint8Array(16));
    expectAvail('CHECK_EXTENSION', 0);
    expectAvail('ANDROID_TENTATIVE_UAPI', 0);
    expect(code(() => h.fake.ioctl(h.dev, I.CREATE_GUEST_MEM.request, u8(CreateMemArgs.encode({ flags: 0, size: PS }))))).toBe(variant === 'B' ? 'OK' : 'ENOTTY');
  });

  it('SET_DTB_CONFIG: overflow is EOVERFLOW, a short buffer EFAULT, last call wins', () => {
    const h = setup(variant);
    expect(code(() => dtb(h, 2n ** 64n - 4096n, 8192n))).toBe('EOVERFLOW');
    expect(code(() => h.fake.ioctl(h.vm, I.SET_DTB_CONFIG.request, new Uint8Array(8)))).toBe('EFAULT');
    expect(code(() => h.fake.ioctl(h.vm, I.SET_DTB_CONFIG.request, 0x1234))).toBe('EFAULT');
    dtb(h, 0x1000n, 0x1000n);
    dtb(h, 0x8000_0000n, 0x1000n);
    expect(h.fake.vm(h.vm).dtbConfig).toEqual({ guestPhysAddr: 0x8000_0000n, size: 0x1000n });
  });

  it('DTB config outside any region fails at start with the variant errno; the failure is terminal', () => {
    const h = setup(variant);
    addMemory(h);
    dtb(h, 0x4000_0000n, BigInt(PS));
    expect(start(h)).toBe(GUNYAH_RULES[variant].dtbRule.errno);
    dtb(h, 0x8000_0000n, BigInt(PS));
    expect(start(h)).toBe('ENODEV');
  });

  it('start is idempotent while running; functions after start are accepted; unknown vcpu id → ENOENT', () => {
    const h = setup(variant);
    ready(h);
    expect(start(h)).toBe('OK');
    expect(start(h)).toBe('OK');
    const v = fn(h, 'ADD_FUNCTION', 1, vcpuArg(0));
    expect(v).toBeGreaterThan(0);
    const e = h.fake.eventfd(0, 0);
    expect(fn(h, 'ADD_FUNCTION', 2, irqArg(e, 7))).toBe(0);
    expect(code(() => fn(h, 'REMOVE_FUNCTION', 1, vcpuArg(9)))).toBe('ENOENT');
    fn(h, 'REMOVE_FUNCTION', 1, vcpuArg(0));
    expect(code(() => h.fake.ioctl(v, I.VCPU_RUN.request))).toBe('ENODEV');
  });

  it('ADD_FUNCTION generic checks: arg_size > 256, unknown type, bad pointer', () => {
    const h = setup(variant);
    expect(code(() => fn(h, 'ADD_FUNCTION', 1, new Uint8Array(257)))).toBe('EINVAL');
    expect(code(() => fn(h, 'ADD_FUNCTION', 9, new Uint8Array(4)))).toBe('ENOENT');
    expect(code(() => fn(h, 'ADD_FUNCTION', 1, new Uint8Array(8)))).toBe('EINVAL');
    const desc = u8(FnDesc.encode({ type: 1, argSize: 4, arg: 0xdead000n }));
    expect(code(() => h.fake.ioctl(h.vm, I.ADD_FUNCTION.request, desc))).toBe('EFAULT');
  });

  it('vCPUs: duplicate id EEXIST, RUN before start ENODEV, MMAP_SIZE = page size, unknown vCPU ioctl errno', () => {
    const h = setup(variant);
    const v = fn(h, 'ADD_FUNCTION', 1, vcpuArg(0));
    expect(code(() => fn(h, 'ADD_FUNCTION', 1, vcpuArg(0)))).toBe('EEXIST');
    expect(h.fake.ioctl(v, I.VCPU_MMAP_SIZE.request)).toBe(PS);
    expect(code(() => h.fake.ioctl(v, I.VCPU_RUN.request))).toBe('ENODEV');
    expect(code(() => h.fake.ioctl(v, I.VM_START.request))).toBe(GUNYAH_RULES[variant].unknownVcpuIoctlErrno);
  });

  it('irqfd: flags, EBADF, not an eventfd, duplicate label; doorbells only after start', () => {
    const h = setup(variant);
    ready(h);
    const e = h.fake.eventfd(0, 0);
    const notEvent = h.fake.memfdCreate('x', 1);
    expect(code(() => fn(h, 'ADD_FUNCTION', 2, irqArg(e, 1, 2)))).toBe('EINVAL');
    expect(code(() => fn(h, 'ADD_FUNCTION', 2, irqArg(999, 1)))).toBe('EBADF');
    expect(code(() => fn(h, 'ADD_FUNCTION', 2, irqArg(notEvent, 1)))).toBe('EINVAL');
    fn(h, 'ADD_FUNCTION', 2, irqArg(e, 1, 1));
    expect(code(() => fn(h, 'ADD_FUNCTION', 2, irqArg(h.fake.eventfd(0, 0), 1)))).toBe('EEXIST');
    h.fake.write(e, new BigUint64Array([1n]));
    expect(h.fake.vm(h.vm).droppedDoorbells).toBe(1);
    start(h);
    h.fake.write(e, new BigUint64Array([1n]));
    expect(h.fake.vm(h.vm).doorbells.get(1)).toBe(1);
    fn(h, 'REMOVE_FUNCTION', 2, irqArg(0, 1));
    expect(code(() => fn(h, 'REMOVE_FUNCTION', 2, irqArg(0, 1)))).toBe('ENOENT');
  });

  it('ioeventfd: len, overflow, datamatch with len 0, conflicts, removal matching per variant', () => {
    const h = setup(variant);
    const e = h.fake.eventfd(0, 0);
    expect(code(() => fn(h, 'ADD_FUNCTION', 3, ioeArg(e, 0x9000n, 3)))).toBe('EINVAL');
    expect(code(() => fn(h, 'ADD_FUNCTION', 3, ioeArg(e, 2n ** 64n - 4n, 4)))).toBe('EINVAL');
    expect(code(() => fn(h, 'ADD_FUNCTION', 3, ioeArg(e, 0x9000n, 0, 1n)))).toBe('EINVAL');
    expect(code(() => fn(h, 'ADD_FUNCTION', 3, u8(FnIoeventfdArg.encode({ datamatch: 0, addr: 0x9000n, len: 4, fd: e, flags: 2 }))))).toBe('EINVAL');
    expect(code(() => fn(h, 'ADD_FUNCTION', 3, ioeArg(-1, 0x9000n, 4)))).toBe('EBADF');
    fn(h, 'ADD_FUNCTION', 3, ioeArg(e, 0x9000n, 4, 1n));
    fn(h, 'ADD_FUNCTION', 3, ioeArg(e, 0x9000n, 4, 2n));
    expect(code(() => fn(h, 'ADD_FUNCTION', 3, ioeArg(e, 0x9000n, 4, 2n)))).toBe('EEXIST');
    expect(code(() => fn(h, 'ADD_FUNCTION', 3, ioeArg(e, 0x9000n, 4)))).toBe('EEXIST'); // non-datamatch vs datamatch
    // crosvm's pitfall (spec §10): removing by address only
    const r = code(() => fn(h, 'REMOVE_FUNCTION', 3, ioeArg(0, 0x9000n, 0)));
    if (variant === 'A') {
      expect(r).toBe('OK');
      expect(h.fake.vm(h.vm).ioeventfds).toHaveLength(0);
    } else {
      expect(r).toBe('ENOENT');
      fn(h, 'REMOVE_FUNCTION', 3, ioeArg(e, 0x9000n, 4, 1n));
      expect(h.fake.vm(h.vm).ioeventfds).toHaveLength(1);
    }
  });

  it('REMOVE_FUNCTION with arg_size 0 (A returns 0, B/C ENOENT)', () => {
    const h = setup(variant);
    const desc = u8(FnDesc.encode({ type: 1, argSize: 0, arg: 0 }));
    expect(code(() => h.fake.ioctl(h.vm, I.REMOVE_FUNCTION.request, desc))).toBe(variant === 'A' ? 'OK' : 'ENOENT');
  });

  it('runs a scripted guest: MMIO write, read completion, ioeventfd match, power-off status', () => {
    const h = setup(variant);
    ready(h);
    const v = fn(h, 'ADD_FUNCTION', 1, vcpuArg(0));
    const e = h.fake.eventfd(0, 0);
    fn(h, 'ADD_FUNCTION', 3, ioeArg(e, 0xa000n, 4, 5n));
    start(h);
    const model = h.fake.vm(h.vm);
    model.script(
      0,
      { kind: 'mmio', addr: 0xa000n, len: 4, isWrite: true, data: 5n }, // consumed by the ioeventfd
      { kind: 'mmio', addr: 0x9000n, len: 1, isWrite: true, data: 0x41n },
      { kind: 'mmio', addr: 0x9018n, len: 4, isWrite: false },
    );
    const page = new VcpuRunPage(h.fake.mmap(v, PS, 3, 1, 0), variant);
    h.fake.ioctl(v, I.VCPU_RUN.request);
    expect(h.fake.eventfdCounter(e)).toBe(1n);
    expect(page.decode()).toEqual({ kind: 'mmio', addr: 0x9000n, len: 1, isWrite: true, data: 0x41n });
    h.fake.ioctl(v, I.VCPU_RUN.request);
    expect(page.decode()).toMatchObject({ kind: 'mmio', addr: 0x9018n, isWrite: false });
    page.setMmioData(0xcafe);
    h.fake.ioctl(v, I.VCPU_RUN.request);
    expect(model.completions.at(-1)).toMatchObject({ addr: 0x9018n, action: 'handled', data: 0xcafen });
    expect(page.decode()).toMatchObject({ kind: 'shutdown', status: 2, exitType: 1 });
    expect(h.fake.ioctl(v, I.VCPU_RUN.request)).toBe(0); // terminal: returns 0 again
    expect(start(h)).toBe('ENODEV'); // exited VM
    page.immediateExit = 1;
    expect(code(() => h.fake.ioctl(v, I.VCPU_RUN.request))).toBe('EINTR');
  });

  it('closing every fd tears the VM down; closed fds are EBADF', () => {
    const h = setup(variant);
    const v = fn(h, 'ADD_FUNCTION', 1, vcpuArg(0));
    h.fake.close(h.vm);
    expect(h.fake.models).toHaveLength(1);
    h.fake.close(v);
    expect(h.fake.models).toHaveLength(0);
    expect(code(() => h.fake.close(v))).toBe('EBADF');
    expect(h.fake.log.at(-1)?.error).toBe('EBADF');
  });
});

describe.each(['A', 'C'] as const)('fake variant %s: user memory (spec §5.1, §5.2)', (variant) => {
  it('flags, alignment, size 0, overflow, overlap', () => {
    const h = setup(variant);
    const set = (a: Uint8Array): string => code(() => h.fake.ioctl(h.vm, I.SET_USER_MEM_REGION.request, a));
    expect(set(region(h, { flags: 8 }))).toBe('EINVAL');
    expect(set(region(h, { size: 0n }))).toBe('EINVAL');
    expect(set(region(h, { gpa: 0x8000_0800n }))).toBe('EINVAL');
    expect(set(region(h, { uaddr: h.ramAddr + 8n }))).toBe('EINVAL');
    expect(set(region(h, { gpa: 2n ** 64n - 0x1000n, size: 0x2000n }))).toBe('EOVERFLOW');
    expect(set(region(h))).toBe('OK');
    expect(set(region(h, { label: 1, gpa: 0x8000_8000n, size: 0x10000n }))).toBe('EEXIST');
    expect(code(() => h.fake.ioctl(h.vm, I.ANDROID_LEND_USER_MEM.request, region(h, { label: 2, gpa: 0x7fff_f000n, size: 0x2000n })))).toBe('EEXIST');
  });

  it(`labels: ${variant === 'A' ? 'duplicates are EEXIST' : 'not checked'}`, () => {
    const h = setup(variant);
    h.fake.ioctl(h.vm, I.SET_USER_MEM_REGION.request, region(h, { size: 0x8000n }));
    const r = code(() => h.fake.ioctl(h.vm, I.SET_USER_MEM_REGION.request, region(h, { gpa: 0x9000_0000n, size: 0x8000n, uaddr: h.ramAddr + 0x8000n })));
    expect(r).toBe(variant === 'A' ? 'EEXIST' : 'OK');
  });

  it(`unmapped host memory: ${variant === 'A' ? 'EFAULT at ioctl (pinned)' : 'accepted, EFAULT at start for the DTB'}`, () => {
    const h = setup(variant);
    const r = code(() => h.fake.ioctl(h.vm, I.SET_USER_MEM_REGION.request, region(h, { uaddr: 0x1000_0000n })));
    if (variant === 'A') expect(r).toBe('EFAULT');
    else {
      expect(r).toBe('OK');
      dtb(h, 0x8000_0000n, BigInt(PS));
      expect(start(h)).toBe('EFAULT');
    }
  });

  it('firmware config must lie in memory at start', () => {
    const h = setup(variant);
    ready(h);
    h.fake.ioctl(h.vm, I.ANDROID_SET_FW_CONFIG.request, u8(VmFirmwareConfig.encode({ guestPhysAddr: 0x1000n, size: 0x1000n })));
    expect(h.fake.vm(h.vm).auth).toBe('pvm');
    expect(start(h)).toBe(variant === 'A' ? 'EINVAL' : 'ENOENT');
  });

  it('start records the DTB bytes read through the host mapping', () => {
    const h = setup(variant);
    new Uint8Array(h.ram).set([0xd0, 0x0d, 0xfe, 0xed], 0x1000);
    addMemory(h);
    dtb(h, 0x8000_1000n, BigInt(PS));
    expect(start(h)).toBe('OK');
    expect([...(h.fake.vm(h.vm).started?.dtb?.subarray(0, 4) ?? [])]).toEqual([0xd0, 0x0d, 0xfe, 0xed]);
  });
});

describe('fake variant A specifics', () => {
  it('DTB must start inside a region; size is not checked', () => {
    const h = setup('A');
    addMemory(h);
    dtb(h, 0x7fff_f000n, 0x2000n); // overlaps the region but starts before it
    expect(start(h)).toBe('EINVAL');
    const h2 = setup('A');
    addMemory(h2);
    dtb(h2, 0x8000_0000n, 16n);
    expect(start(h2)).toBe('OK');
  });
});

describe.each(['B', 'C'] as const)('fake variant %s: boot context, DTB size, resume actions, page faults', (variant) => {
  it('boot context: register validation, refused after start', () => {
    const h = setup(variant);
    const set = (reg: number, value = 0x1234n): string => code(() => h.fake.ioctl(h.vm, I.SET_BOOT_CONTEXT.request, u8(VmBootContext.encode({ reg, value }))));
    expect(set(0x001f)).toBe('OK');
    expect(set(0x0020)).toBe('EINVAL');
    expect(set(0x0100)).toBe('OK');
    expect(set(0x0101)).toBe('EINVAL');
    expect(set(0x0202)).toBe('OK');
    expect(set(0x0203)).toBe('EINVAL');
    expect(set(0x0300)).toBe('EINVAL');
    ready(h);
    start(h);
    expect(set(0x0100)).toBe('EINVAL');
  });

  it('DTB size below one page is EINVAL at start', () => {
    const h = setup(variant);
    addMemory(h);
    dtb(h, 0x8000_0000n, 0x800n);
    expect(start(h)).toBe('EINVAL');
  });

  it(`MMIO resume_action: max ${GUNYAH_RULES[variant].maxMmioResumeAction}, else EINVAL and still pending`, () => {
    const h = setup(variant);
    ready(h);
    const v = fn(h, 'ADD_FUNCTION', 1, vcpuArg(0));
    start(h);
    h.fake.vm(h.vm).script(0, { kind: 'mmio', addr: 0x9000n, len: 4, isWrite: false });
    const page = new VcpuRunPage(h.fake.mmap(v, PS, 3, 1, 0), variant);
    h.fake.ioctl(v, I.VCPU_RUN.request);
    expect(page.mmioResumeAction).toBe(0);
    page.mmioResumeAction = 2;
    expect(code(() => h.fake.ioctl(v, I.VCPU_RUN.request))).toBe(variant === 'B' ? 'OK' : 'EINVAL');
    if (variant === 'C') {
      page.mmioResumeAction = 3;
      expect(code(() => h.fake.ioctl(v, I.VCPU_RUN.request))).toBe('EINVAL');
      page.mmioResumeAction = 1;
      h.fake.ioctl(v, I.VCPU_RUN.request);
      expect(h.fake.vm(h.vm).completions.at(-1)?.action).toBe('fault');
    } else {
      expect(h.fake.vm(h.vm).completions.at(-1)?.action).toBe('retry');
    }
  });

  it('page faults: resolved silently inside memory, exit 3 with -ENOENT outside', () => {
    const h = setup(variant);
    ready(h);
    const v = fn(h, 'ADD_FUNCTION', 1, vcpuArg(0));
    start(h);
    h.fake.vm(h.vm).script(0, { kind: 'page-fault', addr: 0x8000_2000n }, { kind: 'page-fault', addr: 0x1000n });
    const page = new VcpuRunPage(h.fake.mmap(v, PS, 3, 1, 0), variant);
    h.fake.ioctl(v, I.VCPU_RUN.request);
    expect(page.decode()).toEqual({ kind: 'page-fault', addr: 0x1000n, attempt: -2 });
    expect(page.pageFaultResumeAction).toBe(1);
  });
});

describe('fake variant A: no page faults in scripts', () => {
  it('refuses a page-fault script step', () => {
    const h = setup('A');
    fn(h, 'ADD_FUNCTION', 1, vcpuArg(0));
    expect(() => h.fake.vm(h.vm).script(0, { kind: 'page-fault', addr: 0n })).toThrow(RangeError);
  });
});

describe('fake variant B: guest_memfd (spec §6.5)', () => {
  it('CREATE_GUEST_MEM: alignment and flags', () => {
    const h = setup('B');
    const create = (flags: number, size: number): string => code(() => h.fake.ioctl(h.dev, I.CREATE_GUEST_MEM.request, u8(CreateMemArgs.encode({ flags, size }))));
    expect(create(0, 100)).toBe('EINVAL');
    expect(create(8, PS)).toBe('EINVAL');
    expect(create(3, 0)).toBe('OK');
  });

  it('MAP_MEM: fd, flags, permission, access type, alignment, double binding, overlap, unmap', () => {
    const h = setup('B');
    const map = (o: Partial<{ gpa: bigint; flags: number; fd: number; off: bigint; size: bigint }>): string =>
      code(() =>
        h.fake.ioctl(
          h.vm,
          I.MAP_MEM.request,
          u8(MapMemArgs.encode({ guestAddr: o.gpa ?? 0x8000_0000n, flags: o.flags ?? 0x71, guestMemFd: o.fd ?? h.gmem, offset: o.off ?? 0n, size: o.size ?? 0x8000n })),
        ),
      );
    expect(map({ fd: h.fake.eventfd(0, 0) })).toBe('EINVAL');
    expect(map({ flags: 0x271 })).toBe('EINVAL');
    expect(map({ flags: 0x01 })).toBe('EINVAL');
    expect(map({ flags: 0x73 })).toBe('EINVAL');
    expect(map({ gpa: 0x8000_0800n })).toBe('EINVAL');
    expect(map({})).toBe('OK');
    expect(map({ gpa: 0x9000_0000n })).toBe('EEXIST'); // same memfd range bound again
    expect(map({ off: 0x8000n, gpa: 0x8000_4000n })).toBe('EEXIST'); // IPA overlap
    expect(map({ flags: 0x71 | MEM_FLAGS_B.UNMAP, gpa: 0x8000_2000n, off: 0x2000n, size: 0x1000n })).toBe('EINVAL'); // hole
    expect(map({ flags: 0x72 | MEM_FLAGS_B.UNMAP, size: 0x1000n })).toBe('ENOENT'); // other flags
    expect(map({ flags: 0x71 | MEM_FLAGS_B.UNMAP, size: 0x1000n })).toBe('OK'); // trim the front
    expect(h.fake.vm(h.vm).bindings[0]).toMatchObject({ guestAddr: 0x8000_1000n, offset: 0x1000n, size: 0x7000n });
    expect(map({ gpa: 0xa000_0000n, size: 0x1000n })).toBe('OK'); // the freed range can be bound again
  });

  it('lent DTB pages still mapped by the host: EPERM at start', () => {
    const h = setup('B');
    ready(h);
    const mapping = h.fake.mmap(h.gmem, 0x10000, 3, 1, 0);
    expect(start(h)).toBe('EPERM');
    h.fake.munmap(mapping);
    expect(mapping.byteLength).toBe(0); // detached
  });

  it('the XArray quirk (derived, spec §5.5): value 0 dropped, small 0b10 values refused', () => {
    const h = setup('B');
    const set = (value: bigint): string => code(() => h.fake.ioctl(h.vm, I.SET_BOOT_CONTEXT.request, u8(VmBootContext.encode({ reg: 0x100, value }))));
    expect(set(0x8000_0000n)).toBe('OK');
    expect(set(0n)).toBe('OK');
    expect(h.fake.vm(h.vm).bootContext.has(0x100)).toBe(false);
    expect(set(6n)).toBe('EINVAL');
    expect(set(1030n)).toBe('OK');
  });
});

describe('fake variant C+', () => {
  it('CHECK_EXTENSION, RECLAIM alignment, duplicate vCPU accepted but unusable, boot-context high bits', () => {
    const h = setup('C', true);
    expect(h.fake.ioctl(h.vm, I.CHECK_EXTENSION.request, 0)).toBe(1);
    expect(h.fake.ioctl(h.vm, I.CHECK_EXTENSION.request, 5)).toBe(0);
    const rr = new Uint8Array(16);
    rr[0] = 1;
    expect(code(() => h.fake.ioctl(h.vm, I.RECLAIM_REGION.request, rr))).toBe('EINVAL');
    fn(h, 'ADD_FUNCTION', 1, vcpuArg(0));
    const dup = fn(h, 'ADD_FUNCTION', 1, vcpuArg(0));
    ready(h);
    start(h);
    expect(code(() => h.fake.ioctl(dup, I.VCPU_RUN.request))).toBe('ENODEV');
    expect(code(() => h.fake.ioctl(h.vm, I.SET_BOOT_CONTEXT.request, u8(VmBootContext.encode({ reg: 0x10100, value: 1 }))))).toBe('EINVAL');
  });

  it('RM refusal at start (field report §11.2) is terminal; vCPUs get ENODEV', () => {
    const h = setup('C', true);
    ready(h);
    const v = fn(h, 'ADD_FUNCTION', 1, vcpuArg(0));
    h.fake.vm(h.vm).rmStartError = { errno: 'ENODEV', initFailed: false };
    expect(start(h)).toBe('ENODEV');
    expect(code(() => h.fake.ioctl(v, I.VCPU_RUN.request))).toBe('ENODEV');
  });
});

describe('fake kernel services', () => {
  it('eventfd semantics, memfd read/write through mappings, stable addresses', () => {
    const fake = createFakeGunyah({ variant: 'C' });
    const e = fake.eventfd(2, 1); // semaphore
    const out = new BigUint64Array(1);
    fake.read(e, out);
    expect(out[0]).toBe(1n);
    fake.read(e, out);
    expect(code(() => fake.read(e, out))).toBe('EAGAIN');
    expect(fake.poll(e, 1, 0)).toBe(0);
    fake.write(e, new BigUint64Array([3n]));
    expect(fake.poll(e, 1, 0)).toBe(1);
    const m = fake.memfdCreate('m', 1);
    fake.ftruncate(m, 0x4000);
    fake.pwrite(m, new Uint8Array([1, 2, 3]), 0x1ffe);
    const map = fake.mmap(m, 0x1000, 3, 1, 0x1000);
    expect([...new Uint8Array(map, 0xffe, 2)]).toEqual([1, 2]);
    new Uint8Array(map)[0] = 9;
    const back = new Uint8Array(1);
    fake.pread(m, back, 0x1000);
    expect(back[0]).toBe(9);
    expect(fake.mmap(m, 0x1000, 3, 1, 0x1000)).toBe(map); // same range: same buffer
    expect(code(() => fake.mmap(m, 0x2000, 3, 1, 0))).toBe('EINVAL'); // partial overlap: fake limitation
    const a = fake.addressOf(map);
    expect(fake.addressOf(new Uint8Array(map, 16))).toBe(a + 16n);
    expect(a % 4096n).toBe(0n);
    fake.munmap(map);
    fake.pread(m, back, 0x1000);
    expect(back[0]).toBe(9); // bytes survive the unmap
    expect(code(() => fake.munmap(map))).toBe('EINVAL');
  });

  it('option validation', () => {
    expect(() => createFakeGunyah({ variant: 'D' as never })).toThrow(RangeError);
    expect(() => createFakeGunyah({ variant: 'B', cPlus: true })).toThrow(RangeError);
    expect(() => createFakeGunyah({ variant: 'A', pageSize: 1000 })).toThrow(RangeError);
    expect(createFakeGunyah({ variant: 'A', pageSize: 16384 }).pageSize()).toBe(16384);
  });
});

describe('property: random ioctls never crash the fake', () => {
  it('any request, fd and argument bytes give a number or an ErrnoError', async () => {
    const fc = (await import('fast-check')).default;
    const requests = [...Object.values(I).map((s) => s.request), 0x4799, 0xc0084700];
    fc.assert(
      fc.property(
        fc.constantFrom('A', 'B', 'C' as const),
        fc.array(fc.tuple(fc.nat(8), fc.constantFrom(...requests), fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.nat(), fc.constant(undefined))), { maxLength: 25 }),
        (variant, calls) => {
          const h = setup(variant);
          fn(h, 'ADD_FUNCTION', 1, vcpuArg(0));
          for (const [fd, req, arg] of calls) {
            try {
              const r = h.fake.ioctl(fd, req, arg);
              expect(Number.isInteger(r) && r >= 0).toBe(true);
            } catch (e) {
              expect(e).toBeInstanceOf(ErrnoError);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
