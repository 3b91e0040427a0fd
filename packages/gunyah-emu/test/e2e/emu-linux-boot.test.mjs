// End-to-end: a real Linux guest (the testbed's Debian arm64 kernel + busybox initramfs) booted on
// the emulator through the same @gunyah-ts/ioctls call sequence a VMM uses on a Gunyah phone, for
// variants A, B and C; vCPUs in workers (VcpuRunner + the emulator's worker binding), the 8250
// UART of vmm-sample on the MMIO bus with its interrupt on irqfd label 0. Inside the arm64 testbed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const inTestbed = process.env.GUNYAH_TESTBED === '1';
const skip = inTestbed ? false : 'runs only inside the arm64 testbed: npm run test:e2e -w @gunyah-ts/testbed';

const E = inTestbed ? await import(new URL('../../dist/index.js', import.meta.url).href) : undefined;
const V = inTestbed ? await import(new URL('../../../vmm-sample/dist/index.js', import.meta.url).href) : undefined;
const I = inTestbed ? await import('@gunyah-ts/ioctls') : undefined;
const D = inTestbed ? await import('@gunyah-ts/devicetree') : undefined;
const manifest = inTestbed ? JSON.parse(readFileSync(process.env.GUNYAH_TESTBED_MANIFEST, 'utf8')) : undefined;

const RAM_BASE = 0x8000_0000n;
const RAM_SIZE = 256 * 1024 * 1024;
const INITRD_OFFSET = 0x0800_0000;
const DTB_OFFSET = 0x0ff0_0000;
const DTB_WINDOW = 0x1_0000;
const BOOTARGS = 'console=ttyS0 earlycon=uart8250,mmio,0x3f8 rdinit=/init quiet';
const s = (ns) => (Number(ns) / 1e9).toFixed(1);

async function boot(variant, t) {
  const emu = E.createEmulator({ variant });
  const kernel = readFileSync(manifest.guestKernel);
  const initrd = readFileSync(manifest.guestInitramfs);
  const hdr = new DataView(kernel.buffer, kernel.byteOffset, 64);
  assert.equal(hdr.getUint32(0x38, true), 0x644d5241, 'arm64 Image magic');
  const textOffset = Number(hdr.getBigUint64(8, true));
  const initrdStart = RAM_BASE + BigInt(INITRD_OFFSET);
  const dt = D.buildGunyahVmDt({
    memory: { base: RAM_BASE, size: BigInt(RAM_SIZE) },
    chosen: { bootargs: BOOTARGS, initrd: { start: initrdStart, end: initrdStart + BigInt(initrd.length) } },
  });
  const t0 = process.hrtime.bigint();
  const gunyah = I.Gunyah.open({ binding: emu });
  assert.equal(gunyah.variant, variant);
  const vm = gunyah.createVm();
  const c = emu.constants();
  const cleanups = [];
  const fill = (buf) => {
    const u8 = new Uint8Array(buf);
    u8.set(kernel, textOffset);
    u8.set(initrd, INITRD_OFFSET);
    u8.set(dt.dtb, DTB_OFFSET);
  };
  if (variant === 'B') {
    const gm = gunyah.createGuestMem(RAM_SIZE);
    const map = gm.mmap(0, RAM_SIZE);
    fill(map);
    emu.munmap(map);
    vm.addGuestMemory({ guestAddr: RAM_BASE, size: RAM_SIZE, mode: 'lend', fd: gm.fd, offset: 0 });
    cleanups.push(() => gm.close());
  } else {
    const memfd = emu.memfdCreate('guest-ram', c.MFD_CLOEXEC);
    emu.ftruncate(memfd, RAM_SIZE);
    const ram = emu.mmap(memfd, RAM_SIZE, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
    fill(ram);
    vm.addGuestMemory({ guestAddr: RAM_BASE, size: RAM_SIZE, mode: 'share', hostAddr: emu.addressOf(ram) });
    cleanups.push(() => {
      emu.munmap(ram);
      emu.close(memfd);
    });
  }
  vm.setDtbConfig({ guestPhysAddr: RAM_BASE + BigInt(DTB_OFFSET), size: DTB_WINDOW });
  if (variant !== 'A') vm.setBootContext('pc', 0, RAM_BASE + BigInt(textOffset));
  const vcpu = vm.addVcpu(0);
  const irqfd = emu.eventfd(0, c.EFD_NONBLOCK);
  vm.addIrqfd({ fd: irqfd, label: dt.resolved.doorbells[0].label });
  const one = new BigUint64Array([1n]);
  let triggers = 0;
  let out = '';
  let okAt;
  const uart = new V.Uart8250({
    output: (b) => {
      out += String.fromCharCode(b);
      if (okAt === undefined && out.includes('GUNYAH-GUEST-OK')) okAt = process.hrtime.bigint();
    },
    trigger: () => {
      triggers++;
      emu.write(irqfd, one);
    },
  });
  const bus = new V.MmioBus();
  bus.register(0x3f8n, 8n, uart, 'uart0');
  vm.start();
  const t1 = process.hrtime.bigint();
  const runner = I.VcpuRunner.start({
    vcpus: [vcpu],
    mmio: (a) => {
      const r = bus.dispatch({ addr: a.addr, size: a.len, isWrite: a.isWrite, value: a.data });
      if (r.status === 'unhandled') return 'unhandled';
      if (!a.isWrite) a.data = r.value;
      return 'handled';
    },
    workerBinding: emu.workerBinding,
  });
  const timer = setTimeout(() => void runner.stop(), 400_000);
  const [res] = await runner.done;
  clearTimeout(timer);
  const t2 = process.hrtime.bigint();
  try {
    assert.equal(res.reason, 'exit', `vCPU ended by ${res.reason}: ${res.error?.stack ?? ''}\n--- console ---\n${out.slice(-3000)}`);
    assert.match(out, /GUNYAH-GUEST-OK/, out.slice(-3000));
    assert.equal(res.exit.kind, 'shutdown');
    assert.equal(res.exit.status, 2, 'STATUS EXITED');
    assert.equal(res.exit.exitType, 1, 'PSCI power-off');
    // irqfd delivery: KVM's irqfd consumes each signal and injects the doorbell's SPI, so the
    // eventfd the UART wrote to is empty again (without the KVM irqfd it would hold `triggers`)
    assert.ok(triggers > 0, 'the UART raised its interrupt');
    assert.throws(() => emu.read(irqfd, new BigUint64Array(1)), (e) => e.code === 'EAGAIN' || e.errno === 11, 'irqfd eventfd consumed by KVM');
    const reqs = emu.rmLog.filter((e) => e.type === 'request').map((e) => e.name);
    t.diagnostic(`variant ${variant}: setup+VM_START ${s(t1 - t0)} s, to GUNYAH-GUEST-OK ${s((okAt ?? t2) - t1)} s, to STATUS EXITED ${s(t2 - t1)} s; ${triggers} UART interrupts delivered through the irqfd`);
    t.diagnostic(`variant ${variant}: RM ${reqs.join(' ')}`);
    return { emu, reqs };
  } finally {
    vcpu.close();
    vm.close();
    gunyah.close();
    emu.close(irqfd);
    for (const f of cleanups) f();
    emu.close();
  }
}

describe('emulator: Linux guest boot on real KVM', { skip }, () => {
  it('variant A boots to GUNYAH-GUEST-OK and powers off (STATUS EXITED)', async (t) => {
    const { reqs } = await boot('A', t);
    assert.deepEqual(reqs.slice(0, 6), ['VM_ALLOC_VMID', 'MEM_SHARE', 'VM_CONFIG_IMAGE', 'VM_INIT', 'VM_GET_HYP_RESOURCES', 'VM_START']);
  });
  it('variant B boots to GUNYAH-GUEST-OK and powers off (STATUS EXITED)', async (t) => {
    const { reqs } = await boot('B', t);
    assert.deepEqual(reqs.slice(0, 9), ['VM_ALLOC_VMID', 'MEM_LEND', 'VM_CONFIG_IMAGE', 'VM_SET_DEMAND_PAGING', 'VM_SET_ADDRESS_LAYOUT', 'VM_INIT', 'VM_SET_BOOT_CONTEXT_V15', 'VM_GET_HYP_RESOURCES', 'VM_START']);
  });
  it('variant C boots to GUNYAH-GUEST-OK and powers off (STATUS EXITED)', async (t) => {
    const { reqs } = await boot('C', t);
    assert.deepEqual(reqs.slice(0, 9), ['VM_ALLOC_VMID', 'MEM_SHARE', 'VM_CONFIG_IMAGE', 'VM_SET_DEMAND_PAGING', 'VM_SET_ADDRESS_LAYOUT', 'VM_INIT', 'VM_SET_BOOT_CONTEXT', 'VM_GET_HYP_RESOURCES', 'VM_START']);
  });
});
