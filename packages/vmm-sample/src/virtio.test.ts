import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildGunyahVmDt, parseDtb } from '@gunyah-ts/devicetree';
import { Gunyah } from '@gunyah-ts/ioctls';
import { createFakeGunyah, type FakeGunyah } from '@gunyah-ts/sys/fake';
import { GuestMemory } from '@gunyah-ts/vm-memory';
import { VirtioBlock, VirtioConsole, VirtioRng, VIRTIO_MMIO, VIRTIO_MMIO_MAGIC } from '@gunyah-ts/virtio';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseCommandLine, parseDiskSpec, type VmmConfig } from './config.js';
import { formatPlan, planVm, type PlanInputs } from './plan.js';
import { runVmmCli } from './run-cli.js';
import { MmioBus } from './bus.js';
import { VIRTIO_FIRST_SPI, VIRTIO_MMIO_BASE, VirtioSet, virtioRequests } from './virtio.js';
import { Vmm } from './vmm.js';
import { config, imageBytes, sink, tempFiles } from '../test/helpers.js';

const MIB = 1 << 20;
const disk = new Uint8Array(4 * MIB);
disk.set(new TextEncoder().encode('first sector'), 0);
const files = tempFiles({
  Image: imageBytes(),
  'a.img': disk,
  'b.img': new Uint8Array(MIB),
  'tiny.img': new Uint8Array(100),
  'user.dtb': buildGunyahVmDt({ vcpus: 1, memory: { size: 64n << 20n }, chosen: { bootargs: 'x' } }).dtb,
  'user-virtio.dtb': buildGunyahVmDt({
    vcpus: 1,
    memory: { size: 64n << 20n },
    chosen: { bootargs: 'x' },
    virtioMmio: [
      { address: 0x1000_0200n, spi: 40 },
      { address: 0x1000_0000n, spi: 41 },
    ],
  }).dtb,
});
afterAll(() => files.cleanup());

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return e instanceof ConfigError ? e.code : `other: ${String(e)}`;
  }
  return undefined;
};
const runCfg = (argv: string[]): VmmConfig => {
  const r = parseCommandLine(argv);
  if (r.kind !== 'run') throw new Error(r.kind);
  return r.config;
};
const inputs = (o: Partial<PlanInputs> = {}): PlanInputs => ({ kernel: { textOffset: 0, imageSize: 20 * MIB }, kernelFileSize: 18 * MIB, initrdSize: undefined, userDtb: undefined, variant: 'C', ...o });

describe('--disk and --no-virtio', () => {
  it('parses PATH, PATH,ro and PATH,rw; repeats keep their order; virtio is on unless --no-virtio', () => {
    expect(parseDiskSpec('x.img')).toEqual({ path: 'x.img', readOnly: false });
    expect(parseDiskSpec('/a,b/x.img,ro')).toEqual({ path: '/a,b/x.img', readOnly: true });
    expect(parseDiskSpec('x.img,rw')).toEqual({ path: 'x.img', readOnly: false });
    const c = runCfg(['-i', 'I', '--disk', 'a.img', '--disk', 'b.img,ro']);
    expect(c.disks).toEqual([
      { path: 'a.img', readOnly: false },
      { path: 'b.img', readOnly: true },
    ]);
    expect(c.virtio).toBe(true);
    expect(runCfg(['-i', 'I', '--no-virtio']).virtio).toBe(false);
    expect(runCfg(['-i', 'I']).disks).toEqual([]);
  });

  it('refuses bad suffixes, empty paths and too many disks with BAD_DISK', () => {
    for (const bad of ['x.img,rx', 'x.img,', ',ro', '', 'x.img,ro,ro2']) expect(code(() => parseDiskSpec(bad))).toBe('BAD_DISK');
    expect(code(() => parseCommandLine(['-i', 'I', '--disk', 'x,readonly']))).toBe('BAD_DISK');
    expect(code(() => parseCommandLine(['-i', 'I', ...Array.from({ length: 17 }, () => ['--disk', 'x']).flat()]))).toBe('BAD_DISK');
    expect(code(() => parseCommandLine(['-i', 'I', '--disk']))).toBe('USAGE');
  });

  it('parseDiskSpec returns a disk or a BAD_DISK ConfigError for any text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (t) => {
        const c = code(() => parseDiskSpec(t));
        expect(c === undefined || c === 'BAD_DISK').toBe(true);
        if (c === undefined) expect(parseDiskSpec(t).path.length).toBeGreaterThan(0);
      }),
    );
  });

  it('orders devices: disks first, then console and rng', () => {
    expect(virtioRequests(runCfg(['-i', 'I', '--disk', 'a', '--no-virtio'])).map((r) => r.kind)).toEqual(['block']);
    expect(virtioRequests(runCfg(['-i', 'I', '--disk', 'a', '--disk', 'b'])).map((r) => r.kind)).toEqual(['block', 'block', 'console', 'rng']);
    expect(virtioRequests(config({ kernel: 'I' }))).toEqual([]); // library configs: none unless asked
  });
});

describe('planVm with virtio devices', () => {
  it('variant B (all RAM lent): --disk is BAD_DISK; the default console and rng are left out with a note', () => {
    const withDisk = config({ kernel: 'I', disks: [{ path: 'a.img', readOnly: false }], virtio: true });
    let err: unknown;
    try {
      planVm(withDisk, inputs({ variant: 'B' }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('BAD_DISK');
    expect((err as Error).message).toMatch(/variant B lends all guest RAM.*--abi A or C/);
    const p = planVm(config({ kernel: 'I', virtio: true }), inputs({ variant: 'B' }));
    expect(p.virtio).toEqual([]);
    expect(p.virtioNotes.join('\n')).toMatch(/variant B lends all guest RAM/);
    expect([...parseDtb(p.dtb).walk()].some((e) => e.path.includes('virtio_mmio'))).toBe(false);
    expect(formatPlan(p)).toMatch(/virtio.*variant B lends all guest RAM/);
    // the same request under A and C plans both devices
    for (const variant of ['A', 'C'] as const) expect(planVm(config({ kernel: 'I', virtio: true }), inputs({ variant })).virtio.map((d) => d.kind)).toEqual(['console', 'rng']);
  });

  it('generated DT: one virtio,mmio node per device from 0x0a000000 on SPIs 16…, each with a doorbell labelled by its SPI', () => {
    const p = planVm(config({ kernel: 'I', disks: [{ path: 'a.img', readOnly: true }], virtio: true }), inputs());
    expect(p.virtio.map((d) => [d.kind, d.address, d.spi, d.irqLabel, d.guestName])).toEqual([
      ['block', VIRTIO_MMIO_BASE, VIRTIO_FIRST_SPI, VIRTIO_FIRST_SPI, '/dev/vda'],
      ['console', VIRTIO_MMIO_BASE + 0x200n, VIRTIO_FIRST_SPI + 1, VIRTIO_FIRST_SPI + 1, '/dev/hvc0'],
      ['rng', VIRTIO_MMIO_BASE + 0x400n, VIRTIO_FIRST_SPI + 2, VIRTIO_FIRST_SPI + 2, '/dev/hwrng'],
    ]);
    const tree = parseDtb(p.dtb);
    const node = tree.findNode('/virtio_mmio@a000000') ?? [...tree.walk()].find((e) => e.path.endsWith('virtio_mmio@a000000'))?.node;
    expect(node?.property('compatible')?.asString()).toBe('virtio,mmio');
    expect(Array.from(node?.property('interrupts')?.asU32Array() ?? [])).toEqual([0, 16, 1]);
    const bells = [...tree.walk()].filter((e) => e.node.property('vdevice-type')?.asString() === 'doorbell').map((e) => e.node.property('label')?.asU32());
    expect(bells).toEqual(expect.arrayContaining([0, 16, 17, 18]));
    const text = formatPlan(p, { dts: false });
    expect(text).toContain('virtio-blk /dev/vda from a.img (read-only) at 0xa000000, SPI 16, irqfd on doorbell label 16');
    expect(text).toContain('virtio-console /dev/hvc0 to stdout at 0xa000200');
    expect(text).toContain('virtio-rng /dev/hwrng at 0xa000400');
  });

  it('no devices asked: no virtio node, plan as before', () => {
    const p = planVm(config({ kernel: 'I' }), inputs());
    expect(p.virtio).toEqual([]);
    expect([...p.tree.walk()].some((e) => e.path.includes('virtio'))).toBe(false);
  });

  it('user DT: devices take its virtio,mmio nodes in address order with their doorbells', () => {
    const userDtb = readFileSync(files.path('user-virtio.dtb'));
    const p = planVm(config({ kernel: 'I', memSize: 64n << 20n, disks: [{ path: 'a.img', readOnly: false }], virtio: true }), inputs({ userDtb }));
    expect(p.virtio.map((d) => [d.kind, d.address, d.spi, d.irqLabel])).toEqual([
      ['block', 0x1000_0000n, 41, 41],
      ['console', 0x1000_0200n, 40, 40],
    ]);
    expect(p.virtioNotes).toEqual(['the DTB has 2 usable virtio,mmio nodes: left out virtio-rng']);
    expect(formatPlan(p, { dts: false })).toContain('left out virtio-rng');
  });

  it('user DT without virtio nodes: --disk is BAD_DTB; console and rng are left out quietly', () => {
    const userDtb = readFileSync(files.path('user.dtb'));
    expect(code(() => planVm(config({ kernel: 'I', memSize: 64n << 20n, disks: [{ path: 'a.img', readOnly: false }] }), inputs({ userDtb })))).toBe('BAD_DTB');
    const p = planVm(config({ kernel: 'I', memSize: 64n << 20n, virtio: true }), inputs({ userDtb }));
    expect(p.virtio).toEqual([]);
    expect(p.warnings).toEqual([]);
    expect(p.virtioNotes).toHaveLength(1);
  });
});

type FnRecord = { type: number; decoded: Record<string, unknown> };
const fnCalls = (fake: FakeGunyah, vmFd: number, type: number): Record<string, unknown>[] =>
  fake.log
    .filter((r) => r.fd === vmFd && r.name.endsWith('ADD_FUNCTION'))
    .map((r) => r.args as FnRecord)
    .filter((a) => a.type === type)
    .map((a) => a.decoded);

describe.each(['A', 'C'] as const)('the VMM wires virtio on the fake, variant %s', (variant) => {
  it('irqfd per device on its doorbell label, one datamatch ioeventfd per queue on QueueNotify, windows on the bus; all fds closed', async () => {
    const fake = createFakeGunyah({ variant });
    const out = sink();
    const vmm = await Vmm.create(
      config({ kernel: files.path('Image'), memSize: 64n << 20n, disks: [{ path: files.path('a.img'), readOnly: false }, { path: files.path('b.img'), readOnly: true }], virtio: true }),
      { binding: fake, stdin: null, stdout: out, log: () => undefined, signals: false },
    );
    const vmFd = vmm.vm.fd;
    const irqfds = fnCalls(fake, vmFd, 2);
    // UART (label 0) then blk, blk, console, rng (labels 16..19)
    expect(irqfds.map((a) => a['label'])).toEqual([0, 16, 17, 18, 19]);
    const io = fnCalls(fake, vmFd, 3);
    const notify = (i: number): bigint => VIRTIO_MMIO_BASE + BigInt(i * 0x200 + VIRTIO_MMIO.QUEUE_NOTIFY);
    expect(io.map((a) => [a['addr'], a['len'], a['datamatch'], a['flags']])).toEqual([
      [notify(0), 4, 0n, 1],
      [notify(1), 4, 0n, 1],
      [notify(2), 4, 0n, 1],
      [notify(2), 4, 1n, 1],
      [notify(3), 4, 0n, 1],
    ]);
    // every irqfd/ioeventfd is a distinct eventfd
    const fds = [...irqfds, ...io].map((a) => a['fd']);
    expect(new Set(fds).size).toBe(fds.length);
    const model = fake.vm(vmFd);
    expect(model.ioeventfds).toHaveLength(5);
    const exit = await vmm.run();
    expect(exit.code).toBe(0);
    expect(fake.openFdCount).toBe(0);
  });
});

describe('the VMM on the fake, variant B (all RAM lent)', () => {
  it('--disk is refused before anything is created; the default devices are left out (UART irqfd only, no ioeventfd)', async () => {
    const fake = createFakeGunyah({ variant: 'B' });
    const disks = [{ path: files.path('a.img'), readOnly: false }];
    await expect(
      Vmm.create(config({ kernel: files.path('Image'), memSize: 64n << 20n, disks, virtio: true }), { binding: fake, stdin: null, stdout: sink(), log: () => undefined, signals: false }),
    ).rejects.toMatchObject({ name: 'ConfigError', code: 'BAD_DISK' });
    expect(fake.openFdCount).toBe(0);
    const vmm = await Vmm.create(config({ kernel: files.path('Image'), memSize: 64n << 20n, virtio: true }), {
      binding: fake,
      stdin: null,
      stdout: sink(),
      log: () => undefined,
      signals: false,
    });
    expect(fnCalls(fake, vmm.vm.fd, 2).map((a) => a['label'])).toEqual([0]);
    expect(fnCalls(fake, vmm.vm.fd, 3)).toEqual([]);
    expect((await vmm.run()).code).toBe(0);
    expect(fake.openFdCount).toBe(0);
  });
});

describe('VirtioSet on the fake', () => {
  it('serves the windows on the bus, delivers ioeventfd signals through pollNotifications, releases every fd', async () => {
    const fake = createFakeGunyah({ variant: 'C' });
    const g = Gunyah.open({ binding: fake, variant: 'C' });
    const vm = g.createVm();
    const memory = GuestMemory.fromBuffers([{ start: 0x8000_0000n, size: MIB }]);
    const bus = new MmioBus();
    const teardown: (() => void)[] = [];
    const logs: string[] = [];
    const plan = planVm(config({ kernel: 'I', disks: [{ path: files.path('a.img'), readOnly: false }], virtio: true }), inputs());
    const set = VirtioSet.attach({
      devices: plan.virtio,
      vm,
      binding: fake,
      memory,
      register: (b, s2, d, n) => bus.register(b, s2, d, n),
      consoleOutput: sink(),
      kernelEventfds: false,
      onTeardown: (fn) => teardown.push(fn),
      step: (_what, fn) => fn(),
      log: (l) => logs.push(l),
    });
    const rd = (addr: bigint): bigint | undefined => {
      const r = bus.dispatch({ addr, size: 4, isWrite: false });
      return r.status === 'handled' ? r.value : undefined;
    };
    expect(plan.virtio.map((d) => rd(d.address + BigInt(VIRTIO_MMIO.MAGIC_VALUE)))).toEqual([BigInt(VIRTIO_MMIO_MAGIC), BigInt(VIRTIO_MMIO_MAGIC), BigInt(VIRTIO_MMIO_MAGIC)]);
    expect(plan.virtio.map((d) => rd(d.address + BigInt(VIRTIO_MMIO.DEVICE_ID)))).toEqual([2n, 3n, 4n]);
    expect(set.devices.map((d) => d.ioeventfds.length)).toEqual([1, 2, 1]);
    expect(set.pollNotifications()).toBe(0);
    const consoleTx = set.devices[1]!.ioeventfds[1]!;
    fake.write(consoleTx, new BigUint64Array([1n]));
    expect(set.pollNotifications()).toBe(1);
    expect(set.pollNotifications()).toBe(0);
    set.start(); // no kernel eventfds: no listener, nothing to start
    await set.stop();
    fake.write(consoleTx, new BigUint64Array([1n]));
    expect(set.pollNotifications()).toBe(0); // stopped: ignored
    vm.close();
    for (const fn of teardown.reverse()) fn();
    g.close();
    expect(fake.openFdCount).toBe(0);
  });

  it('a disk that cannot be opened is a ConfigError (exit 2), and nothing stays open', () => {
    const fake = createFakeGunyah({ variant: 'C' });
    const g = Gunyah.open({ binding: fake, variant: 'C' });
    const vm = g.createVm();
    const teardown: (() => void)[] = [];
    const plan = planVm(config({ kernel: 'I', disks: [{ path: files.path('a.img'), readOnly: false }], virtio: true }), inputs());
    const devices = plan.virtio.map((d) => (d.kind === 'block' ? { ...d, disk: { path: join(files.dir, 'gone.img'), readOnly: false } } : d));
    expect(() =>
      VirtioSet.attach({
        devices,
        vm,
        binding: fake,
        memory: GuestMemory.fromBuffers([{ start: 0x8000_0000n, size: MIB }]),
        register: () => undefined,
        consoleOutput: sink(),
        kernelEventfds: false,
        onTeardown: (fn) => teardown.push(fn),
        step: (_what, fn) => fn(),
        log: () => undefined,
      }),
    ).toThrow(expect.objectContaining({ name: 'ConfigError', code: 'FILE_UNREADABLE' }));
    vm.close();
    for (const fn of teardown.reverse()) fn();
    g.close();
    expect(fake.openFdCount).toBe(0);
  });

  it('device models are the @gunyah-ts/virtio ones with the documented ids', () => {
    const blk = VirtioBlock.open(files.path('a.img'), { readOnly: true });
    expect(blk.deviceId).toBe(2);
    expect(blk.capacity).toBe(BigInt((4 * MIB) / 512));
    blk.close();
    expect(new VirtioConsole({ output: () => undefined }).deviceId).toBe(3);
    expect(new VirtioRng().deviceId).toBe(4);
    expect(VIRTIO_MMIO_MAGIC).toBe(0x74726976);
  });
});

describe('CLI errors for --disk', () => {
  const cli = async (...argv: string[]): Promise<{ status: number; err: string; out: string }> => {
    const err = sink();
    const out = sink();
    const status = await runVmmCli(argv, { version: '0', out, err, deps: { binding: createFakeGunyah({ variant: 'C' }), stdin: null, stdout: sink(), signals: false } });
    return { status, err: err.text(), out: out.text() };
  };
  it('missing file → exit 2 with one line', async () => {
    const r = await cli('--kernel', files.path('Image'), '--disk', '/nonexistent/disk.img');
    expect(r.status).toBe(2);
    expect(r.err).toBe('vmm-sample: disk /nonexistent/disk.img does not exist\n');
  });
  it('bad suffix → exit 2', async () => {
    const r = await cli('--kernel', files.path('Image'), '--disk', `${files.path('a.img')},readonly`);
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/^vmm-sample: --disk .*unknown option "readonly" \(use PATH or PATH,ro\)\n$/);
  });
  it('a file smaller than a sector → exit 2; a user DTB without virtio nodes → exit 2', async () => {
    expect((await cli('--kernel', files.path('Image'), '--disk', files.path('tiny.img'))).status).toBe(2);
    const r = await cli('--kernel', files.path('Image'), '--mem', '64M', '--dtb', files.path('user.dtb'), '--disk', files.path('a.img'), '--dry-run');
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/--disk needs 1 virtio,mmio node .* in the DTB, which has 0; leave out --dtb/);
  });
  it('--dry-run lists the devices', async () => {
    const r = await cli('--kernel', files.path('Image'), '--disk', `${files.path('a.img')},ro`, '--dry-run');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/virtio +virtio-blk \/dev\/vda from .*a\.img \(read-only\) at 0xa000000, SPI 16/);
    expect(r.out).toMatch(/virtio +virtio-console \/dev\/hvc0 to stdout at 0xa000200/);
    expect(r.out).toMatch(/virtio_mmio@a000000/);
    const none = await cli('--kernel', files.path('Image'), '--no-virtio', '--dry-run');
    expect(none.out).not.toContain('virtio');
  });
});
