/**
 * Entry point of a vCPU worker thread started by `VcpuRunner` (worker mode). Loads the backend in
 * this thread, maps the vCPU's run page itself, and loops on `VCPU_RUN`, handing MMIO accesses to the
 * main thread through the shared slot (see runner-protocol.ts).
 *
 * @internal
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ErrnoError, GUNYAH_IOCTLS, VcpuRunPage, getBinding, type BindingModule } from '@gunyah-ts/sys';
import { B, KIND, S, STATE, type WorkerInit, type WorkerMessage } from './runner-protocol.js';

async function loadBinding(spec: string | undefined): Promise<BindingModule> {
  if (spec === undefined) return getBinding();
  const mod = (await import(spec)) as { createBinding?: () => BindingModule; default?: BindingModule };
  if (typeof mod.createBinding === 'function') return mod.createBinding();
  if (mod.default !== undefined) return mod.default;
  throw new TypeError(`${spec} exports neither createBinding() nor a default binding`);
}

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  const port = parentPort;
  if (port === null) return;
  const post = (m: WorkerMessage): void => port.postMessage(m);
  const ctrl = new Int32Array(init.slot, 0, 8);
  const big = new BigUint64Array(init.slot, 0, 8);
  let binding: BindingModule | undefined;
  let page: VcpuRunPage | undefined;
  try {
    binding = await loadBinding(init.bindingModule);
    const b = binding;
    const size = b.ioctl(init.fd, GUNYAH_IOCTLS.VCPU_MMAP_SIZE.request);
    const c = b.constants();
    page = new VcpuRunPage(b.mmap(init.fd, size, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0), init.variant);
    page.immediateExit = 0;
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
        b.ioctl(init.fd, GUNYAH_IOCTLS.VCPU_RUN.request);
      } catch (e) {
        const err = ErrnoError.from(e, 'GUNYAH_VCPU_RUN');
        if (err instanceof ErrnoError && err.code === 'EINTR') {
          if (Atomics.load(ctrl, S.STOP) !== 0) break;
          page.immediateExit = 0; // a kick without stop: clear it before the next RUN (STYLE §8)
          continue;
        }
        throw err;
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
