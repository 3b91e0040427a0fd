/**
 * Entry point of a vCPU worker thread started by `VcpuRunner` (worker mode). Loads the backend in
 * this thread, maps the vCPU's run page itself, and loops on `VCPU_RUN`, handing MMIO accesses to the
 * main thread through the shared slot (see runner-protocol.ts).
 *
 * @internal
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  EXIT_REASON,
  ErrnoError,
  GUNYAH_IOCTLS,
  VCPU_RUN_OFFSETS as O,
  VcpuRunPage,
  getBinding,
  prepareMmioSink,
  runWithMmioSink,
  type BindingModule,
  type MmioSink,
} from '@gunyah-ts/sys';
import { B, KIND, S, STATE, type WorkerInit, type WorkerInitMessage, type WorkerMessage, type WorkerPreload } from './runner-protocol.js';

async function loadBinding(spec: string | undefined): Promise<BindingModule> {
  if (spec === undefined) return getBinding();
  const mod = (await import(spec)) as { createBinding?: () => BindingModule; default?: BindingModule };
  if (typeof mod.createBinding === 'function') return mod.createBinding();
  if (mod.default !== undefined) return mod.default;
  throw new TypeError(`${spec} exports neither createBinding() nor a default binding`);
}

type FastMmio = ((access: { addr: bigint; len: number; isWrite: boolean; data: bigint }) => { readonly value: bigint } | 'forward') & { readonly sink?: MmioSink };

async function loadFastMmio(init: WorkerInit): Promise<FastMmio | undefined> {
  if (init.mmioModule === undefined) return undefined;
  const mod = (await import(init.mmioModule)) as { createWorkerMmio?: (data: unknown, id: number) => FastMmio | Promise<FastMmio> };
  if (typeof mod.createWorkerMmio !== 'function') throw new TypeError(`${init.mmioModule} does not export createWorkerMmio()`);
  const h = await mod.createWorkerMmio(init.mmioData, init.id);
  if (typeof h !== 'function') throw new TypeError(`${init.mmioModule}: createWorkerMmio() did not return a handler`);
  return h;
}

/**
 * A pooled worker (`VcpuWorkerPool`): import the backend and MMIO modules now (the module cache
 * makes the later imports instant), then wait for the vCPU. Import errors are not reported here:
 * the same import fails again after `init` and is reported as an error of that vCPU.
 */
async function preloadThenInit(p: WorkerPreload, port: NonNullable<typeof parentPort>): Promise<WorkerInit> {
  const received = new Promise<WorkerInit>((resolve) => {
    port.once('message', (m: WorkerInitMessage) => resolve(m.init));
  });
  for (const spec of [p.bindingModule ?? '@gunyah-ts/sys', p.mmioModule]) {
    if (spec === undefined) continue;
    try {
      await import(spec);
    } catch {
      // reported after init
    }
  }
  if (p.bindingModule === undefined) {
    try {
      getBinding(); // loads the addon (dlopen) now
    } catch {
      // reported after init
    }
  }
  return received;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  const data = workerData as WorkerInit | WorkerPreload;
  const init = 'preload' in data ? await preloadThenInit(data, port) : data;
  const post = (m: WorkerMessage): void => port.postMessage(m);
  const ctrl = new Int32Array(init.slot, 0, 8);
  const big = new BigUint64Array(init.slot, 0, 8);
  let binding: BindingModule | undefined;
  let page: VcpuRunPage | undefined;
  try {
    binding = await loadBinding(init.bindingModule);
    const fast = await loadFastMmio(init);
    const b = binding;
    const size = b.ioctl(init.fd, GUNYAH_IOCTLS.VCPU_MMAP_SIZE.request);
    const c = b.constants();
    page = new VcpuRunPage(b.mmap(init.fd, size, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0), init.variant);
    page.immediateExit = 0;
    const view = new DataView(page.buffer);
    // the handler's byte sink, served by the binding's native run loop when it has one
    const sink = fast?.sink !== undefined && b.runMmioSink !== undefined ? prepareMmioSink(fast.sink) : undefined;
    const runPage = page.buffer;
    const RUN = GUNYAH_IOCTLS.VCPU_RUN.request;
    post({ type: 'ready', thread: b.currentThread() });
    const ask = (kind: number): number => {
      Atomics.store(ctrl, S.KIND, kind);
      Atomics.store(ctrl, S.STATE, STATE.REQUEST);
      Atomics.notify(ctrl, S.STATE);
      while (Atomics.load(ctrl, S.STATE) === STATE.REQUEST) Atomics.wait(ctrl, S.STATE, STATE.REQUEST);
      return Atomics.load(ctrl, S.ANSWER);
    };
    while (Atomics.load(ctrl, S.STOP) === 0) {
      try {
        if (sink !== undefined) runWithMmioSink(b, init.fd, RUN, runPage, sink);
        else b.ioctl(init.fd, RUN);
      } catch (e) {
        const err = ErrnoError.from(e, 'GUNYAH_VCPU_RUN');
        if (err instanceof ErrnoError && err.code === 'EINTR') {
          if (Atomics.load(ctrl, S.STOP) !== 0) break;
          page.immediateExit = 0; // a kick without stop: clear it before the next RUN (STYLE §8)
          continue;
        }
        throw err;
      }
      if (fast !== undefined && view.getUint32(O.exit_reason, true) === EXIT_REASON.MMIO) {
        // hot path: read the MMIO fields straight from the page (no exit object, no per-byte BigInt)
        const len = view.getUint32(O.mmio_len, true);
        if (len >= 1 && len <= 8) {
          const isWrite = view.getUint8(O.mmio_is_write) !== 0;
          const data = isWrite ? BigInt.asUintN(8 * len, view.getBigUint64(O.mmio_data, true)) : 0n;
          const r = fast({ addr: view.getBigUint64(O.mmio_phys_addr, true), len, isWrite, data });
          if (r !== 'forward') {
            if (!isWrite) view.setBigUint64(O.mmio_data, BigInt.asUintN(8 * len, r.value), true);
            continue;
          }
        }
      }
      const exit = page.decode();
      if (exit.kind === 'mmio') {
        big[B.ADDR] = exit.addr;
        big[B.DATA] = exit.data;
        Atomics.store(ctrl, S.LEN, exit.len);
        Atomics.store(ctrl, S.IS_WRITE, exit.isWrite ? 1 : 0);
        const answer = ask(KIND.MMIO);
        if (answer === 1 && init.variant !== 'A') page.mmioResumeAction = 1;
        else if (!exit.isWrite) page.setMmioData(answer === 0 ? (big[B.DATA] ?? 0n) : 0n);
        continue;
      }
      post({ type: 'exit', exit });
      if (ask(KIND.EXIT) !== 0) break;
    }
  } catch (e) {
    const err = e as { errno?: unknown; syscall?: unknown; message?: unknown };
    post({
      type: 'error',
      errno: typeof err.errno === 'number' ? err.errno : 0,
      syscall: typeof err.syscall === 'string' ? err.syscall : 'unknown',
      message: typeof err.message === 'string' ? err.message : String(e),
    });
  } finally {
    if (page !== undefined && binding !== undefined) {
      try {
        binding.munmap(page.buffer);
      } catch {
        /* not a real mapping (scripted bindings) */
      }
    }
    Atomics.store(ctrl, S.STATE, STATE.FINISHED);
    Atomics.notify(ctrl, S.STATE);
    post({ type: 'done' });
  }
}

void main();
