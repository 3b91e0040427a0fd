// Inner part of the virtio-blk benchmark (bench/virtio-blk.mjs starts it inside the testbed's arm64
// host): sequential write and read throughput with dd in the guest, on vmm-sample (emulator, virtio-blk
// over virtio-mmio with ioeventfd/irqfd) and on Debian's arm64 qemu-system-aarch64 -accel kvm
// (virtio-blk-device, virtio-mmio), same kernel, same initramfs, same fresh image, alternating, N rounds.
// Usage: node virtio-blk-run.mjs --kernel Image --initrd guest-virtio.cpio --qemu BIN --qemu-lib PATH
//        [--rounds 3] [--mib 32]
import { spawnConsole } from '../test/console.mjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    kernel: { type: 'string' },
    initrd: { type: 'string' },
    qemu: { type: 'string' },
    'qemu-lib': { type: 'string' },
    rounds: { type: 'string' },
    mib: { type: 'string' },
  },
});
const rounds = Number(o.rounds ?? 3);
const mib = Number(o.mib ?? 32);
const bin = fileURLToPath(new URL('../dist/bundle/vmm-sample.js', import.meta.url));
const READY = 'GUNYAH-GUEST-VIRTIO-READY';
const STEP_MS = 600_000;

function boot(cmd, args, env) {
  const vm = spawnConsole(cmd, args, { env: { ...process.env, ...env }, stepMs: STEP_MS });
  const run = vm.run;
  // Benchmark steps must all succeed: a failed command ends the run with its output.
  vm.run = async (line) => {
    const r = await run(line);
    if (r.rc !== 0) throw new Error(`\`${line}\` failed (${r.rc}):\n${r.text}`);
    return r.text;
  };
  return vm;
}

/** Times one dd in the guest with /proc/uptime (10 ms ticks); returns MiB/s. */
async function timed(vm, dd) {
  const text = await vm.run(`a=$(cut -d" " -f1 /proc/uptime); ${dd} 2>/dev/null; b=$(cut -d" " -f1 /proc/uptime); echo "T=$a:$b"`);
  const m = /T=([0-9.]+):([0-9.]+)/.exec(text);
  if (!m) throw new Error(`no timing in ${text}`);
  const s = Number(m[2]) - Number(m[1]);
  return mib / Math.max(s, 0.01);
}

async function measure(kind, image) {
  const vm =
    kind === 'vmm-sample'
      ? boot(process.execPath, [bin, '--kernel', o.kernel, '--initrd', o.initrd, '--cmdline', 'console=ttyS0,115200 panic=-1 quiet', '--disk', image])
      : boot(
          o.qemu,
          [
            '-machine', 'virt,gic-version=3', '-accel', 'kvm', '-cpu', 'host', '-smp', '1', '-m', '256', '-nodefaults', '-nographic', '-serial', 'stdio', '-no-reboot',
            '-kernel', o.kernel, '-initrd', o.initrd, '-append', 'console=ttyAMA0 panic=-1 quiet',
            '-drive', `file=${image},if=none,format=raw,id=d0`, '-device', 'virtio-blk-device,drive=d0',
          ],
          { LD_LIBRARY_PATH: o['qemu-lib'] ?? '' },
        );
  const t0 = Date.now();
  const pos = await vm.expect(READY);
  await vm.expect('# ', pos);
  const bootS = (Date.now() - t0) / 1000;
  // direct I/O when busybox dd has it (no guest page cache in the way), else drop caches first
  let direct = true;
  try {
    await vm.run('dd if=/dev/zero of=/dev/vda bs=4096 count=1 oflag=direct 2>/dev/null');
  } catch {
    direct = false;
  }
  const of = direct ? ' oflag=direct' : ' conv=fsync';
  const inf = direct ? ' iflag=direct' : '';
  const write = await timed(vm, `dd if=/dev/zero of=/dev/vda bs=1M count=${mib}${of}`);
  await vm.run('sync; echo 3 > /proc/sys/vm/drop_caches');
  const read = await timed(vm, `dd if=/dev/vda of=/dev/null bs=1M count=${mib}${inf}`);
  vm.child.stdin.write('poweroff -f\n');
  const timer = setTimeout(() => vm.child.kill('SIGKILL'), 60_000);
  await vm.exited;
  clearTimeout(timer);
  return { write, read, bootS, direct };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dir = mkdtempSync(join(tmpdir(), 'virtio-blk-bench-'));
const results = { 'vmm-sample': [], qemu: [] };
try {
  for (let r = 0; r < rounds; r++) {
    for (const kind of r % 2 === 0 ? ['vmm-sample', 'qemu'] : ['qemu', 'vmm-sample']) {
      const image = join(dir, `${kind}-${r}.img`);
      writeFileSync(image, new Uint8Array((mib + 8) << 20));
      const m = await measure(kind, image);
      results[kind].push(m);
      process.stdout.write(`round ${r + 1} ${kind}: write ${m.write.toFixed(1)} MiB/s, read ${m.read.toFixed(1)} MiB/s (boot to shell ${m.bootS.toFixed(1)} s, direct I/O ${m.direct})\n`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const row = (what) => {
  const a = results['vmm-sample'].map((m) => m[what]);
  const b = results.qemu.map((m) => m[what]);
  const ratios = a.map((x, i) => x / b[i]);
  return `| sequential ${what} (${mib} MiB, bs=1M) | ${median(a).toFixed(1)} MiB/s (${Math.min(...a).toFixed(1)}–${Math.max(...a).toFixed(1)}) | ${median(b).toFixed(1)} MiB/s (${Math.min(...b).toFixed(1)}–${Math.max(...b).toFixed(1)}) | ${median(ratios).toFixed(2)}× |`;
};
process.stdout.write(`\n| workload | vmm-sample (emu) | QEMU -accel kvm | ratio (vmm-sample / QEMU) |\n| --- | --- | --- | --- |\n${row('write')}\n${row('read')}\n`);
