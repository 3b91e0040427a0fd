// End-to-end tests of vmm-sample inside the arm64 testbed host (npm run test:e2e): the Debian arm64
// kernel boots with a busybox initramfs on @gunyah-ts/emu (Gunyah over KVM), the console is driven
// both ways, and poweroff ends the VMM with exit status 0. node:test, plain JS (see the testbed README).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { spawnConsole } from '../console.mjs';
import { after, before, describe, it } from 'node:test';

const inTestbed = process.env.GUNYAH_TESTBED === '1';
const manifest = inTestbed ? JSON.parse(readFileSync(process.env.GUNYAH_TESTBED_MANIFEST, 'utf8')) : undefined;
const bin = fileURLToPath(new URL('../../dist/bundle/vmm-sample.js', import.meta.url));

let emuSkip = false;
if (inTestbed) {
  try {
    const emu = await import('@gunyah-ts/emu');
    if (typeof emu.createEmulator !== 'function' || typeof emu.emulatorAvailable !== 'function') emuSkip = '@gunyah-ts/emu has no createEmulator yet';
    else if (!emu.emulatorAvailable().ok) emuSkip = `emulator unavailable: ${emu.emulatorAvailable().reason}`;
  } catch (e) {
    emuSkip = `@gunyah-ts/emu cannot be imported (${String(e.message ?? e).split('\n')[0]})`;
  }
}
const skip = !inTestbed ? 'runs only inside the testbed: npm run test:e2e' : emuSkip;
const shellSkip = skip || (manifest?.guestShellInitramfs ? false : 'the testbed has no interactive guest (run npm run prepare-testbed -w @gunyah-ts/testbed)');

const SHELL_MARKER = 'GUNYAH-GUEST-SHELL-READY';
// `quiet`: every console byte is an MMIO exit, and under the testbed's emulated EL2 those are slow.
const BOOTARGS = 'console=ttyS0,115200 earlycon=uart8250,mmio,0x3f8 panic=-1 quiet';
const STEP_MS = 240_000;

/** Spawns the built CLI; `expect(text)` waits for text in the console output. */
function vmmSample(args) {
  return spawnConsole(process.execPath, [bin, ...args], { stepMs: STEP_MS, killAfterMs: 2 * STEP_MS });
}

/** Boots the interactive guest, runs a command through the console, reads it back, powers off. */
async function consoleRoundTrip(args, cpus) {
  const vm = vmmSample(args);
  let pos = await vm.expect(SHELL_MARKER);
  const eol = await vm.expect('\n', pos);
  const ready = vm.out.slice(pos, eol);
  assert.match(ready, new RegExp(`cpus=${cpus}\\b`), `guest sees ${ready}`);
  pos = await vm.expect('# ', pos); // the shell prompt
  const n = 1000 + Math.floor(Math.random() * 9000);
  vm.send(`echo hello-$((${n} + 1))\n`);
  pos = await vm.expect(`hello-${n + 1}`, pos); // only the command's output has the sum
  vm.send('poweroff -f\n');
  const { code, signal } = await vm.exited;
  assert.equal(signal, null, `vmm-sample was killed by ${signal}; stderr:\n${vm.err}`);
  assert.equal(code, 0, `exit status ${code}; stderr:\n${vm.err}\nconsole tail:\n${vm.out.slice(-1500)}`);
  assert.match(vm.err, /guest powered off/);
}

describe('vmm-sample on the emulator', { skip: shellSkip }, () => {
  let dir;
  let dtbFor;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vmm-sample-e2e-'));
    const { buildGunyahVmDt } = await import('@gunyah-ts/devicetree');
    dtbFor = (cpus) => {
      const path = join(dir, `vm-${cpus}.dtb`);
      writeFileSync(path, buildGunyahVmDt({ vcpus: cpus, memory: { base: 0x8000_0000n, size: 256n << 20n }, chosen: { bootargs: BOOTARGS } }).dtb);
      return path;
    };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('acceptance: vmm-sample --kernel Image --dtb vm.dtb --initrd initrd boots to a shell, console both ways, poweroff → 0', { timeout: 2 * STEP_MS }, async () => {
    await consoleRoundTrip(['--kernel', manifest.guestKernel, '--dtb', dtbFor(1), '--initrd', manifest.guestShellInitramfs], 1);
  });

  for (const [variant, cpus, dtb] of [
    ['C', 2, 'generated'],
    ['A', 1, 'generated'],
    ['B', 2, 'generated'],
    ['A', 2, 'user'],
    ['B', 1, 'user'],
  ]) {
    it(`variant ${variant}, ${cpus} vCPU${cpus > 1 ? 's' : ''}, ${dtb} DTB`, { timeout: 2 * STEP_MS }, async () => {
      // --verbose: the set-up steps on stderr, shown in the failure message if a boot ever hangs
      const args = ['--verbose', '--backend', 'emu', '--abi', variant, '--kernel', manifest.guestKernel, '--initrd', manifest.guestShellInitramfs];
      if (dtb === 'user') args.push('--dtb', dtbFor(cpus));
      else args.push('--cpus', String(cpus), '--cmdline', BOOTARGS);
      await consoleRoundTrip(args, cpus);
    });
  }
});

describe('Vmm as a library on the emulator', { skip }, () => {
  it('boots the guest payload to poweroff with no fd or mapping left behind', { timeout: 2 * STEP_MS }, async () => {
    const { Vmm, parseCommandLine } = await import('@gunyah-ts/vmm-sample');
    const fds = () => readdirSync('/proc/self/fd').length;
    const maps = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('memfd:') || l.includes('gunyah') || l.includes('kvm')).length;
    const cl = parseCommandLine(['--backend', 'emu', '--kernel', manifest.guestKernel, '--initrd', manifest.guestInitramfs, '--cmdline', BOOTARGS, '-q']);
    // Warm-up run: loads the modules and worker code once, so the second run can be compared.
    const once = async () => {
      const out = new PassThrough();
      let text = '';
      out.on('data', (c) => (text += c.toString('latin1')));
      const vmm = await Vmm.create(cl.config, { stdin: null, stdout: out, log: () => {}, signals: false });
      const exit = await vmm.run();
      return { exit, text };
    };
    await once();
    const before = { fds: fds(), maps: maps() };
    const { exit, text } = await once();
    assert.equal(exit.code, 0, exit.message);
    assert.match(text, /GUNYAH-GUEST-OK/);
    assert.match(text, /GUNYAH-GUEST-DONE/);
    await new Promise((r) => setTimeout(r, 200)); // worker threads finish exiting
    assert.deepEqual({ fds: fds(), maps: maps() }, before);
  });
});

/** An arm64 Image around a raw program (as bench/run.mjs): `b #0x40` at 0, header, magic, code at 0x40. */
function wrapImage(program) {
  const size = Math.ceil((0x40 + program.length) / 4096) * 4096;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x14000010, true);
  v.setBigUint64(16, BigInt(size), true);
  v.setBigUint64(24, 0xan, true);
  v.setUint32(0x38, 0x644d5241, true);
  b.set(program, 0x40);
  return b;
}

describe('vmm-sample UART output through the native MMIO sink', { skip }, () => {
  // A guest storing count, count-1, ..., 1 to the UART's THR: the low bytes must come out once each,
  // in order, whether the vCPU worker's native run loop absorbs them (default) or its JavaScript
  // handler sees every one (VMM_SAMPLE_UART_SINK=0). 9000 bytes cross two 4 KiB output batches.
  for (const sink of ['on', 'off']) {
    it(`sink ${sink}: a 9000-byte store loop comes out byte for byte, exit 0`, { timeout: STEP_MS }, async () => {
      const { storeLoopGuest } = await import('@gunyah-ts/emu/guest');
      const dir = mkdtempSync(join(tmpdir(), 'vmm-sample-sink-'));
      try {
        const N = 9000;
        const image = join(dir, 'loop.Image');
        writeFileSync(image, wrapImage(storeLoopGuest({ addr: 0x3f8, count: N }).bytes));
        const env = { ...process.env, ...(sink === 'off' ? { VMM_SAMPLE_UART_SINK: '0' } : {}) };
        const t0 = Date.now();
        const r = spawnSync(process.execPath, [bin, '--backend', 'emu', '--no-virtio', '--kernel', image, '--mem', '64M', '--cmdline', '', '-q'], {
          env,
          timeout: STEP_MS - 10_000,
          killSignal: 'SIGKILL',
          maxBuffer: 1 << 20,
        });
        assert.equal(r.signal, null, `killed by ${r.signal}; stderr:\n${r.stderr}`);
        assert.equal(r.status, 0, `exit ${r.status}; stderr:\n${r.stderr}`);
        const expected = Buffer.from(Array.from({ length: N }, (_, i) => (N - i) & 0xff));
        assert.equal(r.stdout.length, N, 'one output byte per store');
        assert.ok(r.stdout.equals(expected), 'the bytes in the guest\'s order');
        process.stderr.write(`# sink ${sink}: ${N} UART stores in ${Date.now() - t0} ms (whole VMM run)\n`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
