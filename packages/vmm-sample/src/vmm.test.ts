import { readFileSync, readdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { createFakeGunyah, type FakeGunyah } from '@gunyah-ts/sys/fake';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from './config.js';
import { EXIT_STATUS, Vmm, VmmError, type VmmDeps } from './vmm.js';
import { config, imageBytes, sink, tempFiles } from '../test/helpers.js';
import type { VmmConfig } from './config.js';

const files = tempFiles({ Image: imageBytes(), initrd: new Uint8Array(5000).fill(0x5a), bad: new Uint8Array(100) });
afterEach(() => undefined);

const MEM = 64n << 20n;
const cfg = (o: Partial<VmmConfig> = {}): VmmConfig => config({ kernel: files.path('Image'), initrd: files.path('initrd'), memSize: MEM, ...o });

async function make(variant: 'A' | 'B' | 'C', o: Partial<VmmConfig> = {}, deps: Partial<VmmDeps> = {}): Promise<{ vmm: Vmm; fake: FakeGunyah; out: ReturnType<typeof sink>; logs: string[] }> {
  const fake = createFakeGunyah({ variant });
  const out = sink();
  const logs: string[] = [];
  const vmm = await Vmm.create(cfg(o), { binding: fake, stdin: null, stdout: out, log: (l) => logs.push(l), signals: false, ...deps });
  return { vmm, fake, out, logs };
}

const names = (fake: FakeGunyah, from: string): string[] => {
  const all = fake.log.map((r) => r.name);
  return all.slice(all.lastIndexOf(from));
};

const SETUP = {
  A: ['GH_CREATE_VM', 'vmm-sample-ram', 'ftruncate', 'mmap', 'GH_VM_SET_USER_MEM_REGION', 'GH_VM_SET_DTB_CONFIG', 'GH_VM_ADD_FUNCTION', 'GH_VM_ADD_FUNCTION', 'eventfd', 'GH_VM_ADD_FUNCTION', 'GH_VM_START'],
  B: [
    'GUNYAH_CREATE_VM', 'GUNYAH_CREATE_GUEST_MEM', 'mmap', 'munmap', 'GUNYAH_VM_MAP_MEM', 'GUNYAH_VM_SET_DTB_CONFIG', 'GUNYAH_VM_SET_BOOT_CONTEXT',
    'GUNYAH_VM_SET_BOOT_CONTEXT', 'GUNYAH_VM_ADD_FUNCTION', 'GUNYAH_VM_ADD_FUNCTION', 'eventfd', 'GUNYAH_VM_ADD_FUNCTION', 'GUNYAH_VM_START',
  ],
  C: [
    'GUNYAH_CREATE_VM', 'vmm-sample-ram', 'ftruncate', 'mmap', 'GH_VM_SET_USER_MEM_REGION', 'GUNYAH_VM_SET_DTB_CONFIG', 'GUNYAH_VM_SET_BOOT_CONTEXT',
    'GUNYAH_VM_SET_BOOT_CONTEXT', 'GUNYAH_VM_ADD_FUNCTION', 'GUNYAH_VM_ADD_FUNCTION', 'eventfd', 'GUNYAH_VM_ADD_FUNCTION', 'GUNYAH_VM_START',
  ],
} as const;

describe.each(['A', 'B', 'C'] as const)('variant %s on the fake', (variant) => {
  it('issues the boot sequence of spec Appendix B, runs, and closes every fd and mapping', async () => {
    const { vmm, fake } = await make(variant, { cpus: 2 });
    const vmFd = vmm.vm.fd;
    const exit = await vmm.run();
    expect(exit).toMatchObject({ code: 0, reason: 'poweroff' });
    const seq = names(fake, SETUP[variant][0]);
    expect(seq.slice(0, SETUP[variant].length)).toEqual(SETUP[variant]);
    const run = variant === 'A' ? 'GH_VCPU_RUN' : 'GUNYAH_VCPU_RUN';
    expect(seq.filter((n) => n === run).length).toBe(2); // each vCPU ran until the VM exit
    // Teardown: every fd closed; the VM before the guest memory it used.
    expect(fake.openFdCount).toBe(0);
    const log = fake.log;
    const vmClose = log.findIndex((r) => r.call === 'close' && r.fd === vmFd);
    const lastUnmap = log.map((r) => r.call).lastIndexOf('munmap');
    expect(vmClose).toBeGreaterThan(0);
    if (variant !== 'B') expect(lastUnmap).toBeGreaterThan(vmClose); // the RAM mapping outlives the VM
    const mmaps = log.filter((r) => r.call === 'mmap').length;
    const munmaps = log.filter((r) => r.call === 'munmap').length;
    expect(munmaps).toBe(mmaps);
  });

  it('registers RAM, the DTB window and the boot entry with the planned values', async () => {
    const { vmm, fake } = await make(variant);
    const vmFd = vmm.vm.fd;
    const model = fake.vm(vmFd);
    const plan = vmm.plan;
    await vmm.run();
    const args = (name: string) => fake.log.filter((r) => r.fd === vmFd && r.name.endsWith(name)).map((r) => r.args as Record<string, unknown>);
    expect(args('SET_DTB_CONFIG').at(-1)).toMatchObject({ guestPhysAddr: plan.layout.dtb.address, size: BigInt(plan.layout.dtb.size) });
    if (variant === 'B') expect(args('MAP_MEM').at(-1)).toMatchObject({ guestAddr: 0x8000_0000n, size: MEM });
    else expect(args('SET_USER_MEM_REGION').at(-1)).toMatchObject({ guestPhysAddr: 0x8000_0000n, memorySize: MEM, flags: 7 });
    const ctx = args('SET_BOOT_CONTEXT');
    if (variant === 'A') expect(ctx).toEqual([]);
    else expect(ctx.slice(-2).map((a) => a['value'])).toEqual([plan.layout.kernel.entry, plan.layout.dtb.address]);
    expect(model.status).not.toBe('NO_STATE');
  });

  it('serves the UART: guest output reaches stdout, unhandled MMIO reads 0 and writes are dropped', async () => {
    const { vmm, fake, out } = await make(variant, { verbosity: 'verbose' });
    const model = fake.vm(vmm.vm.fd);
    const w = (addr: bigint, data: bigint) => ({ kind: 'mmio', addr, len: 1, isWrite: true, data }) as const;
    model.script(0, w(0x3f8n, 0x4fn), w(0x3f8n, 0x4bn), { kind: 'mmio', addr: 0x3fdn, len: 1, isWrite: false }, { kind: 'mmio', addr: 0x1000n, len: 4, isWrite: false }, w(0x2000n, 1n));
    const exit = await vmm.run();
    expect(exit.code).toBe(0);
    expect(out.text()).toBe('OK');
    const reads = model.completions.filter((c) => !c.isWrite);
    expect(reads.map((c) => [c.addr, c.data, c.action])).toEqual([
      [0x3fdn, 0x60n, 'handled'], // LSR: THRE | TEMT
      [0x1000n, 0n, 'handled'], // nothing there: 0, not a fault
    ]);
    expect(vmm.stats).toMatchObject({ mmioExits: 5, unhandledReads: 1, unhandledWrites: 1, boots: 1 });
  });
});

describe('exits', () => {
  it.each([
    [{ kind: 'exit', status: 'EXITED', exitType: 0 }, 0, 'poweroff'],
    [{ kind: 'exit', status: 'EXITED', exitType: 2 }, 5, 'reset'],
    [{ kind: 'exit', status: 'EXITED', exitType: 3 }, 5, 'reset'],
    [{ kind: 'exit', status: 'EXITED', exitType: 4 }, 4, 'crash'],
    [{ kind: 'exit', status: 'CRASHED' }, 4, 'crash'],
    [{ kind: 'exit', status: 'EXITED', exitType: 7 }, 0, 'poweroff'],
  ] as const)('%o → exit status %d (%s)', async (event, code, reason) => {
    const { vmm, fake } = await make('C');
    fake.vm(vmm.vm.fd).script(0, { ...event, reason: Uint8Array.of(0xde, 0xad) });
    const exit = await vmm.run();
    expect(exit.code).toBe(code);
    expect(exit.reason).toBe(reason);
    expect(exit.exitInfo).toMatchObject({ vcpu: 0, reason: event.status === 'EXITED' ? 'dead' : '' });
    if (code !== 0) expect(exit.message).toMatch(/status \d \(\w+\), exit type \d \(\w+\)(, reason 0xdead)?, reported by vCPU 0/);
    expect(fake.openFdCount).toBe(0);
  });

  it('--reboot rebuilds the VM from scratch after a reset and exits on the next poweroff', async () => {
    const { vmm, fake, out } = await make('C', { reboot: true });
    fake.vm(vmm.vm.fd).script(0, { kind: 'mmio', addr: 0x3f8n, len: 1, isWrite: true, data: 0x31n }, { kind: 'exit', status: 'EXITED', exitType: 2 });
    const exit = await vmm.run();
    expect(exit).toMatchObject({ code: 0, reason: 'poweroff' });
    expect(vmm.stats.boots).toBe(2);
    expect(out.text()).toBe('1');
    expect(fake.log.filter((r) => r.name === 'GUNYAH_VM_START').length).toBe(2);
    expect(fake.openFdCount).toBe(0);
  });

  it('a refused VM_START is a VmmError START_FAILED, and everything is closed', async () => {
    const { vmm, fake } = await make('C');
    fake.vm(vmm.vm.fd).rmStartError = { errno: 'EPERM', initFailed: false };
    await expect(vmm.run()).rejects.toMatchObject({ name: 'VmmError', code: 'START_FAILED' });
    expect(fake.openFdCount).toBe(0);
  });

  it('stop() ends a running guest with 130 and tears down', async () => {
    const { vmm, fake } = await make('C');
    const model = fake.vm(vmm.vm.fd);
    model.idle = 'signal'; // a guest that never exits on its own
    const p = vmm.run();
    setTimeout(() => vmm.stop(), 50);
    const exit = await p;
    expect(exit).toMatchObject({ code: EXIT_STATUS.interrupted, reason: 'interrupted' });
    expect(fake.openFdCount).toBe(0);
  });

  it('run() twice is a STATE error', async () => {
    const { vmm } = await make('C');
    await vmm.run();
    await expect(vmm.run()).rejects.toMatchObject({ code: 'STATE' });
    expect(() => vmm.vm).toThrow(VmmError);
  });
});

describe('console through the UART', () => {
  it('stdin reaches the guest through the receive FIFO and raises the doorbell; Ctrl-A x quits', async () => {
    const stdin = new PassThrough();
    const { vmm, fake } = await make('C', {}, { stdin });
    const model = fake.vm(vmm.vm.fd);
    const rd = (addr: bigint) => ({ kind: 'mmio', addr, len: 1, isWrite: false }) as const;
    // Guest enables the RX interrupt, then keeps polling RBR; the idle vCPU behaves as if signalled.
    model.script(0, { kind: 'mmio', addr: 0x3f9n, len: 1, isWrite: true, data: 1n });
    model.idle = 'signal';
    const p = vmm.run();
    stdin.write('ab');
    await new Promise((r) => setTimeout(r, 30));
    model.script(0, rd(0x3fdn), rd(0x3f8n), rd(0x3f8n), rd(0x3fdn));
    await new Promise((r) => setTimeout(r, 30));
    stdin.write(Uint8Array.of(0x01, 0x78));
    const exit = await p;
    expect(exit).toMatchObject({ code: 130, reason: 'quit' });
    const reads = model.completions.filter((c) => !c.isWrite).map((c) => c.data);
    expect(reads).toEqual([0x61n, 0x61n, 0x62n, 0x60n]); // LSR: DR|THRE|TEMT, 'a', 'b', LSR empty
    expect(model.doorbells.get(0)).toBeGreaterThanOrEqual(1);
    expect(fake.openFdCount).toBe(0);
  });
});

describe('process resources', () => {
  it('a create/run cycle leaves /proc/self/fd and /proc/self/maps as they were', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    // Kernel objects only (the JS heap maps and unmaps pages on its own schedule).
    const maps = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => /memfd:|anon_inode:|\/dev\//.test(l)).length;
    const cycle = async () => {
      const { vmm, fake } = await make('B', { cpus: 2 });
      await vmm.run();
      expect(fake.openFdCount).toBe(0);
    };
    await cycle(); // warm-up: lazy module state
    const before = { fds: fds(), maps: maps() };
    await cycle();
    expect({ fds: fds(), maps: maps() }).toEqual(before);
  });
});

describe('bad input', () => {
  const fake = () => createFakeGunyah({ variant: 'C' });
  const deps = () => ({ binding: fake(), stdin: null, stdout: sink(), log: () => {}, signals: false });
  it.each([
    [{ kernel: '/nonexistent/Image' }, 'FILE_NOT_FOUND'],
    [{ initrd: '/nonexistent/initrd' }, 'FILE_NOT_FOUND'],
    [{ dtb: '/nonexistent/vm.dtb' }, 'FILE_NOT_FOUND'],
    [{ kernel: '/' }, 'FILE_UNREADABLE'],
    [{ dtb: files.path('bad') }, 'BAD_DTB'],
  ] as const)('%o → ConfigError %s', async (o, code) => {
    const err = await Vmm.create(cfg(o), deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe(code);
  });

  it('a file that is not an arm64 Image is an ImageLoadError', async () => {
    await expect(Vmm.create(cfg({ kernel: files.path('bad') }), deps())).rejects.toMatchObject({ name: 'ImageLoadError' });
  });

  it('an image too big for memory is a LayoutError and leaves nothing open', async () => {
    const f = fake();
    await expect(Vmm.create(cfg({ memSize: 4n << 20n }), { ...deps(), binding: f })).rejects.toMatchObject({ name: 'LayoutError', code: 'DOES_NOT_FIT' });
    expect(f.openFdCount).toBe(0);
  });
});
