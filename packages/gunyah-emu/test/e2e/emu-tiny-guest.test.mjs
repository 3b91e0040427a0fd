// End-to-end: the tiny guest through @gunyah-ts/ioctls on the emulator, for variants A, B and C,
// with the VMM call sequence of spec/gunyah-uapi.md Appendix B, on real KVM inside the arm64
// testbed host (npm run test:e2e -w @gunyah-ts/testbed). node:test, plain JS.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

const inTestbed = process.env.GUNYAH_TESTBED === '1';
const skip = inTestbed ? false : 'runs only inside the arm64 testbed: npm run test:e2e -w @gunyah-ts/testbed';

const emuUrl = new URL('../../dist/index.js', import.meta.url).href;
const guestUrl = new URL('../../dist/guest/index.js', import.meta.url).href;
const E = inTestbed ? await import(emuUrl) : undefined;
const G = inTestbed ? await import(guestUrl) : undefined;
const I = inTestbed ? await import('@gunyah-ts/ioctls') : undefined;
const D = inTestbed ? await import('@gunyah-ts/devicetree') : undefined;
const S = inTestbed ? await import('@gunyah-ts/sys') : undefined;
const WB = inTestbed ? await import(new URL('../../dist/worker-binding.js', import.meta.url).href) : undefined;

const RAM_BASE = 0x8000_0000n;
const RAM_SIZE = 0x20_0000;
const DTB_OFFSET = 0x10_0000;
const DTB_WINDOW = 0x1_0000;
const MMIO = 0x0900_0000n;
const IOEVENT = 0x0a00_0000n;
const ms = (ns) => (Number(ns) / 1e6).toFixed(1);

/** A KvmExecutor that also records the plans it was given (what KVM was asked to build). */
function recordingKvmExecutor(binding) {
  const real = new E.KvmExecutor({ binding, kvmPath: '/dev/kvm' });
  const plans = [];
  return {
    plans,
    start(plan) {
      plans.push(plan);
      return real.start(plan);
    },
    vcpuPort: (fd, size) => real.vcpuPort(fd, size),
  };
}

function setup(emu, variant, program) {
  const gunyah = I.Gunyah.open({ binding: emu });
  assert.equal(gunyah.variant, variant, 'variant detection through the emulator (spec §9 probes)');
  const vm = gunyah.createVm();
  const dt = D.buildGunyahVmDt({ memory: { base: RAM_BASE, size: BigInt(RAM_SIZE) } });
  const c = emu.constants();
  let ram;
  let memfd;
  if (variant === 'B') {
    const gm = gunyah.createGuestMem(RAM_SIZE);
    memfd = gm.fd;
    const map = gm.mmap(0, RAM_SIZE);
    new Uint8Array(map).set(program.bytes, 0);
    new Uint8Array(map).set(dt.dtb, DTB_OFFSET);
    emu.munmap(map);
    vm.addGuestMemory({ guestAddr: RAM_BASE, size: RAM_SIZE, mode: 'lend', fd: gm.fd, offset: 0 });
  } else {
    memfd = emu.memfdCreate('guest-ram', c.MFD_CLOEXEC);
    emu.ftruncate(memfd, RAM_SIZE);
    ram = emu.mmap(memfd, RAM_SIZE, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
    new Uint8Array(ram).set(program.bytes, 0);
    new Uint8Array(ram).set(dt.dtb, DTB_OFFSET);
    vm.addGuestMemory({ guestAddr: RAM_BASE, size: RAM_SIZE, mode: 'share', hostAddr: emu.addressOf(ram) });
  }
  vm.setDtbConfig({ guestPhysAddr: RAM_BASE + BigInt(DTB_OFFSET), size: DTB_WINDOW });
  if (variant !== 'A') vm.setBootContext('pc', 0, RAM_BASE);
  const vcpu = vm.addVcpu(0);
  const irqEfd = emu.eventfd(0, c.EFD_NONBLOCK);
  const ioEfd = emu.eventfd(0, c.EFD_NONBLOCK);
  vm.addIrqfd({ fd: irqEfd, label: 0 });
  vm.addIoeventfd({ addr: IOEVENT, len: 4, fd: ioEfd });
  return {
    vm,
    vcpu,
    ioEfd,
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

describe('emulator: tiny guest on real KVM', { skip }, () => {
  for (const variant of ['A', 'B', 'C']) {
    it(`variant ${variant}: MMIO write exit, read completion, ioeventfd, irqfd on the doorbell SPI, SYSTEM_OFF → STATUS EXITED`, (t) => {
      const binding = S.getBinding();
      const executor = recordingKvmExecutor(binding);
      const emu = E.createEmulator({ variant, executor, binding });
      const prog = G.tinyGuest({ mmioAddr: MMIO, ioeventAddr: IOEVENT });
      const t0 = process.hrtime.bigint();
      const v = setup(emu, variant, prog);
      v.vm.start();
      const t1 = process.hrtime.bigint();
      try {
        // the KVM side the RM's decisions produced
        const plan = executor.plans[0];
        assert.equal(plan.gicdBase, 0x3fff_0000n);
        assert.deepEqual(plan.irqfds.map((i) => i.spi), [0], 'irqfd label 0 → KVM irqfd on SPI 0 (the doorbell vdevice interrupts)');
        assert.deepEqual(plan.vcpus[0].regs.get('pc'), RAM_BASE);
        const e1 = v.vcpu.run();
        assert.equal(e1.kind, 'mmio');
        assert.deepEqual([e1.addr, e1.len, e1.isWrite, e1.data], [MMIO, 8, true, 0x42n]);
        const e2 = v.vcpu.run();
        assert.deepEqual([e2.kind, e2.addr, e2.len, e2.isWrite], ['mmio', MMIO, 8, false]);
        v.vcpu.completeMmioRead(0x11n);
        const e3 = v.vcpu.run();
        assert.deepEqual([e3.kind, e3.addr, e3.isWrite, e3.data], ['mmio', MMIO + 8n, true, 0x12n], 'the guest loaded the completed read');
        const e4 = v.vcpu.run();
        assert.equal(e4.kind, 'shutdown', JSON.stringify(e4, (_k, x) => (typeof x === 'bigint' ? x.toString(16) : x)));
        assert.equal(e4.status, 2);
        assert.equal(e4.exitType, 1);
        const counter = new BigUint64Array(1);
        emu.read(v.ioEfd, counter);
        assert.equal(counter[0], 1n, 'the ioeventfd write was absorbed by KVM and counted');
        const t2 = process.hrtime.bigint();
        t.diagnostic(`variant ${variant}: setup+start ${ms(t1 - t0)} ms, run ${ms(t2 - t1)} ms`);
      } finally {
        v.close();
        const names = emu.rmLog.filter((e) => e.type === 'request').map((e) => e.name);
        t.diagnostic(`variant ${variant} RM requests: ${names.join(' ')}`);
        assert.deepEqual(names.slice(-3), ['VM_RESET', 'MEM_RECLAIM', 'VM_DEALLOC_VMID']);
        emu.close();
      }
    });
  }

  for (const variant of ['A', 'C']) {
    it(`variant ${variant}: the worker binding's runMmioSink serves a store loop natively and translates the exits it hands back`, (t) => {
      const N = 400;
      const binding = S.getBinding();
      const emu = E.createEmulator({ variant, binding });
      const v = setup(emu, variant, G.storeLoopGuest({ addr: MMIO, count: N }));
      v.vm.start();
      const wb = WB.wrapWorkerBinding(binding);
      const size = wb.ioctl(v.vcpu.fd, S.GUNYAH_IOCTLS.VCPU_MMAP_SIZE.request);
      const c = binding.constants();
      const pageBuf = wb.mmap(v.vcpu.fd, size, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
      const page = new S.VcpuRunPage(pageBuf, variant);
      const state = new Int32Array(new SharedArrayBuffer(16));
      const bytes = new Uint8Array(new SharedArrayBuffer(1024));
      const layout = S.encodeMmioExitLayout(S.GUNYAH_MMIO_EXIT_LAYOUT);
      const sink = (capacity) => S.encodeMmioSink({ addr: MMIO, state, bytes, lockWord: 0, lenWord: 1, minLen: 0, capacity });
      const RUN = S.GUNYAH_IOCTLS.VCPU_RUN.request;
      try {
        const t0 = process.hrtime.bigint();
        // capacity 100: 99 stores absorbed in the native loop, the 100th is a Gunyah MMIO exit
        assert.equal(wb.runMmioSink(v.vcpu.fd, RUN, pageBuf, layout, sink(100), state, bytes), 0);
        const e1 = page.decode();
        assert.deepEqual([e1.kind, e1.addr, e1.isWrite, e1.data], ['mmio', MMIO, true, BigInt(N - 99)]);
        assert.equal(state[1], 99);
        // the VMM handles that one itself; the next run completes it and absorbs the rest
        state[1] = 0;
        assert.equal(wb.runMmioSink(v.vcpu.fd, RUN, pageBuf, layout, sink(1024), state, bytes), 0);
        const e2 = page.decode();
        assert.equal(e2.kind, 'shutdown', JSON.stringify(e2, (_k, x) => (typeof x === 'bigint' ? x.toString(16) : x)));
        assert.equal(state[1], N - 100);
        assert.deepEqual(Array.from(bytes.subarray(0, N - 100)), Array.from({ length: N - 100 }, (_, i) => (N - 100 - i) & 0xff));
        t.diagnostic(`variant ${variant}: ${N} stores, ${N - 1} absorbed natively, ${ms(process.hrtime.bigint() - t0)} ms`);
        // a non-emulated fd goes to the addon as is (an eventfd has no run ioctl: ENOTTY)
        assert.throws(() => wb.runMmioSink(v.ioEfd, RUN, pageBuf, layout, sink(16), state, bytes), (e) => e.errno === 25);
      } finally {
        binding.munmap(pageBuf);
        v.close();
        emu.close();
      }
    });
  }

  it('answers Gunyah identify/UID SMCCC calls from the guest when KVM forwards them', (t) => {
    const binding = S.getBinding();
    const executor = recordingKvmExecutor(binding);
    const emu = E.createEmulator({ variant: 'C', executor, binding });
    const prog = G.smcccGuest({ functionId: 0x8600ff01, mmioAddr: MMIO });
    const v = setup(emu, 'C', prog);
    v.vm.start();
    try {
      const regs = [];
      for (let i = 0; i < 4; i++) {
        const e = v.vcpu.run();
        assert.equal(e.kind, 'mmio');
        regs.push(e.data);
      }
      const uid = S.GUNYAH_UID_REGISTERS;
      if (regs[0] === 0xffff_ffff_ffff_ffffn) t.diagnostic('kernel without the SMCCC filter: the call was not forwarded (NOT_SUPPORTED)');
      else assert.deepEqual(regs, [...uid], 'x0..x3 = the Gunyah UID');
      assert.equal(v.vcpu.run().kind, 'shutdown');
    } finally {
      v.close();
      emu.close();
    }
  });
});
