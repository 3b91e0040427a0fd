import fc from 'fast-check';
import { ErrnoError, type GunyahVariant } from '@gunyah-ts/sys';
import { createFakeGunyah, type FakeGunyah } from '@gunyah-ts/sys/fake';
import { describe, expect, it } from 'vitest';
import { ebadfSweep } from '../test/ebadf-sweep.js';
import { GuestMemfd, Gunyah, IoctlsError, UnsupportedIoctlError, Vcpu, VcpuRunner, type MmioAccess, type Vm } from './index.js';

const RAM = 0x8000_0000n;
const SIZE = 0x10_0000;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

interface Env {
  fake: FakeGunyah;
  gunyah: Gunyah;
  vm: Vm;
  ram: ArrayBuffer;
  gmem: GuestMemfd | undefined;
}

function env(variant: GunyahVariant, cPlus = false): Env {
  const fake = createFakeGunyah({ variant, cPlus });
  const gunyah = Gunyah.open({ binding: fake });
  const vm = gunyah.createVm();
  let ram: ArrayBuffer;
  let gmem: GuestMemfd | undefined;
  if (variant === 'B') {
    gmem = gunyah.createGuestMem(SIZE);
    ram = gmem.mmap();
  } else {
    const c = fake.constants();
    const m = fake.memfdCreate('ram', c.MFD_CLOEXEC);
    fake.ftruncate(m, SIZE);
    ram = fake.mmap(m, SIZE, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
  }
  return { fake, gunyah, vm, ram, gmem };
}

/** Register RAM and the DTB the way a VMM would, per variant. */
function boot(e: Env, mode: 'share' | 'lend' = 'share'): void {
  if (e.gmem) {
    e.gmem.munmap(e.ram);
    e.vm.addGuestMemory({ guestAddr: RAM, size: SIZE, mode: 'lend', fd: e.gmem.fd });
  } else {
    e.vm.addGuestMemory({ guestAddr: RAM, size: SIZE, mode, hostAddr: e.fake.addressOf(e.ram) });
  }
  e.vm.setDtbConfig({ guestPhysAddr: RAM + 0x8_0000n, size: 0x1000 });
  if (e.vm.supports('boot-context')) e.vm.setBootContext('pc', 0, RAM);
}

describe('variant detection (spec §9)', () => {
  it.each([
    ['A', false, { variant: 'A', cPlus: false, checkExtension: false, reclaim: false }],
    ['B', false, { variant: 'B', cPlus: false, checkExtension: false, reclaim: false }],
    ['C', false, { variant: 'C', cPlus: false, checkExtension: false, reclaim: false }],
    ['C', true, { variant: 'C', cPlus: true, checkExtension: true, reclaim: true }],
  ] as const)('%s (cPlus %s)', (variant, cPlus, info) => {
    const fake = createFakeGunyah({ variant, cPlus });
    const g = Gunyah.open({ binding: fake });
    expect(g.info).toEqual(info);
    expect(g.variant).toBe(variant);
    // the probe VM was closed again, only the device fd is open
    expect(fake.openFdCount).toBe(1);
    expect(fake.models).toHaveLength(0);
    g.close();
    expect(fake.openFdCount).toBe(0);
  });

  it('an explicit variant skips the probes', () => {
    const fake = createFakeGunyah({ variant: 'B' });
    const g = Gunyah.open({ binding: fake, variant: 'B' });
    expect(fake.log.map((r) => r.call)).toEqual(['open']);
    expect(g.info.variant).toBe('B');
    expect(() => Gunyah.open({ binding: fake, variant: 'Q' as never })).toThrow(IoctlsError);
  });

  it('a missing device is ENOENT with op open; a kernel answering like no variant is DETECTION_FAILED', () => {
    const fake = createFakeGunyah({ variant: 'A' });
    expect(thrown(() => Gunyah.open({ binding: fake, path: '/dev/nope' }))).toMatchObject({ code: 'ENOENT', op: 'open' });
    const weird = createFakeGunyah({ variant: 'C' });
    const ioctl = weird.ioctl.bind(weird);
    weird.ioctl = (fd, req, arg) => (req === 0x4010470a ? 0 : ioctl(fd, req, arg)); // boot context "succeeds"
    expect(thrown(() => Gunyah.open({ binding: weird }))).toMatchObject({ code: 'DETECTION_FAILED' });
    expect(weird.openFdCount).toBe(0); // device fd closed again
  });
});

describe.each(['A', 'B', 'C'] as const)('variant %s on the fake', (variant) => {
  it('boots: memory, DTB, boot context (B/C), vCPU, irqfd, ioeventfd, start, MMIO loop to shutdown', () => {
    const e = env(variant);
    boot(e);
    const vcpu = e.vm.addVcpu(0);
    const irq = e.fake.eventfd(0, 0);
    e.vm.addIrqfd({ fd: irq, label: 3, level: true });
    const kick = e.fake.eventfd(0, 0);
    e.vm.addIoeventfd({ addr: 0xa00_0000n, len: 4, fd: kick, datamatch: 7n });
    e.vm.start();
    e.fake.vm(e.vm.fd).script(
      0,
      { kind: 'mmio', addr: 0x900_0000n, len: 1, isWrite: true, data: 0x4fn },
      { kind: 'mmio', addr: 0xa00_0000n, len: 4, isWrite: true, data: 7n },
      { kind: 'mmio', addr: 0x900_0018n, len: 4, isWrite: false },
      { kind: 'mmio', addr: 0x1234_0000n, len: 2, isWrite: false },
    );
    const seen: MmioAccess[] = [];
    const exit = vcpu.runWithMmio((a) => {
      seen.push({ ...a });
      if (a.addr === 0x1234_0000n) return 'unhandled';
      if (!a.isWrite) a.data = 0xbeefn;
      return 'handled';
    });
    expect(exit.kind).toBe('shutdown');
    expect(seen.map((a) => a.addr)).toEqual([0x900_0000n, 0x900_0018n, 0x1234_0000n]);
    expect(seen[0]).toMatchObject({ isWrite: true, data: 0x4fn, len: 1 });
    expect(e.fake.eventfdCounter(kick)).toBe(1n);
    const completions = e.fake.vm(e.vm.fd).completions;
    expect(completions[1]).toMatchObject({ addr: 0x900_0018n, action: 'handled', data: 0xbeefn });
    // unhandled: B/C inject the fault, A completes the read with 0
    expect(completions[2]).toMatchObject(variant === 'A' ? { action: 'handled', data: 0n } : { action: 'fault' });
    vcpu.close();
    e.vm.close();
    e.gunyah.close();
  });

  it('names the variant spelling in errors and rethrows with op', () => {
    const e = env(variant);
    e.vm.addVcpu(1);
    const err = thrown(() => e.vm.addVcpu(1));
    expect(err).toBeInstanceOf(ErrnoError);
    expect(err).toMatchObject({ code: 'EEXIST', syscall: 'ioctl', op: variant === 'A' ? 'GH_VM_ADD_FUNCTION' : 'GUNYAH_VM_ADD_FUNCTION' });
    expect(thrown(() => e.vm.removeVcpu(5))).toMatchObject({ code: 'ENOENT' });
    const v = e.vm.addVcpu(2);
    expect(thrown(() => v.run())).toMatchObject({ code: 'ENODEV', op: variant === 'A' ? 'GH_VCPU_RUN' : 'GUNYAH_VCPU_RUN' });
  });

  it('refuses calls the variant lacks before any syscall (UnsupportedIoctlError, ENOTTY)', () => {
    const e = env(variant);
    const calls: [string, () => unknown, boolean][] = [
      ['GH_VM_SET_USER_MEM_REGION', () => e.vm.setUserMemRegion({ label: 0, guestPhysAddr: RAM, memorySize: 0x1000, userspaceAddr: 0 }), variant !== 'B'],
      ['GH_VM_ANDROID_LEND_USER_MEM', () => e.vm.lendUserMem({ label: 0, guestPhysAddr: RAM, memorySize: 0x1000, userspaceAddr: 0 }), variant !== 'B'],
      ['GH_VM_ANDROID_SET_FW_CONFIG', () => e.vm.setFirmwareConfig({ guestPhysAddr: RAM, size: 0x1000 }), variant !== 'B'],
      ['GUNYAH_VM_MAP_MEM', () => e.vm.mapMem({ guestAddr: RAM, guestMemFd: 99, offset: 0, size: 0x1000, flags: 0x71 }), variant === 'B'],
      ['GUNYAH_VM_SET_BOOT_CONTEXT', () => e.vm.setBootContext('x', 0, 1), variant !== 'A'],
      ['GUNYAH_CREATE_GUEST_MEM', () => e.gunyah.createGuestMem(0x1000), variant === 'B'],
      ['GH_VM_RECLAIM_REGION', () => e.vm.reclaimRegion({ guestPhysAddr: 0, size: 0x1000 }), false],
      ['GH_VM_CHECK_EXTENSION', () => e.vm.checkExtension(0), false],
      ['GH_VM_ANDROID_MAP_CMA_MEM', () => e.vm.mapCmaMem({ label: 0, guestAddr: 0, flags: 7, guestMemFd: 0, offset: 0, size: 0x1000 }), false],
      ['GH_VM_ANDROID_SET_AUTH_TYPE', () => e.vm.setAuthType(1), false],
    ];
    for (const [op, call, available] of calls) {
      const before = e.fake.log.length;
      const err = thrown(call);
      if (available) {
        expect(err instanceof UnsupportedIoctlError, op).toBe(false);
        continue;
      }
      expect(err, op).toBeInstanceOf(UnsupportedIoctlError);
      expect(err).toBeInstanceOf(ErrnoError);
      expect(err).toMatchObject({ code: 'ENOTTY', variant, op: variant === 'A' ? op.replace('GUNYAH_VM_SET', 'GH_VM_SET') : op });
      expect(e.fake.log.length, `${op} issued a syscall`).toBe(before);
    }
  });

  it('functions: irqfd/ioeventfd errors carry the driver errno; removal needs the exact argument in B/C', () => {
    const e = env(variant);
    const ev = e.fake.eventfd(0, 0);
    e.vm.addIrqfd({ fd: ev, label: 1 });
    expect(thrown(() => e.vm.addIrqfd({ fd: ev, label: 1 }))).toMatchObject({ code: 'EEXIST' });
    expect(thrown(() => e.vm.addIrqfd({ fd: 999, label: 2 }))).toMatchObject({ code: 'EBADF' });
    e.vm.removeIrqfd({ fd: ev, label: 1 });
    e.vm.addIoeventfd({ addr: 0x9000n, len: 4, fd: ev, datamatch: 1n });
    const loose = thrown(() => e.vm.removeIoeventfd({ addr: 0x9000n, len: 0, fd: ev }));
    if (variant === 'A') expect(loose).toBeUndefined();
    else {
      expect(loose).toMatchObject({ code: 'ENOENT' });
      e.vm.removeIoeventfd({ addr: 0x9000n, len: 4, fd: ev, datamatch: 1n });
    }
  });

  it('argument errors are IoctlsError INVALID_ARGUMENT, before any syscall', () => {
    const e = env(variant);
    const before = e.fake.log.length;
    const bad: (() => unknown)[] = [
      () => e.vm.addIoeventfd({ addr: 0x9000n, len: 3 as never, fd: 1 }),
      () => e.vm.addIoeventfd({ addr: 0x9000n, len: 0, fd: 1, datamatch: 1n }),
      () => e.vm.addIoeventfd({ addr: -1n, len: 4, fd: 1 }),
      () => e.vm.addVcpu(-1),
      () => e.vm.addFunction(1, new Uint8Array(257)),
      () => e.vm.addGuestMemory({ guestAddr: RAM, size: SIZE, mode: 'share', perms: 'xr' as never }),
      () => e.vm.addGuestMemory({ guestAddr: RAM, size: SIZE, mode: 'share' }),
      () => e.vm.setDtbConfig({ guestPhysAddr: -5, size: 0 }),
    ];
    if (e.vm.supports('boot-context')) bad.push(() => e.vm.setBootContext('pc', 1, 0), () => e.vm.setBootContext('sp', 3, 0), () => e.vm.setBootContext('x', 32, 0));
    for (const b of bad) expect(thrown(b)).toMatchObject({ name: 'IoctlsError', code: 'INVALID_ARGUMENT' });
    expect(e.fake.log.length).toBe(before);
  });

  it('resume actions per variant; completing without a pending read is NO_PENDING_MMIO', () => {
    const e = env(variant);
    boot(e);
    const v = e.vm.addVcpu(0);
    e.vm.start();
    expect(thrown(() => v.completeMmioRead(1))).toMatchObject({ code: 'NO_PENDING_MMIO' });
    const retry = thrown(() => v.setResumeAction('retry'));
    const fault = thrown(() => v.setResumeAction('fault'));
    expect(retry === undefined).toBe(variant === 'B');
    expect(fault === undefined).toBe(variant !== 'A');
    if (retry !== undefined) expect(retry).toMatchObject({ code: 'UNSUPPORTED_RESUME_ACTION' });
    v.setResumeAction('handled');
  });

  it('addGuestMemory picks the ioctl and flags of the variant', () => {
    const e = env(variant);
    if (variant === 'B') {
      e.gmem!.munmap(e.ram);
      const p = e.vm.addGuestMemory({ guestAddr: RAM, size: 0x2000, mode: 'share', perms: 'rw', fd: e.gmem!.fd });
      expect(p).toEqual({ op: 'GUNYAH_VM_MAP_MEM', label: undefined, flags: 0x30 | 0x2 });
      expect(e.fake.vm(e.vm.fd).bindings[0]?.flags).toBe(0x32);
    } else {
      const addr = e.fake.addressOf(e.ram);
      expect(e.vm.addGuestMemory({ guestAddr: RAM, size: 0x2000, mode: 'share', perms: 'rx', hostAddr: addr })).toEqual({
        op: 'GH_VM_SET_USER_MEM_REGION',
        label: 0,
        flags: 5,
      });
      expect(e.vm.addGuestMemory({ guestAddr: RAM + 0x2000n, size: 0x2000, mode: 'lend', hostAddr: addr + 0x2000n })).toEqual({
        op: 'GH_VM_ANDROID_LEND_USER_MEM',
        label: 1,
        flags: 7,
      });
      expect(e.fake.vm(e.vm.fd).regions.map((r) => r.mode)).toEqual(['share', 'lend']);
    }
  });

  it('VcpuRunner inline: MMIO to the handler, ends at shutdown; stop() ends an idle guest', async () => {
    const e = env(variant);
    boot(e);
    const vcpus = [e.vm.addVcpu(0), e.vm.addVcpu(1)];
    e.vm.start();
    e.fake.vm(e.vm.fd).script(0, { kind: 'mmio', addr: 0x900_0000n, len: 1, isWrite: true, data: 0x21n }); // then vCPU 0's empty script powers the VM off
    const writes: bigint[] = [];
    const r = VcpuRunner.start({ vcpus, mmio: (a) => (writes.push(a.data), 'handled') });
    expect(r.mode).toBe('inline');
    const res = await r.done;
    expect(res.map((x) => [x.id, x.reason, x.exit?.kind])).toEqual([
      [0, 'exit', 'shutdown'],
      [1, 'exit', 'shutdown'],
    ]);
    expect(writes).toEqual([0x21n]);

    const e2 = env(variant);
    boot(e2);
    const v = e2.vm.addVcpu(0);
    e2.vm.start();
    e2.fake.vm(e2.vm.fd).idle = 'signal'; // the guest never exits by itself
    const r2 = VcpuRunner.start({ vcpus: [v], mmio: () => 'handled' });
    await new Promise((res2) => setTimeout(res2, 10));
    const [end] = await r2.stop();
    expect(end).toMatchObject({ id: 0, reason: 'stopped' });
    expect(() => VcpuRunner.start({ vcpus: [], mmio: () => 'handled' })).toThrow(IoctlsError);
  });
});

describe('C+ extras', () => {
  it('supports() and the C+ calls', () => {
    const e = env('C', true);
    expect(e.vm.supports('check-extension')).toBe(true);
    expect(e.vm.supports('reclaim')).toBe(true);
    expect(e.vm.checkExtension(0)).toBe(true);
    expect(e.vm.checkExtension(1)).toBe(false);
    e.vm.reclaimRegion({ guestPhysAddr: RAM, size: 0x1000 });
    expect(thrown(() => e.vm.reclaimRegion({ guestPhysAddr: RAM, size: 0 }))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(thrown(() => e.vm.reclaimRegion({ guestPhysAddr: RAM + 1n, size: 0x1000 }))).toMatchObject({ code: 'EINVAL', op: 'GH_VM_RECLAIM_REGION' });
    e.vm.setAuthType(1, { vmId: 45, peripheralId: 28, guestPhysAddr: RAM, size: 0x1000 });
    expect(e.fake.vm(e.vm.fd).auth).toBe('qtvm');
    expect(thrown(() => e.vm.setAuthType(7))).toMatchObject({ code: 'ENOENT' });
    expect(thrown(() => e.vm.mapCmaMem({ label: 0, guestAddr: RAM, flags: 7, guestMemFd: 12345, offset: 0, size: 0x1000 }))).toMatchObject({ code: 'EBADF' });
  });
});

describe('EBADF sweep (kvm-ioctls): every wrapper on fd -2 fails with EBADF', () => {
  it.each(['A', 'B', 'C'] as const)('variant %s, fake backend', (variant) => {
    expect(ebadfSweep(createFakeGunyah({ variant, cPlus: variant === 'C' }), variant)).toBeGreaterThan(20);
  });
});

describe('properties', () => {
  it('addIoeventfd: any len/addr/datamatch gives success or a typed error, never a crash', () => {
    const e = env('C');
    const ev = e.fake.eventfd(0, 0);
    fc.assert(
      fc.property(fc.integer({ min: -1, max: 9 }), fc.bigInt({ min: -1n, max: 2n ** 64n }), fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })), (len, addr, dm) => {
        try {
          e.vm.addIoeventfd({ addr, len: len as 0, fd: ev, ...(dm === null ? {} : { datamatch: dm }) });
          e.vm.removeIoeventfd({ addr, len: len as 0, fd: ev, ...(dm === null ? {} : { datamatch: dm }) });
        } catch (err) {
          expect(err instanceof IoctlsError || err instanceof ErrnoError).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('hostile backend values', () => {
  it('a VCPU_MMAP_SIZE that is not a page size is KERNEL_VALUE, never mapped', () => {
    const fake = createFakeGunyah({ variant: 'C' });
    const g = Gunyah.open({ binding: fake });
    const vm = g.createVm();
    const v = vm.addVcpu(0);
    for (const bad of [0, 39, 4097, 1 << 24]) {
      const ioctl = fake.ioctl.bind(fake);
      const patched = Object.create(fake) as typeof fake;
      patched.ioctl = (fd, req, arg) => (req === 0x4706 ? bad : ioctl(fd, req, arg));
      const vcpu = Vcpu.fromRawFd(v.fd, { id: 0, info: v.info, binding: patched });
      expect(thrown(() => vcpu.runPage)).toMatchObject({ code: 'KERNEL_VALUE' });
    }
  });

  it('the run page is detached after close(): stale access is a typed error', () => {
    const e = env('C');
    const v = e.vm.addVcpu(0);
    const page = v.runPage;
    v.close();
    expect(thrown(() => page.exitReason)).toMatchObject({ name: 'UapiError', code: 'DETACHED' });
    expect(thrown(() => v.run())).toMatchObject({ code: 'EBADF' });
  });

  it('regions added after start are accepted and flagged (spec §5.0, UNCONFIRMED effect)', () => {
    const e = env('C');
    boot(e);
    e.vm.start();
    e.vm.setUserMemRegion({ label: 9, guestPhysAddr: 0x9000_0000n, memorySize: 0x1000, userspaceAddr: e.fake.addressOf(e.ram) + 0x1000n });
    expect(e.fake.vm(e.vm.fd).regions.at(-1)).toMatchObject({ label: 9, afterStart: true });
  });

  it('hostile run-page contents decode as unknown (A has no PAGE_FAULT)', () => {
    const e = env('A');
    boot(e);
    const v = e.vm.addVcpu(0);
    e.vm.start();
    new DataView(v.runPage.buffer).setUint32(8, 3, true);
    expect(v.runPage.decode()).toMatchObject({ kind: 'unknown', raw: 3 });
  });
});
