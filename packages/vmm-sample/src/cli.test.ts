import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildGunyahVmDt, FdtParseError } from '@gunyah-ts/devicetree';
import { ErrnoError } from '@gunyah-ts/sys';
import { createFakeGunyah } from '@gunyah-ts/sys/fake';
import { ImageLoadError, LayoutError } from '@gunyah-ts/vm-memory/loader';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from './config.js';
import { describeError, runVmmCli } from './run-cli.js';
import { VmmError } from './vmm.js';
import { imageBytes, sink, tempFiles } from '../test/helpers.js';

// the command as npm installs it (the bundle, package.json "bin") and the unbundled module
const bins = [
  ['bundle', fileURLToPath(new URL('../dist/bundle/vmm-sample.js', import.meta.url))],
  ['dist/bin/cli.js', fileURLToPath(new URL('../dist/bin/cli.js', import.meta.url))],
] as const;
let bin: string = bins[0][1];
const files = tempFiles({
  Image: imageBytes(),
  'Image.bad': new Uint8Array(4096),
  initrd: new Uint8Array(10000),
  'vm.dtb': buildGunyahVmDt({ vcpus: 2, memory: { size: 128n << 20n }, chosen: { bootargs: 'console=ttyS0 user-dtb' } }).dtb,
  'garbage.dtb': new Uint8Array(200).fill(7),
});
const K = files.path('Image');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines.length).toBe(1);
  expect(lines[0]).toMatch(/^vmm-sample: /);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  return lines[0] as string;
}

describe.each(bins)('vmm-sample (the built command: %s)', (_name, path) => {
  beforeAll(() => {
    if (!existsSync(path)) throw new Error(`${path} is not built: npm run build -w @gunyah-ts/vmm-sample`);
    bin = path;
  });

  it('--help prints the usage with examples and exit statuses; --version the version', () => {
    const h = cli('--help');
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/^Usage: vmm-sample --kernel Image/);
    expect(h.stdout).toContain('Examples:');
    expect(h.stdout).toContain('Exit status: 0 guest powered off; 2 bad usage');
    expect(cli('--version').stdout).toMatch(/^vmm-sample \d+\.\d+\.\d+\n$/);
  });

  it.each([
    [[], /no kernel given/],
    [['--kernel'], /argument missing|--kernel/],
    [['--kernel', K, '--bogus'], /Unknown option '--bogus'/],
    [['--kernel', K, '--mem', 'lots'], /--mem "lots" is not a size/],
    [['--kernel', K, '--cpus', '0'], /--cpus must be a whole number/],
    [['--kernel', '/nonexistent/Image', '--dry-run'], /kernel \/nonexistent\/Image does not exist/],
    [['--kernel', K, '--initrd', '/nonexistent/initrd', '--dry-run'], /initrd \/nonexistent\/initrd does not exist/],
    [['--kernel', files.path('Image.bad'), '--dry-run'], /\[BAD_MAGIC\]|magic/],
    [['--kernel', K, '--dtb', files.path('garbage.dtb'), '--dry-run'], /the DTB is malformed/],
    [['--kernel', K, '--mem', '4M', '--dry-run'], /does not fit|no room/],
    [['--kernel', K, '--initrd', files.path('initrd'), '--initrd-offset', '0x100000', '--dry-run'], /overlap/i],
    [['--kernel', K, '--abi', 'A', '--kernel-offset', '0x200000', '--dry-run'], /variant A has no boot context/],
    [['--kernel', K, '--dtb', files.path('vm.dtb'), '--cpus', '3', '--dry-run'], /--cpus 3 disagrees with the DTB's 2 CPU nodes/],
    [['--kernel', K, '--abi', 'B', '--disk', files.path('initrd'), '--dry-run'], /--disk needs a virtio-blk device, but variant B lends all guest RAM/],
  ])('%j → exit 2 with one line', (args, message) => {
    const r = cli(...args);
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toMatch(message);
  });

  it('no usable backend → exit 3 with the options spelled out', () => {
    const r = cli('--kernel', K, '--backend', 'gunyah', '--device', '/nonexistent/gunyah');
    expect(r.status).toBe(3);
    expect(oneLine(r.stderr)).toMatch(/\/nonexistent\/gunyah does not exist; run on a Gunyah host/);
  });

  it('--dry-run prints the memory plan and the devicetree and starts nothing', () => {
    const r = cli('--kernel', K, '--initrd', files.path('initrd'), '--dry-run', '--cpus', '2', '--abi', 'B', '--cmdline', 'console=ttyS0 quiet');
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^# vmm-sample plan: variant B, generated devicetree, 2 vCPUs$/m);
    expect(r.stdout).toMatch(/^initrd +0x8ffed000\.\.0x8ffef70f/m);
    expect(r.stdout).toMatch(/bootargs = "console=ttyS0 quiet";/);
    expect(r.stdout).toMatch(/cpu@1 \{/);
    expect(r.stdout).toMatch(/^virtio +none: variant B lends all guest RAM/m);
    expect(r.stdout).not.toMatch(/virtio_mmio@/);
  });

  it('--dry-run with a user DTB takes RAM from it and patches /chosen', () => {
    const r = cli('-i', K, '-d', files.path('vm.dtb'), '-r', files.path('initrd'), '--dry-run');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^# vmm-sample plan: variant C, user devicetree, 2 vCPUs$/m);
    expect(r.stdout).toMatch(/^RAM +0x80000000\.\.0x87ffffff +128 MiB/m);
    expect(r.stdout).toMatch(/bootargs = "console=ttyS0 user-dtb";/);
    expect(r.stdout).toMatch(/linux,initrd-start = <0x0 0x87fed000>;/);
    expect(r.stdout).toContain('# planned for variant C; pass --abi A|B|C for another variant');
  });

  it('a reader that goes away (`--dry-run | head -1`) ends the command quietly, exit 0', async () => {
    const child = spawn(process.execPath, [bin, '--kernel', K, '--dry-run'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the pipe's read end is closed before the plan is written
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

describe('the bundled command (dist/bundle)', () => {
  it('is the package "bin", carries the emulator as a lazy chunk and resolves module URLs from the packages', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin['vmm-sample']).toBe('./dist/bundle/vmm-sample.js');
    const dir = new URL('../dist/bundle/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
    expect(files).toContain('vmm-sample.js');
    expect(files.length).toBeGreaterThanOrEqual(2); // the command + the emulator's chunk (+ shared code)
    const entry = readFileSync(new URL('vmm-sample.js', dir), 'utf8');
    expect(entry).toMatch(/import\(["']\.\/[^"']+\.js["']\)/); // the emulator: a dynamic import of a chunk
    let all = '';
    for (const f of files) {
      const src = readFileSync(new URL(f, dir), 'utf8');
      all += src;
      // every module URL is resolved from its own package, never the bundle's location
      expect(src.replace(/import\.meta\.resolve/g, '').replace(/const __moduleUrl = [^\n]*\n/, '')).not.toContain('import.meta.url');
    }
    expect(all).toContain('__moduleUrl("@gunyah-ts/sys", "dist/load.js")'); // the addon's paths
    expect(all).toContain('__moduleUrl("@gunyah-ts/ioctls", "dist/runner.js")'); // the vCPU worker
  });
});

describe('runVmmCli (in-process, fake backend)', () => {
  const run = async (variant: 'A' | 'B' | 'C', args: string[], script?: (fd: number, fake: ReturnType<typeof createFakeGunyah>) => void) => {
    const fake = createFakeGunyah({ variant });
    const out = sink();
    const err = sink();
    const stdout = sink();
    const code = await runVmmCli(args, { version: '0', out, err, deps: { binding: fake, stdin: null, stdout, signals: false } });
    return { code, err: err.text(), stdout: stdout.text(), fake };
  };
  it('a guest poweroff is exit 0 and prints "guest powered off" (nothing with --quiet)', async () => {
    const r = await run('C', ['-i', K, '--mem', '64M']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('vmm-sample: guest powered off\n');
    expect((await run('A', ['-i', K, '--mem', '64M', '-q'])).err).toBe('');
    expect(r.fake.openFdCount).toBe(0);
  });
  it('--verbose prints the setup steps', async () => {
    const r = await run('B', ['-i', K, '--mem', '64M', '-v']);
    expect(r.err).toMatch(/vmm-sample: \+\d+\.\d{3}s CREATE_GUEST_MEM 67108864 bytes\n/);
    expect(r.err).toMatch(/vmm-sample: \+\d+\.\d{3}s munmap lent guest_memfd pages/);
    expect(r.err).toMatch(/vmm-sample: \+\d+\.\d{3}s VM_START ok\n/);
  });
});

describe('describeError', () => {
  it.each([
    [new ConfigError('BAD_SIZE', 'x'), 2],
    [new ConfigError('NO_BACKEND', 'x'), 3],
    [new ImageLoadError('BAD_MAGIC', 'x'), 2],
    [new LayoutError('OVERLAP', 'x'), 2],
    [new FdtParseError('TRUNCATED', 'x', 0), 2],
    [new VmmError('START_FAILED', 'x'), 4],
    [new ErrnoError(1, 'ioctl', 'GUNYAH_VM_START'), 4],
    [new TypeError('boom'), 4],
    ['a string', 4],
  ])('%o → %d', (e, code) => {
    const d = describeError(e);
    expect(d.code).toBe(code);
    expect(d.message).not.toContain('\n');
  });
});
