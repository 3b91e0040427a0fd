#!/usr/bin/env node
// Benchmarks of @gunyah-ts/ioctls, each against a reference measured in the same run.
// Build first (`npx tsc -b` in gunyah-sys and gunyah-ioctls), then `npm run bench`.
import { Gunyah, UserspaceMemoryRegion, VcpuRunPage, decodeVcpuExit } from '@gunyah-ts/ioctls';
import { createFakeGunyah } from '@gunyah-ts/sys/fake';

function measure(name, n, fn) {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0);
  return { name, n, nsPerOp: ns / n };
}

function row(subject, reference) {
  const ratio = subject.nsPerOp / reference.nsPerOp;
  console.log(
    `${subject.name.padEnd(44)} ${subject.nsPerOp.toFixed(1).padStart(8)} ns/op | ${reference.name.padEnd(40)} ${reference.nsPerOp
      .toFixed(1)
      .padStart(8)} ns/op | ratio ${ratio.toFixed(2)}`,
  );
}

// 1. Run-page exit decode: live view vs. copy-then-decode.
{
  const buf = new ArrayBuffer(4096);
  const dv = new DataView(buf);
  dv.setUint32(8, 1, true);
  dv.setBigUint64(16, 0x0900_0000n, true);
  dv.setUint32(32, 4, true);
  dv.setUint8(36, 1);
  dv.setUint32(24, 0x41, true);
  const page = new VcpuRunPage(buf, 'C');
  const live = measure('VcpuRunPage.decode() (live view)', 1_000_000, () => page.decode());
  const copy = measure('copy 40 bytes + decodeVcpuExit', 1_000_000, () => decodeVcpuExit(new DataView(buf.slice(0, 40)), 'C'));
  row(live, copy);
}

// 2. Struct encode: checked codec vs. unchecked hand-written DataView writes.
{
  const v = { label: 1, flags: 7, guestPhysAddr: 0x8000_0000n, memorySize: 0x20_0000n, userspaceAddr: 0x7f00_0000_0000n };
  const codec = measure('UserspaceMemoryRegion.encode (validated)', 1_000_000, () => UserspaceMemoryRegion.encode(v));
  const raw = measure('inline DataView writes (no validation)', 1_000_000, () => {
    const d = new DataView(new ArrayBuffer(32));
    d.setUint32(0, v.label, true);
    d.setUint32(4, v.flags, true);
    d.setBigUint64(8, v.guestPhysAddr, true);
    d.setBigUint64(16, v.memorySize, true);
    d.setBigUint64(24, v.userspaceAddr, true);
    return d;
  });
  row(codec, raw);
}

// 3. An MMIO exit round trip on the fake: typed Vcpu.run() vs. the raw binding ioctl + decode.
{
  const fake = createFakeGunyah({ variant: 'C' });
  const g = Gunyah.open({ binding: fake });
  const vm = g.createVm();
  const c = fake.constants();
  const m = fake.memfdCreate('ram', c.MFD_CLOEXEC);
  fake.ftruncate(m, 0x10000);
  const ram = fake.mmap(m, 0x10000, 3, 1, 0);
  vm.addGuestMemory({ guestAddr: 0x8000_0000n, size: 0x10000, mode: 'share', hostAddr: fake.addressOf(ram) });
  vm.setDtbConfig({ guestPhysAddr: 0x8000_0000n, size: 0x1000 });
  const vcpu = vm.addVcpu(0);
  vm.start();
  const model = fake.vm(vm.fd);
  const step = { kind: 'mmio', addr: 0x900_0000n, len: 4, isWrite: true, data: 1n };
  fake.log.length = 0;
  const N = 200_000;
  const typed = measure('Vcpu.run() → VcpuExit (fake backend)', N, () => {
    model.script(0, step);
    vcpu.run();
    if ((fake.log.length & 0xffff) === 0) fake.log.length = 0;
  });
  const page = vcpu.runPage;
  const raw = measure('binding.ioctl(VCPU_RUN) + page.decode()', N, () => {
    model.script(0, step);
    fake.ioctl(vcpu.fd, 0x4705);
    page.decode();
    if ((fake.log.length & 0xffff) === 0) fake.log.length = 0;
  });
  row(typed, raw);
}
