// End-to-end tests of vmm-sample's virtio devices inside the arm64 testbed host (npm run test:e2e):
// the Debian arm64 kernel boots the virtio guest initramfs (virtio-mmio, virtio-blk, virtio-rng and
// ext4 modules; virtio-console is built in) on @gunyah-ts/emu, mounts ext4 images served by
// virtio-blk, and the host checks the images with e2fsprogs (debugfs, e2fsck) from the testbed host.
// Two boots: (1) a read-write and a read-only disk, hvc0 and hwrng; (2) a guest killed mid-write.
// node:test, plain JS (see the testbed README).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import { spawnConsole } from '../console.mjs';

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
const toolsSkip = inTestbed && spawnSync('sh', ['-c', 'command -v mkfs.ext4 && command -v debugfs && command -v e2fsck'], { stdio: 'ignore' }).status !== 0;
const skip = !inTestbed
  ? 'runs only inside the testbed: npm run test:e2e'
  : emuSkip ||
    (manifest?.guestVirtioInitramfs ? false : 'the testbed has no virtio guest (run npm run prepare-testbed -w @gunyah-ts/testbed)') ||
    (toolsSkip ? 'the testbed host has no e2fsprogs (run npm run prepare-testbed -w @gunyah-ts/testbed)' : false);

const READY = 'GUNYAH-GUEST-VIRTIO-READY';
const BOOTARGS = 'console=ttyS0,115200 earlycon=uart8250,mmio,0x3f8 panic=-1 quiet';
const STEP_MS = 240_000;
const DATA_LINES = 65536; // 64 bytes each: 4 MiB

/** The file the guest writes with awk: line i is `%08d-` + 55 pattern bytes + newline (64 bytes). */
function expectedData() {
  const pad = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS';
  const lines = [];
  for (let i = 0; i < DATA_LINES; i++) lines.push(`${String(i).padStart(8, '0')}-${pad}\n`);
  return Buffer.from(lines.join(''), 'latin1');
}
const AWK = `awk 'BEGIN { for (i = 0; i < ${DATA_LINES}; i++) printf "%08d-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS\\n", i }'`;

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'latin1', maxBuffer: 64 << 20, timeout: 120_000, ...opts });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/** A fresh ext4 image of `mib` MiB (optionally populated from `from`, a directory). */
function mkfs(path, mib, from) {
  writeFileSync(path, '');
  const r = sh('mkfs.ext4', ['-q', '-F', ...(from ? ['-d', from] : []), path, `${mib}M`]);
  assert.equal(r.status, 0, `mkfs.ext4 failed: ${r.stderr}${r.error ?? ''}`);
}

function sha256(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Spawns the built CLI; `expect(text)` waits for text in the console output (UART and hvc0 share stdout). */
function vmmSample(args) {
  const vm = spawnConsole(process.execPath, [bin, ...args], { stepMs: STEP_MS, killAfterMs: 3 * STEP_MS });
  /** {@link run}, asserting exit status 0 (or not 0 with `fails`). */
  vm.ok = async (cmd, fails = false) => {
    const r = await vm.run(cmd);
    if (fails) assert.notEqual(r.rc, 0, `expected \`${cmd}\` to fail:\n${r.text}`);
    else assert.equal(r.rc, 0, `\`${cmd}\` failed:\n${r.text}\nconsole tail:\n${vm.out.slice(-1500)}`);
    return r;
  };
  running.add(vm);
  vm.exited.then(() => running.delete(vm));
  return vm;
}

/** VMMs still running: killed after each test (a failed assertion must not leave a guest behind). */
const running = new Set();
const killAll = () => {
  for (const vm of running) vm.child.kill('SIGKILL');
};

const vmmArgs = (...extra) => ['--kernel', manifest.guestKernel, '--initrd', manifest.guestVirtioInitramfs, '--cmdline', BOOTARGS, ...extra];

describe('vmm-sample virtio on the emulator', { skip }, () => {
  let dir;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vmm-sample-virtio-'));
  });
  afterEach(killAll);
  after(() => {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ext4 on virtio-blk: written data reaches the image byte for byte; a read-only disk refuses writes; hvc0 and hwrng work', { timeout: 3 * STEP_MS }, async () => {
    const rw = join(dir, 'rw.img');
    const ro = join(dir, 'ro.img');
    mkfs(rw, 64);
    const src = join(dir, 'ro-src');
    mkdirSync(src);
    writeFileSync(join(src, 'keep.txt'), 'read-only content\n');
    mkfs(ro, 16, src);
    const roHash = sha256(ro);

    const vm = vmmSample(vmmArgs('--disk', rw, '--disk', `${ro},ro`));
    const pos = await vm.expect(READY);
    const eol = await vm.expect('\n', pos);
    const ready = vm.out.slice(pos, eol);
    assert.match(ready, /vda=yes/, `guest: ${ready}`);
    assert.match(ready, /hvc0=yes/, `guest: ${ready}`);
    await vm.expect('# ', eol);
    await vm.ok('[ -b /dev/vdb ]'); // the second disk

    // (i) data integrity
    await vm.ok('mount -t ext4 /dev/vda /mnt');
    await vm.ok(`${AWK} > /mnt/data.txt`);
    await vm.ok('echo hello-virtio-blk > /mnt/hello.txt && sync && umount /mnt');

    // hvc0: a line written there appears on the VMM's stdout (the UART echo shows only the unexpanded text)
    await vm.ok('echo "hvc0-line-$((20 * 21))" > /dev/hvc0');
    await vm.expect('hvc0-line-420', 0, 30_000);

    // hwrng: the virtio-rng device serves random bytes
    const rng = await vm.ok('head -c 32 /dev/hwrng | od -An -tx1 | tr -d " \\n" | wc -c');
    assert.match(rng.text, /\n64\r?\n/, `expected 64 hex digits: ${rng.text}`);

    // (ii) read-only disk
    await vm.ok('mount -t ext4 -o ro /dev/vdb /mnt && cat /mnt/keep.txt');
    assert.match(vm.out, /read-only content/);
    await vm.ok('mount -o remount,rw /mnt', true); // a read-only disk cannot be remounted rw
    await vm.ok('touch /mnt/new.txt', true);
    await vm.ok('umount /mnt');
    await vm.ok('dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync', true); // raw writes fail too

    vm.send('poweroff -f\n');
    const { code, signal } = await vm.exited;
    assert.equal(signal, null, `vmm-sample was killed by ${signal}; stderr:\n${vm.err}`);
    assert.equal(code, 0, `exit status ${code}; stderr:\n${vm.err}\nconsole tail:\n${vm.out.slice(-1500)}`);

    // host checks: content byte for byte, a clean file system, the read-only image unchanged
    const dumped = join(dir, 'data.out');
    const d = sh('debugfs', ['-R', `dump /data.txt ${dumped}`, rw]);
    assert.equal(d.status, 0, d.stderr);
    const got = readFileSync(dumped);
    const want = expectedData();
    assert.equal(got.length, want.length, 'data.txt size');
    assert.ok(got.equals(want), 'data.txt content differs from what the guest wrote');
    const hello = sh('debugfs', ['-R', 'cat /hello.txt', rw]);
    assert.equal(hello.stdout, 'hello-virtio-blk\n');
    const fsck = sh('e2fsck', ['-fn', rw]);
    assert.equal(fsck.status, 0, `e2fsck -fn: ${fsck.stdout}${fsck.stderr}`);
    assert.equal(sha256(ro), roHash, 'the read-only image changed');
  });

  it('a guest killed mid-write leaves a file system e2fsck accepts after journal replay', { timeout: 3 * STEP_MS }, async () => {
    const img = join(dir, 'kill.img');
    mkfs(img, 64);
    const vm = vmmSample(vmmArgs('--disk', img));
    const pos = await vm.expect(READY);
    await vm.expect('# ', pos);
    await vm.ok('mount -t ext4 -o commit=1 /dev/vda /mnt');
    // Endless writes: files of 256 KiB, a few syncs in between so the journal has committed work.
    vm.send('i=0; while true; do dd if=/dev/zero of=/mnt/f$((i % 64)) bs=64k count=4 2>/dev/null; [ $((i % 8)) -eq 0 ] && sync; [ $i -eq 16 ] && echo "writing-$((6 * 7))"; i=$((i + 1)); done &\n');
    await vm.expect('writing-42', 0, STEP_MS);
    await new Promise((r) => setTimeout(r, 3000));
    vm.child.kill('SIGKILL');
    const { signal } = await vm.exited;
    assert.equal(signal, 'SIGKILL');

    const replay = sh('e2fsck', ['-fy', img]);
    assert.ok(replay.status === 0 || replay.status === 1, `e2fsck -fy exited ${replay.status}: ${replay.stdout}${replay.stderr}`);
    const check = sh('e2fsck', ['-fn', img]);
    assert.equal(check.status, 0, `e2fsck -fn after replay: ${check.stdout}${check.stderr}`);
  });
});
