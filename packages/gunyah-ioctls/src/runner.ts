/**
 * `VcpuRunner`: runs vCPUs until they stop, handing MMIO accesses to one device-bus callback on the
 * main thread (STYLE §8).
 *
 * - **worker** mode (native binding): one `worker_thread` per vCPU. The worker loads the backend
 *   itself, maps its own run page from the vCPU fd (fds are process-wide) and blocks in `VCPU_RUN`.
 *   An MMIO exit is written to a `SharedArrayBuffer` slot; the worker `Atomics.wait`s while the
 *   main thread (woken by `Atomics.waitAsync`) calls the handler and writes the answer.
 *   `stop()` sets the slot's stop flag and `immediate_exit`, then kicks the worker's thread with the
 *   real-time signal, so a blocked `RUN` returns `EINTR` and the worker ends.
 *   With `workerMmio`, the worker first asks a handler of its own (loaded from a module in the
 *   worker thread) and only accesses that handler forwards reach the main thread.
 * - **inline** mode (the fake, emulators without threads): the calling thread runs each vCPU in turn
 *   and yields to the event loop between exits. Nothing may block in this mode.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ErrnoError, loadNativeBinding, type MmioSink, type VcpuExit } from '@gunyah-ts/sys';
import { IoctlsError } from './errors.js';
import { B, KIND, S, SLOT_BYTES, STATE, type WorkerInit, type WorkerInitMessage, type WorkerMessage, type WorkerPreload } from './runner-protocol.js';
import type { MmioAccess, MmioHandler, Vcpu } from './vcpu.js';

/** Where vCPUs run: worker threads, or the calling thread. */
export type VcpuRunnerMode = 'worker' | 'inline';

/** Options of {@link VcpuRunner.start}. */
export interface VcpuRunnerOptions {
  /** The vCPUs (created by `vm.addVcpu`, VM started or about to be). */
  readonly vcpus: readonly Vcpu[];
  /** The device bus: answers every MMIO access. */
  readonly mmio: MmioHandler;
  /**
   * Every non-MMIO exit (status, page fault, unknown, a spurious `interrupted`): return `'continue'`
   * to run again or `'stop'` to end this vCPU. Default: continue after `interrupted`, stop otherwise.
   */
  readonly onExit?: (vcpu: number, exit: VcpuExit) => 'continue' | 'stop';
  /** Default: `worker` when the vCPUs use the native addon, else `inline`. */
  readonly mode?: VcpuRunnerMode;
  /**
   * Worker mode: module specifier the worker imports to get its backend (`createBinding()` or a
   * default export). Default: the native addon through `@gunyah-ts/sys`.
   */
  readonly workerBinding?: string;
  /**
   * Worker mode: an MMIO fast path inside each vCPU worker. The worker imports `module` and calls
   * its `createWorkerMmio(data, vcpuId)` once (see {@link CreateWorkerMmio}); every MMIO access first
   * goes to the handler it returns, and only those it answers `'forward'` go to `mmio` on the main
   * thread. Answered accesses never leave the worker thread (no cross-thread wake-up, no event-loop
   * turn). Ignored in inline mode, where `mmio` sees every access.
   */
  readonly workerMmio?: WorkerMmioOptions;
  /**
   * Worker mode: take the vCPU workers from this pool (started earlier with the same
   * `workerBinding` and `workerMmio.module`, so their modules are already loaded) instead of
   * starting them now. vCPUs beyond the pool's idle workers get new workers. The runner owns the
   * workers it takes; close the pool afterwards to end the ones left idle.
   */
  readonly pool?: VcpuWorkerPool;
}

/** Options of {@link VcpuWorkerPool.start}. */
export interface VcpuWorkerPoolOptions {
  /** How many workers to start (one per vCPU the runner will get), 1–512. */
  readonly size: number;
  /** The `workerBinding` the runner will be given (default: the native addon). */
  readonly workerBinding?: string;
  /** The `workerMmio.module` the runner will be given, if any. */
  readonly workerMmioModule?: string;
}

/**
 * vCPU worker threads started ahead of {@link VcpuRunner.start}: each starts its thread and imports
 * the backend and MMIO modules right away, then waits idle (not keeping the process alive) for a
 * vCPU. Starting a worker thread and loading its modules is the slow part of starting a vCPU
 * (seconds on an emulated CPU); a VMM starts the pool first and builds its VM meanwhile.
 *
 * @example
 * ```ts
 * const pool = VcpuWorkerPool.start({ size: 2, workerBinding });
 * // ... create the VM, load the kernel, add the vCPUs, VM_START ...
 * const runner = VcpuRunner.start({ vcpus, mmio, workerBinding, pool });
 * await pool.close(); // ends the workers the runner did not take
 * ```
 */
export class VcpuWorkerPool {
  /** `workerBinding` the workers preloaded. */
  readonly workerBinding: string | undefined;
  /** `workerMmio.module` the workers preloaded. */
  readonly workerMmioModule: string | undefined;
  readonly #idle: Worker[] = [];
  #closed = false;

  private constructor(o: VcpuWorkerPoolOptions) {
    this.workerBinding = o.workerBinding;
    this.workerMmioModule = o.workerMmioModule;
    const preload: WorkerPreload = { preload: true, bindingModule: o.workerBinding, mmioModule: o.workerMmioModule };
    for (let i = 0; i < o.size; i++) {
      const w = new Worker(workerUrl(), { workerData: preload });
      w.unref();
      const drop = (): void => {
        const at = this.#idle.indexOf(w);
        if (at >= 0) this.#idle.splice(at, 1);
      };
      // an idle worker that fails or exits is dropped (the runner then starts a new one)
      w.once('error', drop);
      w.once('exit', drop);
      this.#idle.push(w);
    }
  }

  /**
   * Start `options.size` idle workers.
   *
   * @throws {IoctlsError} RUNNER_STATE when `size` is not an integer in 1–512
   */
  static start(options: VcpuWorkerPoolOptions): VcpuWorkerPool {
    if (!Number.isInteger(options.size) || options.size < 1 || options.size > 512) {
      throw new IoctlsError('RUNNER_STATE', 'VcpuWorkerPool.start', `size must be an integer in 1–512, got ${String(options.size)}`);
    }
    return new VcpuWorkerPool(options);
  }

  /** Idle workers left. */
  get idle(): number {
    return this.#idle.length;
  }

  /**
   * An idle worker started for `bindingModule` and `mmioModule`, now owned by the caller; undefined
   * when none is left, the pool is closed or it preloaded other modules.
   * @internal
   */
  take(bindingModule: string | undefined, mmioModule: string | undefined): Worker | undefined {
    if (this.#closed || bindingModule !== this.workerBinding || mmioModule !== this.workerMmioModule) return undefined;
    const w = this.#idle.shift();
    if (w === undefined) return undefined;
    w.removeAllListeners('error');
    w.removeAllListeners('exit');
    w.ref();
    return w;
  }

  /** End the idle workers (those no runner took). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const left = this.#idle.splice(0);
    await Promise.all(left.map((w) => w.terminate()));
  }
}

/** The worker-side MMIO handler of {@link VcpuRunnerOptions.workerMmio}. */
export interface WorkerMmioOptions {
  /** Module specifier (an absolute `file:` URL or a package name) exporting `createWorkerMmio`. */
  readonly module: string;
  /** Passed to `createWorkerMmio` by structured clone: put shared state in `SharedArrayBuffer`s. */
  readonly data?: unknown;
}

/**
 * What a worker-side MMIO handler answers: `{ value }` handles the access (the value of a read;
 * ignored for a write), `'forward'` hands it to the main thread's `mmio` as without a fast path.
 */
export type WorkerMmioResult =
  | {
      /** The value a read returns (little-endian, the access's `len` bytes); ignored for a write. */
      readonly value: bigint;
    }
  | 'forward';

/**
 * A worker-side MMIO handler: called in the vCPU's worker thread for each MMIO exit. It may carry a
 * `sink` (`MmioSink` of `@gunyah-ts/sys`): when the worker's binding has a native run loop
 * (`runMmioSink`: the addon, and the emulator over it), the writes that sink absorbs are served there
 * without returning to JavaScript — the handler never sees them, so it must treat them exactly as the
 * sink does; all other exits (and writes the sink refuses) reach the handler as before.
 */
export type WorkerMmioHandler = ((access: Readonly<MmioAccess>) => WorkerMmioResult) & {
  /** Byte-output writes served in the native run loop (see above). */
  readonly sink?: MmioSink;
};

/**
 * The function a {@link WorkerMmioOptions.module} exports as `createWorkerMmio`: called once in
 * each vCPU worker with `data` and the vCPU id, before the first `VCPU_RUN`. A throw (or a rejected
 * promise) ends that vCPU with reason `error`.
 *
 * @example
 * ```ts
 * // uart-fast.ts (loaded by every vCPU worker)
 * export const createWorkerMmio: CreateWorkerMmio = (data) => {
 *   const regs = new Int32Array((data as { sab: SharedArrayBuffer }).sab);
 *   return (a) => (a.addr === 0x9000_0000n && !a.isWrite ? { value: BigInt(Atomics.load(regs, 0)) } : 'forward');
 * };
 * ```
 */
export type CreateWorkerMmio = (data: unknown, vcpuId: number) => WorkerMmioHandler | Promise<WorkerMmioHandler>;

/** How one vCPU's run ended. */
export interface VcpuRunnerExit {
  /** The vCPU id. */
  readonly id: number;
  /** The last exit seen (undefined when stopped before any). */
  readonly exit: VcpuExit | undefined;
  /** Why it ended: an exit the `onExit` policy stopped on, `stop()`, or an error. */
  readonly reason: 'exit' | 'stopped' | 'error';
  /** The error, when `reason` is `error`. */
  readonly error: Error | undefined;
}

// Node 20 has Atomics.waitAsync; the es2023 lib typings do not.
const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string };
  }
).waitAsync;

function defaultOnExit(_id: number, exit: VcpuExit): 'continue' | 'stop' {
  return exit.kind === 'interrupted' ? 'continue' : 'stop';
}

function nativeOrUndefined(): unknown {
  try {
    return loadNativeBinding();
  } catch {
    return undefined;
  }
}

/**
 * Runs a set of vCPUs. `done` resolves when every vCPU has ended; {@link VcpuRunner.stop} ends them.
 *
 * @example
 * ```ts
 * vm.start();
 * const runner = VcpuRunner.start({ vcpus, mmio: (a) => bus.dispatch(a) });
 * process.on('SIGINT', () => void runner.stop());
 * const results = await runner.done;
 * ```
 */
export class VcpuRunner {
  /** The mode in use. */
  readonly mode: VcpuRunnerMode;
  /** Resolves with one entry per vCPU once all have ended. */
  readonly done: Promise<VcpuRunnerExit[]>;
  readonly #stopFns: (() => void)[] = [];
  #stopping = false;

  private constructor(mode: VcpuRunnerMode, runs: (stopHook: (fn: () => void) => void) => Promise<VcpuRunnerExit>[]) {
    this.mode = mode;
    this.done = Promise.all(runs((fn) => this.#stopFns.push(fn)));
  }

  /**
   * Start running `options.vcpus`.
   *
   * @throws {IoctlsError} RUNNER_STATE when no vCPU is given
   */
  static start(options: VcpuRunnerOptions): VcpuRunner {
    if (options.vcpus.length === 0) throw new IoctlsError('RUNNER_STATE', 'VcpuRunner.start', 'no vCPUs');
    const first = options.vcpus[0]!;
    const mode = options.mode ?? (options.workerBinding !== undefined || first.binding === nativeOrUndefined() ? 'worker' : 'inline');
    const onExit = options.onExit ?? defaultOnExit;
    return new VcpuRunner(mode, (hook) =>
      options.vcpus.map((v) =>
        mode === 'worker' ? runInWorker(v, options, onExit, hook) : runInline(v, options.mmio, onExit, hook),
      ),
    );
  }

  /** Ask every vCPU to stop (immediate_exit + kick in worker mode) and wait for all to end. */
  async stop(): Promise<VcpuRunnerExit[]> {
    if (!this.#stopping) {
      this.#stopping = true;
      for (const fn of this.#stopFns) fn();
    }
    return this.done;
  }
}

// The compiled worker next to this module; when running from sources (tests), the built one in dist/.
function workerUrl(): URL {
  const here = new URL('./worker.js', import.meta.url);
  return existsSync(fileURLToPath(here)) ? here : new URL('../dist/worker.js', import.meta.url);
}

function errorResult(id: number, exit: VcpuExit | undefined, e: unknown): VcpuRunnerExit {
  return { id, exit, reason: 'error', error: e instanceof Error ? e : new Error(String(e)) };
}

async function runInline(
  vcpu: Vcpu,
  mmio: MmioHandler,
  onExit: NonNullable<VcpuRunnerOptions['onExit']>,
  hook: (fn: () => void) => void,
): Promise<VcpuRunnerExit> {
  let stop = false;
  hook(() => {
    stop = true;
  });
  let last: VcpuExit | undefined;
  try {
    vcpu.immediateExit = false;
    while (!stop) {
      last = vcpu.runWithMmio(mmio);
      if (stop) break;
      if (onExit(vcpu.id, last) === 'stop') return { id: vcpu.id, exit: last, reason: 'exit', error: undefined };
      if (last.kind === 'interrupted') vcpu.immediateExit = false; // reset before the next RUN (STYLE §8)
      await new Promise<void>((r) => setImmediate(r));
    }
    return { id: vcpu.id, exit: last, reason: 'stopped', error: undefined };
  } catch (e) {
    return errorResult(vcpu.id, last, e);
  }
}

function runInWorker(
  vcpu: Vcpu,
  options: VcpuRunnerOptions,
  onExit: NonNullable<VcpuRunnerOptions['onExit']>,
  hook: (fn: () => void) => void,
): Promise<VcpuRunnerExit> {
  const mmio = options.mmio;
  const slot = new SharedArrayBuffer(SLOT_BYTES);
  const ctrl = new Int32Array(slot, 0, 8);
  const big = new BigUint64Array(slot, 0, 8);
  const init: WorkerInit = { fd: vcpu.fd, id: vcpu.id, variant: vcpu.info.variant, cPlus: vcpu.info.cPlus, slot,
    bindingModule: options.workerBinding,
    mmioModule: options.workerMmio?.module,
    mmioData: options.workerMmio?.data,
  };
  const pooled = options.pool?.take(init.bindingModule, init.mmioModule);
  const worker = pooled ?? new Worker(workerUrl(), { workerData: init });
  if (pooled !== undefined) pooled.postMessage({ type: 'init', init } satisfies WorkerInitMessage);
  let thread: bigint | undefined;
  let stopRequested = false;
  let last: VcpuExit | undefined;
  let error: Error | undefined;
  let stoppedByPolicy = false;
  const exits: VcpuExit[] = [];
  let exitArrived: (() => void) | undefined;

  const kick = (): void => {
    if (thread === undefined) return;
    try {
      vcpu.kick(thread);
    } catch (e) {
      if (!(e instanceof ErrnoError && e.code === 'ESRCH')) error ??= e as Error;
    }
  };
  let rekick: ReturnType<typeof setInterval> | undefined;
  hook(() => {
    stopRequested = true;
    Atomics.store(ctrl, S.STOP, 1);
    kick();
    // A kick that lands just before the worker blocks is lost (immediate_exit covers VCPU_RUN, not
    // other blocking calls), so repeat it until the worker has ended.
    rekick = setInterval(kick, 20);
  });

  worker.on('message', (m: WorkerMessage) => {
    if (m.type === 'ready') {
      thread = m.thread;
      if (stopRequested) kick();
    } else if (m.type === 'exit') {
      exits.push(m.exit as VcpuExit);
      exitArrived?.();
    } else if (m.type === 'error') {
      error = m.errno > 0 ? new ErrnoError(m.errno, m.syscall, 'VcpuRunner worker') : new Error(m.message);
    }
  });

  const serve = async (): Promise<void> => {
    for (;;) {
      const state = Atomics.load(ctrl, S.STATE);
      if (state === STATE.FINISHED) return;
      if (state === STATE.RUNNING) {
        const w = waitAsync(ctrl, S.STATE, STATE.RUNNING);
        if (w.async) await w.value;
        continue;
      }
      // A request.
      let answer = 0;
      if (Atomics.load(ctrl, S.KIND) === KIND.MMIO) {
        const access: MmioAccess = {
          addr: big[B.ADDR] ?? 0n,
          len: Atomics.load(ctrl, S.LEN),
          isWrite: Atomics.load(ctrl, S.IS_WRITE) !== 0,
          data: big[B.DATA] ?? 0n,
        };
        last = { kind: 'mmio', addr: access.addr, len: access.len, isWrite: access.isWrite, data: access.data };
        try {
          answer = mmio(access) === 'handled' ? 0 : 1;
          if (!access.isWrite) big[B.DATA] = BigInt.asUintN(64, BigInt(access.data));
        } catch (e) {
          error ??= e instanceof Error ? e : new Error(String(e));
          answer = 1;
          Atomics.store(ctrl, S.STOP, 1);
        }
      } else {
        while (exits.length === 0) await new Promise<void>((r) => (exitArrived = r));
        const exit = exits.shift()!;
        last = exit;
        const decision = stopRequested ? 'stop' : onExit(vcpu.id, exit);
        if (decision === 'stop' && !stopRequested) stoppedByPolicy = true;
        answer = decision === 'stop' ? 1 : 0;
      }
      Atomics.store(ctrl, S.ANSWER, answer);
      Atomics.store(ctrl, S.STATE, STATE.RUNNING);
      Atomics.notify(ctrl, S.STATE);
    }
  };

  return new Promise<VcpuRunnerExit>((resolve) => {
    let served = false;
    let exited = false;
    const finish = (): void => {
      if (!served || !exited) return;
      if (error !== undefined) resolve(errorResult(vcpu.id, last, error));
      else resolve({ id: vcpu.id, exit: last, reason: stoppedByPolicy ? 'exit' : 'stopped', error: undefined });
    };
    worker.on('error', (e) => {
      error ??= e;
      Atomics.store(ctrl, S.STATE, STATE.FINISHED);
      Atomics.notify(ctrl, S.STATE);
    });
    worker.on('exit', () => {
      exited = true;
      if (rekick !== undefined) clearInterval(rekick);
      thread = undefined;
      Atomics.store(ctrl, S.STATE, STATE.FINISHED);
      Atomics.notify(ctrl, S.STATE);
      finish();
    });
    void serve().then(() => {
      served = true;
      finish();
    });
  });
}
