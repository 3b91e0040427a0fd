#!/usr/bin/env node
// Runs the minimal call sequence of spec/gunyah-uapi.md Appendix B for variants A, B and C against
// the in-memory fake /dev/gunyah, and prints every syscall the fake saw (with decoded arguments).
// Build first: `npx tsc -b` in packages/gunyah-sys and packages/gunyah-ioctls.
//
//   node packages/gunyah-ioctls/examples/appendix-b.mjs [A|B|C ...]
import { Gunyah, VcpuRunner } from '@gunyah-ts/ioctls';
import { createFakeGunyah } from '@gunyah-ts/sys/fake';

const RAM_BASE = 0x8000_0000n;
const RAM_SIZE = 0x20_0000; // 2 MiB
const DTB_OFFSET = 0x10_0000; // DTB at RAM_BASE + 1 MiB
const UART = 0x0900_0000n;
const DOORBELL = 0x0a00_0000n;

function fakeImages(ram) {
  const bytes = new Uint8Array(ram);
  bytes.set([0x1f, 0x20, 0x03, 0xd5], 0); // "kernel": a nop at offset 0 of the DTB's region
  bytes.set([0xd0, 0x0d, 0xfe, 0xed], DTB_OFFSET); // FDT magic, big-endian
}

async function sequence(variant) {
  const fake = createFakeGunyah({ variant });
  const b = fake; // the fake is a BindingModule: memfd/mmap/eventfd go through it like through the addon
  const c = b.constants();

  // 1. open /dev/gunyah (+ the §9 probes), CREATE_VM
  const gunyah = Gunyah.open({ binding: fake });
  const probes = fake.log.length;
  const vm = gunyah.createVm();

  // 2./3. guest memory
  let ram;
  if (variant === 'B') {
    const gmem = gunyah.createGuestMem(RAM_SIZE);
    ram = gmem.mmap();
    fakeImages(ram);
    gmem.munmap(ram); // lent pages needed at start must not stay mapped (spec §6.5)
    vm.addGuestMemory({ guestAddr: RAM_BASE, size: RAM_SIZE, mode: 'lend', perms: 'rwx', fd: gmem.fd });
    gmem.close();
  } else {
    const memfd = b.memfdCreate('guest-ram', c.MFD_CLOEXEC);
    b.ftruncate(memfd, RAM_SIZE);
    ram = b.mmap(memfd, RAM_SIZE, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
    fakeImages(ram);
    vm.addGuestMemory({ guestAddr: RAM_BASE, size: RAM_SIZE, mode: 'share', perms: 'rwx', hostAddr: b.addressOf(ram) });
  }

  // 4. DTB (+ boot context where it exists)
  const dtbAddr = RAM_BASE + BigInt(DTB_OFFSET);
  vm.setDtbConfig({ guestPhysAddr: dtbAddr, size: 0x1000 });
  if (vm.supports('boot-context')) {
    vm.setBootContext('pc', 0, RAM_BASE);
    vm.setBootContext('x', 0, dtbAddr);
  }

  // 5. functions: vCPU 0, an irqfd, an ioeventfd
  const vcpu = vm.addVcpu(0);
  const irq = b.eventfd(0, 0);
  vm.addIrqfd({ fd: irq, label: 1 });
  const kickFd = b.eventfd(0, 0);
  vm.addIoeventfd({ addr: DOORBELL, len: 4, fd: kickFd, datamatch: 1 });

  // The scripted guest: prints "Hi" on a UART, rings the ioeventfd, reads a UART register, powers off.
  fake.vm(vm.fd).script(
    0,
    { kind: 'mmio', addr: UART, len: 1, isWrite: true, data: 0x48n },
    { kind: 'mmio', addr: UART, len: 1, isWrite: true, data: 0x69n },
    { kind: 'mmio', addr: DOORBELL, len: 4, isWrite: true, data: 1n },
    { kind: 'mmio', addr: UART + 0x18n, len: 4, isWrite: false },
  );

  // 6. VM_START, then the run loop (inline on the fake; worker threads with the native addon)
  vm.start();
  b.write(irq, new BigUint64Array([1n])); // inject an interrupt: rings doorbell 1
  let out = '';
  const runner = VcpuRunner.start({
    vcpus: [vcpu],
    mmio: (a) => {
      if (a.addr === UART && a.isWrite) out += String.fromCharCode(Number(a.data));
      else if (a.addr === UART + 0x18n && !a.isWrite) a.data = 0x90n; // UART flag register
      else return 'unhandled';
      return 'handled';
    },
  });
  const [result] = await runner.done;

  const lines = fake.log.map((r, i) => `${i < probes ? '  probe ' : '  '}${formatLine(r)}`);
  console.log(`== variant ${variant} ==`);
  console.log(lines.join('\n'));
  console.log(`  guest UART output: ${JSON.stringify(out)}; ioeventfd counter: ${fake.eventfdCounter(kickFd)}; ` +
    `doorbells: ${JSON.stringify([...fake.vm(vm.fd).doorbells])}; vCPU 0 ended with ${result.exit?.kind}`);
  vcpu.close();
  vm.close();
  gunyah.close();
}

let formatLine;
{
  const { formatCall } = await import('@gunyah-ts/sys/fake');
  formatLine = formatCall;
}

const variants = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['A', 'B', 'C'];
for (const v of variants) await sequence(v);
