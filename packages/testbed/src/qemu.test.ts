import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from './manifest.js';
import { checkCmdlinePath, checkGuestPayload, HOST_CPU, hostQemuArgs, QEMU, runInHost } from './qemu.js';

describe('hostQemuArgs', () => {
  it('builds the EL2 virt machine on a Neoverse N1, no network, no reboot and 9p shares', () => {
    const a = hostQemuArgs({ kernel: '/k/Image', initrd: '/k/host.cpio', append: 'console=ttyAMA0', shares: [{ tag: 'repo', path: '/a,b' }], interactive: false });
    const after = (flag: string): string | undefined => a[a.indexOf(flag) + 1];
    expect(after('-machine')).toBe('virt,virtualization=on,gic-version=3');
    expect(after('-cpu')).toBe('neoverse-n1');
    expect(after('-cpu')).toBe(HOST_CPU);
    expect(hostQemuArgs({ kernel: 'k', initrd: 'i', append: '', shares: [], interactive: false, cpu: 'max' })).toContain('max');
    expect(after('-smp')).toBe('2');
    expect(after('-m')).toBe('2048');
    expect(after('-nic')).toBe('none');
    expect(a).toContain('-no-reboot');
    expect(after('-serial')).toBe('stdio');
    expect(after('-virtfs')).toBe('local,path=/a,,b,mount_tag=repo,security_model=none,multidevs=remap');
    expect(hostQemuArgs({ kernel: 'k', initrd: 'i', append: '', shares: [], interactive: true })).toContain('-nographic');
  });
});

describe('checkCmdlinePath', () => {
  it.each(['relative', '/with space', '/quote"', "/q'", '/tab\t', '/nl\n'])('rejects %j with BAD_ARGS', (p) => {
    expect(() => checkCmdlinePath(p)).toThrowError(expect.objectContaining({ code: 'BAD_ARGS' }));
  });
  it('accepts ordinary absolute paths', () => {
    expect(checkCmdlinePath('/work/main/packages/testbed/cache/runs/x/run.sh')).toBe('/work/main/packages/testbed/cache/runs/x/run.sh');
  });
});

// A stand-in for qemu-system-aarch64 at the process boundary: it reads the kernel command line
// from -append and behaves like the host's /init (ready marker, run the script, exit marker), or
// misbehaves as FAKE_QEMU_MODE says.
const FAKE = `#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = -append ] && append="$2"; shift; done
for a in $append; do
  case "$a" in testbed.nonce=*) nonce="\${a#testbed.nonce=}";; testbed.run=*) run="\${a#testbed.run=}";; esac
done
echo "[    0.000000] Booting Linux (fake)"
case "$FAKE_QEMU_MODE" in
  guest-ok) printf 'GUNYAH-GUEST-OK\r\nGUNYAH-GUEST-CHECK kernel=6.12 machine=aarch64 cpus=1\r\nGUNYAH-GUEST-DONE\r\n'; exit 0 ;;
  guest-half) echo GUNYAH-GUEST-OK; exit 0 ;;
  die) echo "Kernel panic - not syncing: fake"; exit 1 ;;
  hang-boot) exec sleep 60 ;;
esac
printf '@@TESTBED:%s:READY@@\\r\\n' "$nonce"
case "$FAKE_QEMU_MODE" in
  hang-command) exec sleep 60 ;;
  lost-marker) sh "$run"; exit 0 ;;
esac
sh "$run" | sed 's/$/\\r/'
rc=$(cat "$(dirname "$run")/exit")
echo "@@TESTBED:$nonce:EXIT=$rc@@"
[ "$FAKE_QEMU_MODE" = no-poweroff ] && exec sleep 60
echo "reboot: Power down"
`;

describe('runInHost (with a fake QEMU)', () => {
  let dir: string;
  let savedPath: string | undefined;
  let manifest: Manifest;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'testbed-qemu-'));
    writeFileSync(join(dir, QEMU), FAKE);
    chmodSync(join(dir, QEMU), 0o755);
    savedPath = process.env['PATH'];
    process.env['PATH'] = `${dir}:${savedPath ?? ''}`;
    manifest = {
      format: 1, key: '00000000', recipe: '00000000',
      versions: { kernelPackage: 'k', kernelDebVersion: '1', kernelRelease: 'r', busybox: 'b', libc6: 'c', libstdcxx: 's', node: '20' },
      hostKernel: '/k', hostInitramfs: '/i', guestKernel: '/k', guestInitramfs: '/g', kvmProbe: '/p', addon: '/a/gunyah_sys.node', createdAt: '',
    };
  });
  afterAll(() => {
    process.env['PATH'] = savedPath;
    delete process.env['FAKE_QEMU_MODE'];
    rmSync(dir, { recursive: true, force: true });
  });
  const run = (mode: string, command: readonly string[] | { shell: string }, extra: { commandTimeoutMs?: number; bootTimeoutMs?: number } = {}) => {
    process.env['FAKE_QEMU_MODE'] = mode;
    let out = '';
    const logs: string[] = [];
    const p = runInHost(manifest, { command, cwd: dir, cache: join(dir, 'cache'), onOutput: (t) => { out += t; }, log: (l) => logs.push(l), shutdownTimeoutMs: 500, ...extra });
    return { p, out: () => out, logs };
  };

  it('streams the output, passes cwd and environment, returns the exit code and keeps a serial log', async () => {
    const r = run('ok', { shell: 'echo "cwd=$PWD tb=$GUNYAH_TESTBED binding=$GUNYAH_SYS_BINDING"; exit 7' });
    const res = await r.p;
    expect(res.exitCode).toBe(7);
    expect(r.out()).toBe(`cwd=${dir} tb=1 binding=/a/gunyah_sys.node\n`);
    const log = readFileSync(res.serialLog, 'utf8');
    expect(log).toContain('Booting Linux (fake)');
    expect(log).toContain(':EXIT=7@@');
    expect(res.totalMs).toBeGreaterThanOrEqual(res.commandMs);
  });

  it('BOOT_FAILED with the serial tail when the machine dies before ready', async () => {
    await expect(run('die', ['true']).p).rejects.toMatchObject({ code: 'BOOT_FAILED', message: expect.stringContaining('Kernel panic - not syncing: fake') });
  });

  it('TIMEOUT when the boot hangs (QEMU killed)', async () => {
    const t0 = Date.now();
    await expect(run('hang-boot', ['true'], { bootTimeoutMs: 500 }).p).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('did not report ready') });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('TIMEOUT when the command hangs (QEMU killed)', async () => {
    await expect(run('hang-command', ['true'], { commandTimeoutMs: 500 }).p).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('did not finish') });
  });

  it('kills a machine that does not power off but still returns the exit code', async () => {
    const t0 = Date.now();
    await expect(run('no-poweroff', ['sh', '-c', 'exit 3']).p).resolves.toMatchObject({ exitCode: 3 });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('falls back to the exit file when the marker is lost', async () => {
    await expect(run('lost-marker', ['sh', '-c', 'exit 9']).p).resolves.toMatchObject({ exitCode: 9 });
  });

  it('guest payload check: passes on OK, CHECK and DONE; fails with the console tail otherwise', async () => {
    process.env['FAKE_QEMU_MODE'] = 'guest-ok';
    await expect(checkGuestPayload(manifest)).resolves.toMatchObject({ checkLine: 'GUNYAH-GUEST-CHECK kernel=6.12 machine=aarch64 cpus=1' });
    process.env['FAKE_QEMU_MODE'] = 'guest-half';
    await expect(checkGuestPayload(manifest)).rejects.toMatchObject({ code: 'BOOT_FAILED', message: expect.stringContaining('GUNYAH-GUEST-OK') });
    process.env['FAKE_QEMU_MODE'] = 'hang-boot';
    await expect(checkGuestPayload(manifest, 300)).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
});
