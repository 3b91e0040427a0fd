// Worker mode of VcpuRunner with the real addon: vCPU workers, the SharedArrayBuffer MMIO hand-off,
// and stop() = immediate_exit + a real-time signal interrupting a genuinely blocked syscall.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadNativeBinding, nativeBindingAvailable } from '@gunyah-ts/sys';
import { afterAll, describe, expect, it } from 'vitest';
import { IoctlsError, Vcpu, VcpuRunner, VcpuWorkerPool, variantInfo, type MmioAccess } from '../../src/index.js';
// @ts-expect-error -- plain ESM fixture without types
import { createBinding } from './fixtures/scripted-binding.mjs';

const fixture = new URL('./fixtures/scripted-binding.mjs', import.meta.url).href;
const fastMmio = new URL('./fixtures/fast-mmio.mjs', import.meta.url).href;
const built = existsSync(fileURLToPath(new URL('../../dist/worker.js', import.meta.url)));
const enabled = nativeBindingAvailable() && built;

describe.skipIf(!enabled)(`VcpuRunner worker mode (needs the built addon and \`npx tsc -b\`${enabled ? '' : ': skipped'})`, () => {
  const n = enabled ? loadNativeBinding() : undefined;
  const fds: number[] = [];
  afterAll(() => {
    for (const fd of fds) n?.close(fd);
  });

  function setup(): { efd: number; vcpu: Vcpu } {
    const pageFd = n!.memfdCreate('run-page', 1);
    n!.ftruncate(pageFd, n!.pageSize());
    process.env['GUNYAH_TEST_RUN_PAGE_FD'] = String(pageFd);
    const efd = n!.eventfd(0, 0);
    fds.push(pageFd, efd);
    const binding = (createBinding as () => import('@gunyah-ts/sys').BindingModule)();
    return { efd, vcpu: Vcpu.fromRawFd(efd, { id: 0, info: variantInfo('C'), binding }) };
  }

  /**
   * The main thread's MMIO handler of a test: answers reads with `answer` (when it gives a value),
   * records every access, and resolves `arrived` on each access `wakeOn` picks (`rearm()` for the next).
   */
  function recorder(answer: (a: MmioAccess) => bigint | undefined, wakeOn: (a: MmioAccess) => boolean = () => true) {
    const seen: MmioAccess[] = [];
    let wake!: () => void;
    const r = {
      seen,
      arrived: Promise.resolve(),
      rearm(): void {
        r.arrived = new Promise<void>((res) => (wake = res));
      },
      mmio(a: MmioAccess): 'handled' {
        if (!a.isWrite) a.data = answer(a) ?? a.data;
        seen.push({ ...a });
        if (wakeOn(a)) wake();
        return 'handled';
      },
    };
    r.rearm();
    return r;
  }

  it('hands MMIO reads and writes to the main thread and stops a vCPU blocked in the kernel', async () => {
    const { efd, vcpu } = setup();
    const rec = recorder((a) => a.addr * 2n, (a) => a.isWrite);
    const runner = VcpuRunner.start({ vcpus: [vcpu], workerBinding: fixture, mmio: rec.mmio });
    expect(runner.mode).toBe('worker');
    n!.write(efd, new BigUint64Array([5n]));
    await rec.arrived;
    expect(rec.seen).toEqual([
      { addr: 0x1005n, len: 4, isWrite: false, data: 0x200an },
      { addr: 0x2000n, len: 8, isWrite: true, data: 0x200an },
    ]);
    // The worker is now blocked in read(): stop() must interrupt it.
    const t0 = Date.now();
    const [res] = await runner.stop();
    expect(res).toMatchObject({ id: 0, reason: 'stopped', error: undefined });
    expect(Date.now() - t0).toBeLessThan(2000);
  }, 10_000);

  it('other exits go to onExit on the main thread; "stop" ends the vCPU', async () => {
    const { efd, vcpu } = setup();
    const exits: string[] = [];
    const runner = VcpuRunner.start({
      vcpus: [vcpu],
      workerBinding: fixture,
      mmio: () => 'handled',
      onExit: (id, exit) => (exits.push(`${id}:${exit.kind}`), 'stop'),
    });
    n!.write(efd, new BigUint64Array([255n]));
    const [res] = await runner.done;
    expect(exits).toEqual(['0:shutdown']);
    expect(res).toMatchObject({ id: 0, reason: 'exit', exit: { kind: 'shutdown', status: 2, exitType: 1 } });
  }, 10_000);

  it('stop() right after start ends the worker too', async () => {
    const { vcpu } = setup();
    const runner = VcpuRunner.start({ vcpus: [vcpu], workerBinding: fixture, mmio: () => 'handled' });
    const [res] = await runner.stop();
    expect(res?.reason).toBe('stopped');
  }, 10_000);

  it('workerMmio: accesses the worker handler answers never reach the main thread; "forward" does', async () => {
    const { efd, vcpu } = setup();
    const sab = new SharedArrayBuffer(8);
    const counts = new Int32Array(sab);
    Atomics.store(counts, 1, -1);
    const rec = recorder(() => 0x77n, (a) => a.isWrite);
    const runner = VcpuRunner.start({ vcpus: [vcpu], workerBinding: fixture, workerMmio: { module: fastMmio, data: { sab } }, mmio: rec.mmio });
    // n = 5: the read of 0x1005 is answered in the worker (0x1005 * 3); only the echo write arrives
    n!.write(efd, new BigUint64Array([5n]));
    await rec.arrived;
    expect(rec.seen).toEqual([{ addr: 0x2000n, len: 8, isWrite: true, data: 0x1005n * 3n }]);
    expect(Atomics.load(counts, 0)).toBe(1);
    expect(Atomics.load(counts, 1)).toBe(0); // the vCPU id given to createWorkerMmio
    // n = 0x20: outside the fast range, forwarded: the main thread answers the read
    rec.rearm();
    n!.write(efd, new BigUint64Array([0x20n]));
    await rec.arrived;
    expect(rec.seen.slice(1)).toEqual([
      { addr: 0x1020n, len: 4, isWrite: false, data: 0x77n },
      { addr: 0x2000n, len: 8, isWrite: true, data: 0x77n },
    ]);
    expect(Atomics.load(counts, 0)).toBe(1);
    const [res] = await runner.stop();
    expect(res).toMatchObject({ id: 0, reason: 'stopped', error: undefined });
  }, 10_000);

  it('workerMmio with a sink: the writes it absorbs stay in the binding\'s run loop; the rest reach the handler and the main thread', async () => {
    const { efd, vcpu } = setup();
    const sab = new SharedArrayBuffer(8);
    const counts = new Int32Array(sab);
    const sinkSab = new SharedArrayBuffer(64);
    const words = new Int32Array(sinkSab, 0, 4);
    const rec = recorder(() => 0x41n);
    const { seen } = rec;
    const runner = VcpuRunner.start({ vcpus: [vcpu], workerBinding: fixture, workerMmio: { module: fastMmio, data: { sab, sinkSab } }, mmio: rec.mmio });
    // n = 5: the read of 0x1005 is answered in the worker (0x1005 * 3), its echo write to 0x2000 is
    // absorbed by the sink (low byte 0x0f) without reaching anyone
    n!.write(efd, new BigUint64Array([5n]));
    const deadline = Date.now() + 5000;
    while (Atomics.load(words, 1) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(Atomics.load(words, 1)).toBe(1);
    expect(new Uint8Array(sinkSab, 16, 1)[0]).toBe(0x0f);
    expect(seen).toEqual([]);
    // the sink refuses while its lock is held: n = 0x20 is forwarded (read), and the echo write too
    Atomics.store(words, 0, 1);
    n!.write(efd, new BigUint64Array([0x20n]));
    await rec.arrived;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual([
      { addr: 0x1020n, len: 4, isWrite: false, data: 0x41n },
      { addr: 0x2000n, len: 8, isWrite: true, data: 0x41n },
    ]);
    expect(Atomics.load(words, 1)).toBe(1);
    expect(Atomics.load(counts, 0)).toBe(1);
    const [res] = await runner.stop();
    expect(res).toMatchObject({ id: 0, reason: 'stopped', error: undefined });
  }, 10_000);

  it('workerMmio: a factory that throws, or a module without createWorkerMmio, ends the vCPU with an error', async () => {
    const { vcpu } = setup();
    const r1 = VcpuRunner.start({ vcpus: [vcpu], workerBinding: fixture, workerMmio: { module: fastMmio, data: { fail: true } }, mmio: () => 'handled' });
    const [a] = await r1.done;
    expect(a?.reason).toBe('error');
    expect(a?.error?.message).toMatch(/createWorkerMmio refused/);
    const r2 = VcpuRunner.start({ vcpus: [setup().vcpu], workerBinding: fixture, workerMmio: { module: fixture }, mmio: () => 'handled' });
    const [b] = await r2.done;
    expect(b?.reason).toBe('error');
    expect(b?.error).toBeInstanceOf(Error);
  }, 10_000);

  it('VcpuWorkerPool: pooled workers load their modules before start and serve the vCPUs; close() ends the idle ones', async () => {
    const pool = VcpuWorkerPool.start({ size: 2, workerBinding: fixture, workerMmioModule: fastMmio });
    expect(pool.idle).toBe(2);
    await new Promise((r) => setTimeout(r, 1500));
    const startedAt = Date.now();
    const { efd, vcpu } = setup();
    const sab = new SharedArrayBuffer(8);
    const rec = recorder(() => undefined);
    const { seen } = rec;
    const runner = VcpuRunner.start({ vcpus: [vcpu], workerBinding: fixture, workerMmio: { module: fastMmio, data: { sab } }, pool, mmio: rec.mmio });
    expect(pool.idle).toBe(1);
    // n = 0xff0: the worker answers the read of 0x1ff0 with the time its module was imported
    n!.write(efd, new BigUint64Array([0xff0n]));
    await rec.arrived;
    expect(seen).toHaveLength(1);
    // low 32 bits of Date.now() at import: loaded while idle (before start), within the last minute
    const before = (startedAt - Number(seen[0]!.data)) >>> 0;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(60_000);
    const [res] = await runner.stop();
    expect(res).toMatchObject({ id: 0, reason: 'stopped', error: undefined });
    await pool.close();
    expect(pool.idle).toBe(0);
    await pool.close(); // idempotent
  }, 15_000);

  it('VcpuWorkerPool: workers preloaded for other modules are not taken; a closed pool gives none; bad sizes throw', async () => {
    const pool = VcpuWorkerPool.start({ size: 1, workerBinding: fixture });
    const runner = VcpuRunner.start({ vcpus: [setup().vcpu], workerBinding: fixture, workerMmio: { module: fastMmio, data: { sab: new SharedArrayBuffer(8) } }, pool, mmio: () => 'handled' });
    expect(pool.idle).toBe(1);
    await runner.stop();
    await pool.close();
    const r2 = VcpuRunner.start({ vcpus: [setup().vcpu], workerBinding: fixture, pool, mmio: () => 'handled' });
    expect(pool.idle).toBe(0);
    const [b] = await r2.stop();
    expect(b?.reason).toBe('stopped');
    for (const size of [0, 1.5, 513, Number.NaN]) expect(() => VcpuWorkerPool.start({ size })).toThrow(IoctlsError);
  }, 15_000);
});
