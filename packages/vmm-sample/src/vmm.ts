/**
 * The VMM: `Vmm.create(config)` reads and checks the inputs, opens the backend, plans the VM and
 * builds it in the boot order of spec/gunyah-uapi.md Appendix B; `run()` starts it, runs one worker
 * thread per vCPU, serves MMIO from the bus, and returns how the guest ended. Every fd and mapping
 * is released on every exit path.
 *
 * @module
 */
import { closeSync, openSync, readSync, statSync, fstatSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { Gunyah, GuestMemfd, VM_EXIT_TYPE, VM_STATUS, VcpuRunner, VcpuWorkerPool, type MmioAccess, type Vcpu, type VcpuExit, type Vm } from '@gunyah-ts/ioctls';
import { BindingLoadError, ErrnoError, setBinding, type BindingModule } from '@gunyah-ts/sys';
import { BufferBacking, GuestMemory } from '@gunyah-ts/vm-memory';
import { inspectKernel, loadInitrd, loadKernel, writeDtb, type KernelInfo } from '@gunyah-ts/vm-memory/loader';
import { selectBackend, type Backend, type SelectBackendOptions } from './backend.js';
import { MmioBus } from './bus.js';
import { ConfigError, type VmmConfig } from './config.js';
import { Console, type ConsoleInput } from './console.js';
import { Uart8250 } from './devices/uart8250.js';
import { MAIN_THREAD_UART_ENV, createConsoleUart, uartWorkerMmio, uartWorkerModule } from './devices/uart-fast.js';
import { VirtioSet, checkDisks } from './virtio.js';
import { formatPlan, planVm, type Variant, type VmPlan } from './plan.js';

/** Exit statuses of `vmm-sample` (also in `--help`). */
export const EXIT_STATUS = {
  /** The guest powered off. */
  poweroff: 0,
  /** Bad usage or input. */
  usage: 2,
  /** No usable backend. */
  noBackend: 3,
  /** The guest crashed or failed to load, or the VMM failed at run time. */
  crash: 4,
  /** The guest reset (without `--reboot`). */
  reset: 5,
  /** Interrupted: SIGINT, SIGTERM, or Ctrl-A x. */
  interrupted: 130,
} as const;

/** Why a run ended. */
export type VmmExitReason = 'poweroff' | 'reset' | 'crash' | 'load-failed' | 'interrupted' | 'quit' | 'error';

/** The raw STATUS exit behind a {@link VmmExit}. */
export interface VmmExitInfo {
  /** The vCPU that reported it. */
  readonly vcpu: number;
  /** `status.status` (1 LOAD_FAILED, 2 EXITED, 3 CRASHED). */
  readonly status: number;
  /** `exit_info.type`. */
  readonly exitType: number;
  /** The reason bytes (at most 8), hex. */
  readonly reason: string;
}

/** How {@link Vmm.run} ended. */
export interface VmmExit {
  /** The process exit status ({@link EXIT_STATUS}). */
  readonly code: number;
  /** Why. */
  readonly reason: VmmExitReason;
  /** One line for the user. */
  readonly message: string;
  /** The STATUS exit, when the guest produced one. */
  readonly exitInfo: VmmExitInfo | undefined;
}

/** Codes of {@link VmmError}. */
export type VmmErrorCode = 'START_FAILED' | 'SETUP_FAILED' | 'STATE';

/**
 * The vCPU worker pool for a backend whose vCPUs run in worker threads (a Gunyah device, the
 * emulator): `cpus` workers preloading the backend's worker module and the UART fast path.
 */
function startWorkerPool(backend: Backend, cpus: number, stdout: object): VcpuWorkerPool | undefined {
  if (backend.kind === 'injected' && backend.workerBinding === undefined) return undefined; // inline (e.g. the fake)
  // only where the workers will serve the UART (output to an fd): a pool no runner takes is waste
  if (typeof (stdout as { fd?: unknown }).fd !== 'number') return undefined;
  return VcpuWorkerPool.start({
    size: cpus,
    ...(backend.workerBinding !== undefined ? { workerBinding: backend.workerBinding } : {}),
    ...(process.env[MAIN_THREAD_UART_ENV] !== '1' ? { workerMmioModule: uartWorkerModule() } : {}),
  });
}

/** The VM could not be built or started (exit status 4): the cause holds the lower layer's error. */
export class VmmError extends Error {
  /** Always `'VmmError'`. */
  override readonly name = 'VmmError';
  /** What failed. */
  readonly code: VmmErrorCode;

  /**
   * @param code - what failed
   * @param message - one line for the user
   * @param options - standard error options (`cause`)
   */
  constructor(code: VmmErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** What a library user (or a test) may inject. */
export interface VmmDeps {
  /** Run on this binding instead of selecting a backend (tests: `createFakeGunyah({ variant })`). */
  readonly binding?: BindingModule;
  /** Console input (default `process.stdin`; `null`: none). */
  readonly stdin?: ConsoleInput | null;
  /** Guest console output (default `process.stdout`). */
  readonly stdout?: Writable;
  /** VMM messages, one line each (default: `vmm-sample: …` on stderr). */
  readonly log?: (line: string) => void;
  /** Install SIGINT/SIGTERM handlers during `run()` (default true). */
  readonly signals?: boolean;
  /** Backend selection hooks (emulator import, file-existence check). */
  readonly backend?: Omit<SelectBackendOptions, 'binding'>;
}

/** What the input files say (read once at create). */
export interface VmmInputs {
  /** The kernel's header and sizes. */
  readonly kernel: KernelInfo;
  /** Size of the initrd file. */
  readonly initrdSize: number | undefined;
  /** The user's DTB bytes. */
  readonly userDtb: Uint8Array | undefined;
}

const MAX_DTB_FILE = 2 << 20;

function checkReadable(path: string, what: string): number {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ConfigError('FILE_NOT_FOUND', `${what} ${path} does not exist`, { cause: e });
    throw new ConfigError('FILE_UNREADABLE', `${what} ${path} cannot be read (${code ?? String(e)})`, { cause: e });
  }
  if (!st.isFile()) throw new ConfigError('FILE_UNREADABLE', `${what} ${path} is not a regular file`);
  return st.size;
}

function readSmallFile(path: string, what: string, max: number): Uint8Array {
  checkReadable(path, what);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new ConfigError('FILE_UNREADABLE', `${what} ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
  }
  try {
    const size = fstatSync(fd).size;
    if (size > max) throw new ConfigError('BAD_DTB', `${what} ${path} is ${size} bytes; a DTB is at most ${max} bytes`);
    const buf = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * Read what the plan needs from the configured files: the kernel header (raw or gzip), the initrd
 * size, the DTB bytes.
 *
 * @throws {ConfigError} FILE_NOT_FOUND, FILE_UNREADABLE, BAD_DTB (over 2 MiB)
 * @throws {ImageLoadError} for a kernel that is not an arm64 Image
 */
export async function readInputs(config: VmmConfig): Promise<VmmInputs> {
  checkReadable(config.kernel, 'kernel');
  const initrdSize = config.initrd === undefined ? undefined : checkReadable(config.initrd, 'initrd');
  const userDtb = config.dtb === undefined ? undefined : readSmallFile(config.dtb, 'DTB', MAX_DTB_FILE);
  checkDisks(config);
  const kernel = await inspectKernel(config.kernel);
  return { kernel, initrdSize, userDtb };
}

/**
 * Plan the VM for `--dry-run`: reads the files, opens nothing. With `--abi auto` the plan is made for
 * variant C (the primary variant) unless `variant` says otherwise.
 *
 * @throws {ConfigError} as {@link readInputs} and {@link planVm}
 * @throws {ImageLoadError} | `LayoutError` from the loader
 */
export async function dryRunPlan(config: VmmConfig, variant?: Variant): Promise<VmPlan> {
  const inputs = await readInputs(config);
  return planVm(config, {
    kernel: inputs.kernel.header,
    kernelFileSize: inputs.kernel.imageFileSize,
    initrdSize: inputs.initrdSize,
    userDtb: inputs.userDtb,
    variant: variant ?? (config.abi === 'auto' ? 'C' : config.abi),
  });
}

const STATUS_NAMES: Record<number, string> = Object.fromEntries(Object.entries(VM_STATUS).map(([k, v]) => [v, k]));
const EXIT_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(VM_EXIT_TYPE).map(([k, v]) => [v, k]));

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** The resources of one VM instance (a reset with `--reboot` builds a new one). */
interface Instance {
  readonly vm: Vm;
  readonly vcpus: Vcpu[];
  readonly memory: GuestMemory;
  readonly uart: Uart8250 | undefined;
  readonly virtio: VirtioSet;
  readonly bus: MmioBus;
  readonly cleanups: Cleanup[];
}

/**
 * A teardown step. Steps run by ascending `order` (later-added first within one order): vCPUs, the VM,
 * eventfds, then the memory the VM used (the user mapping must outlive the VM, spec §5.2).
 */
interface Cleanup {
  readonly order: number;
  readonly fn: () => void;
}

const ORDER = { vcpu: 0, vm: 1, eventfd: 2, unmap: 3, memory: 4 } as const;

/** Counters of a run. */
export interface VmmStats {
  /** MMIO exits served. */
  readonly mmioExits: number;
  /** Reads no device claimed (answered with 0). */
  readonly unhandledReads: number;
  /** Writes no device claimed (dropped). */
  readonly unhandledWrites: number;
  /** Times the guest was (re)started. */
  readonly boots: number;
}

/**
 * The reference VMM.
 *
 * @example
 * ```ts
 * const cl = parseCommandLine(process.argv.slice(2));
 * if (cl.kind === 'run') {
 *   const vmm = await Vmm.create(cl.config);
 *   const exit = await vmm.run();        // { code: 0, reason: 'poweroff', … }
 *   process.exitCode = exit.code;
 * }
 * ```
 */
export class Vmm {
  /** The configuration. */
  readonly config: VmmConfig;
  /** The plan being executed. */
  readonly plan: VmPlan;
  /** The backend in use. */
  readonly backend: Backend;
  readonly #gunyah: Gunyah;
  readonly #deps: VmmDeps;
  readonly #log: (line: string) => void;
  readonly #previousBinding: BindingModule | undefined;
  readonly #swappedBinding: boolean;
  #instance: Instance | undefined;
  #console: Console | undefined;
  #runner: VcpuRunner | undefined;
  /** vCPU workers started at create() (loading their modules while the VM is built); the first run takes them. */
  #pool: VcpuWorkerPool | undefined;
  #stopReason: 'interrupted' | 'quit' | undefined;
  #statusExit: { vcpu: number; exit: Extract<VcpuExit, { status: number }> } | undefined;
  #fault: string | undefined;
  #closed = false;
  #running = false;
  #stats = { mmioExits: 0, unhandledReads: 0, unhandledWrites: 0, boots: 0 };
  readonly #unhandledSeen: bigint[] = [];

  private constructor(
    config: VmmConfig,
    deps: VmmDeps,
    backend: Backend,
    gunyah: Gunyah,
    plan: VmPlan,
    swap: { previous: BindingModule | undefined; swapped: boolean },
    pool: VcpuWorkerPool | undefined,
  ) {
    this.#pool = pool;
    this.config = config;
    this.#deps = deps;
    this.backend = backend;
    this.#gunyah = gunyah;
    this.plan = plan;
    this.#previousBinding = swap.previous;
    this.#swappedBinding = swap.swapped;
    this.#log = deps.log ?? ((line) => process.stderr.write(`vmm-sample: ${line}\n`));
  }

  /**
   * Read the inputs, open the backend, plan the VM and build it (memory, images, DTB, registration,
   * boot context, vCPUs, irqfd), ready for {@link Vmm.run}.
   *
   * @throws {ConfigError} bad input (exit 2) or NO_BACKEND (exit 3)
   * @throws {ImageLoadError} | `LayoutError` for kernels or layouts that cannot work (exit 2)
   * @throws {VmmError} SETUP_FAILED when the driver refuses a setup call (exit 4)
   */
  static async create(config: VmmConfig, deps: VmmDeps = {}): Promise<Vmm> {
    const log = deps.log ?? ((line: string) => process.stderr.write(`vmm-sample: ${line}\n`));
    const verbose = config.verbosity === 'verbose';
    const inputs = await readInputs(config);
    const backend = await selectBackend(config.backend, config.abi, config.device, {
      ...deps.backend,
      ...(deps.binding !== undefined ? { binding: deps.binding } : {}),
    });
    if (verbose) log(`backend: ${backend.description}`);
    // Start the vCPU worker threads now: loading their modules overlaps building the VM.
    const pool = startWorkerPool(backend, config.cpus, deps.stdout ?? process.stdout);
    const abandon = (): void => void pool?.close();
    // vm-memory allocates through @gunyah-ts/sys's current binding: point it at the backend's.
    const swapped = backend.binding !== undefined;
    const previous = swapped ? setBinding(backend.binding) : undefined;
    let gunyah: Gunyah;
    try {
      gunyah = Gunyah.open({ ...(backend.binding !== undefined ? { binding: backend.binding } : {}), path: config.device, variant: backend.variant });
    } catch (e) {
      if (swapped) setBinding(previous);
      backend.close();
      abandon();
      if (e instanceof BindingLoadError) throw new ConfigError('NO_BACKEND', `the native addon cannot be loaded: ${e.message.split('\n')[0] ?? ''}`, { cause: e });
      if (e instanceof ErrnoError) throw new ConfigError('NO_BACKEND', `cannot open ${config.device}: ${e.code}`, { cause: e });
      throw e;
    }
    let plan: VmPlan;
    try {
      plan = planVm(config, {
        kernel: inputs.kernel.header,
        kernelFileSize: inputs.kernel.imageFileSize,
        initrdSize: inputs.initrdSize,
        userDtb: inputs.userDtb,
        variant: gunyah.variant,
        pageSize: gunyah.binding.pageSize(),
      });
    } catch (e) {
      gunyah.close();
      if (swapped) setBinding(previous);
      backend.close();
      abandon();
      throw e;
    }
    const vmm = new Vmm(config, deps, backend, gunyah, plan, { previous, swapped }, pool);
    if (config.verbosity !== 'quiet') for (const w of plan.warnings) log(`warning: ${w}`);
    if (verbose) for (const l of formatPlan(plan, { dts: false }).trimEnd().split('\n')) log(l);
    try {
      vmm.#instance = await vmm.#build();
    } catch (e) {
      vmm.close();
      throw e;
    }
    return vmm;
  }

  /** The current VM (for tests and tools: e.g. the fake's `fake.vm(vmm.vm.fd)`). */
  get vm(): Vm {
    if (this.#instance === undefined) throw new VmmError('STATE', 'the VMM is closed');
    return this.#instance.vm;
  }

  /** Counters so far. */
  get stats(): VmmStats {
    return { ...this.#stats };
  }

  #verbose(line: string): void {
    // Seconds since the process started: where the time goes from `vmm-sample` to the guest.
    if (this.config.verbosity === 'verbose') this.#log(`+${(performance.now() / 1000).toFixed(3)}s ${line}`);
  }

  // Boot order of spec/gunyah-uapi.md Appendix B (STYLE §11).
  async #build(): Promise<Instance> {
    const plan = this.plan;
    const binding = this.#gunyah.binding;
    const cleanups: Cleanup[] = [];
    const onTeardown = (order: number, fn: () => void): void => {
      cleanups.push({ order, fn });
    };
    const step = <T>(what: string, fn: () => T): T => {
      try {
        const r = fn();
        this.#verbose(what);
        return r;
      } catch (e) {
        if (e instanceof ConfigError) throw e;
        throw new VmmError('SETUP_FAILED', `${what} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    };
    try {
      const vm = step('CREATE_VM', () => this.#gunyah.createVm());
      onTeardown(ORDER.vm, () => vm.close());
      const base = plan.memory.base;
      const size = Number(plan.memory.size);
      let memory: GuestMemory;
      let gmem: GuestMemfd | undefined;
      let gmemView: ArrayBuffer | undefined;
      if (plan.registration.kind === 'guest-memfd') {
        gmem = step(`CREATE_GUEST_MEM ${size} bytes`, () => this.#gunyah.createGuestMem(BigInt(size)));
        const g = gmem;
        onTeardown(ORDER.memory, () => g.close());
        gmemView = step('mmap guest_memfd', () => g.mmap());
        const view = gmemView;
        onTeardown(ORDER.unmap, () => {
          if (view.byteLength > 0) g.munmap(view);
        });
        memory = new GuestMemory([{ start: base, size, backing: new BufferBacking(gmemView), mode: 'lent' }]);
      } else {
        memory = step('memfd guest RAM', () => GuestMemory.createMemfd([{ start: base, size, mode: 'shared' }], { name: 'vmm-sample-ram' }));
      }
      const mem = memory;
      onTeardown(ORDER.memory, () => mem.close());

      // Load Image, initrd, DTB (before registration: B unmaps lent pages first).
      const l = plan.layout;
      await loadKernel(memory, l, this.config.kernel);
      this.#verbose(`kernel loaded at 0x${l.kernel.loadAddress.toString(16)}`);
      if (this.config.initrd !== undefined && l.initrd !== undefined) {
        loadInitrd(memory, l, this.config.initrd);
        this.#verbose(`initrd loaded at 0x${l.initrd.address.toString(16)}`);
      }
      writeDtb(memory, l, plan.dtb);
      this.#verbose(`DTB written at 0x${l.dtb.address.toString(16)} (${plan.dtb.byteLength} bytes)`);

      if (gmem !== undefined && gmemView !== undefined) {
        const g = gmem;
        const v = gmemView;
        step('munmap lent guest_memfd pages (spec §6.5)', () => g.munmap(v));
        memory.revokeHostAccess();
        step(`MAP_MEM lend 0x${base.toString(16)}+0x${size.toString(16)}`, () => vm.addGuestMemory({ guestAddr: base, size, mode: 'lend', perms: 'rwx', fd: g.fd }));
      } else {
        const region = memory.regions[0];
        const host = region?.hostAddress;
        if (host === undefined) throw new VmmError('SETUP_FAILED', 'guest RAM has no host address');
        step(`SET_USER_MEM_REGION share 0x${base.toString(16)}+0x${size.toString(16)}`, () =>
          vm.addGuestMemory({ guestAddr: base, size, mode: 'share', perms: 'rwx', hostAddr: host, label: 0 }),
        );
      }
      step(`SET_DTB_CONFIG 0x${l.dtb.address.toString(16)}+0x${l.dtb.size.toString(16)}`, () => vm.setDtbConfig({ guestPhysAddr: l.dtb.address, size: l.dtb.size }));
      const ctx = plan.bootContext;
      if (ctx !== undefined) {
        step(`SET_BOOT_CONTEXT PC=0x${ctx.pc.toString(16)}`, () => vm.setBootContext('pc', 0, ctx.pc));
        step(`SET_BOOT_CONTEXT X0=0x${ctx.x0.toString(16)}`, () => vm.setBootContext('x', 0, ctx.x0));
      }
      const vcpus: Vcpu[] = [];
      for (let i = 0; i < plan.vcpus; i++) {
        const v = step(`ADD_FUNCTION vcpu ${i}`, () => vm.addVcpu(i));
        vcpus.push(v);
        onTeardown(ORDER.vcpu, () => v.close());
      }
      const bus = new MmioBus();
      let uart: Uart8250 | undefined;
      if (plan.uart !== undefined) {
        let irqfd: number | undefined;
        const label = plan.uart.irqLabel;
        if (label !== undefined) {
          const c = binding.constants();
          const fd = step('eventfd', () => binding.eventfd(0, c.EFD_CLOEXEC | c.EFD_NONBLOCK));
          irqfd = fd;
          onTeardown(ORDER.eventfd, () => binding.close(fd));
          step(`ADD_FUNCTION irqfd label ${label}`, () => vm.addIrqfd({ fd, label }));
        }
        const one = new BigUint64Array([1n]);
        const trigger =
          irqfd === undefined
            ? undefined
            : () => {
                try {
                  binding.write(irqfd, one);
                } catch {
                  // EAGAIN: the counter is saturated, the doorbell is pending anyway
                }
              };
        const console = this.#console ?? this.#makeConsole();
        // served inside the vCPU workers when they run over real fds (devices/uart-fast.ts)
        uart = createConsoleUart({
          stream: this.#deps.stdout ?? process.stdout,
          output: (b) => console.writeByte(b),
          base: plan.uart.address,
          workers: this.backend.kind !== 'injected',
          ...(trigger !== undefined ? { trigger } : {}),
          ...(irqfd !== undefined ? { irqfd } : {}),
        });
        bus.register(plan.uart.address, 8n, uart, 'uart0');
      }
      const virtio = VirtioSet.attach({
        devices: plan.virtio,
        vm,
        binding,
        memory,
        register: (b, s, d, n) => bus.register(b, s, d, n),
        consoleOutput: this.#deps.stdout ?? process.stdout,
        kernelEventfds: this.backend.kind !== 'injected',
        onTeardown: (fn) => onTeardown(ORDER.eventfd, fn),
        step,
        log: this.#log,
      });
      return { vm, vcpus, memory, uart, bus, virtio, cleanups };
    } catch (e) {
      this.#teardown(cleanups);
      throw e;
    }
  }

  #makeConsole(): Console {
    const input = this.#deps.stdin === null ? undefined : (this.#deps.stdin ?? (process.stdin as ConsoleInput));
    this.#console = new Console({ input, output: this.#deps.stdout ?? process.stdout, onQuit: () => this.stop('quit') });
    return this.#console;
  }

  #teardown(cleanups: Cleanup[]): void {
    const errors: unknown[] = [];
    const steps = cleanups.map((c, i) => ({ ...c, i })).sort((a, b) => a.order - b.order || b.i - a.i);
    for (const { fn } of steps) {
      try {
        fn();
      } catch (e) {
        errors.push(e);
      }
    }
    cleanups.length = 0;
    if (errors.length > 0) this.#verbose(`teardown: ${errors.length} error(s): ${errors.map(String).join('; ')}`);
  }

  #mmio(inst: Instance): (a: MmioAccess) => 'handled' | 'unhandled' {
    return (access) => {
      this.#stats.mmioExits++;
      let r;
      try {
        r = inst.bus.dispatch({ addr: access.addr, size: access.len, isWrite: access.isWrite, ...(access.isWrite ? { value: access.data } : {}) });
      } catch {
        r = { status: 'unhandled' as const };
      }
      if (r.status === 'handled') {
        if (!access.isWrite) access.data = r.value;
        return 'handled';
      }
      // Unclaimed: reads return 0, writes are dropped (counted for --verbose).
      if (access.isWrite) this.#stats.unhandledWrites++;
      else {
        this.#stats.unhandledReads++;
        access.data = 0n;
      }
      if (this.#unhandledSeen.length < 8 && !this.#unhandledSeen.includes(access.addr)) this.#unhandledSeen.push(access.addr);
      return 'handled';
    };
  }

  #onExit(id: number, exit: VcpuExit): 'continue' | 'stop' {
    if (exit.kind === 'interrupted') return this.#stopReason === undefined ? 'continue' : 'stop';
    if (exit.kind === 'shutdown' || exit.kind === 'reset' || exit.kind === 'crash' || exit.kind === 'load-failed') {
      this.#statusExit ??= { vcpu: id, exit };
    } else if (exit.kind === 'page-fault') {
      this.#fault ??= `vCPU ${id}: the kernel could not back guest address 0x${exit.addr.toString(16)} (errno ${-exit.attempt})`;
    } else if (exit.kind === 'unknown') {
      this.#fault ??= `vCPU ${id}: unknown exit ${exit.raw} (${exit.detail})`;
    }
    // A STATUS exit concerns the whole VM: stop the other vCPUs too.
    queueMicrotask(() => void this.#runner?.stop());
    return 'stop';
  }

  /** Ask a running VMM to stop (as SIGINT does). `run()` then resolves with exit status 130. */
  stop(reason: 'interrupted' | 'quit' = 'interrupted'): void {
    this.#stopReason ??= reason;
    void this.#runner?.stop();
  }

  /**
   * Start the VM and run it until the guest powers off, resets (restarted from scratch with
   * `--reboot`: a Gunyah VM cannot be restarted), crashes, or the VMM is interrupted. Tears
   * everything down before returning.
   *
   * @throws {VmmError} STATE when called twice or after close
   */
  async run(): Promise<VmmExit> {
    if (this.#closed || this.#running) throw new VmmError('STATE', 'run() can be called once, before close()');
    this.#running = true;
    const signals = this.#deps.signals !== false;
    const onSignal = (): void => this.stop('interrupted');
    if (signals) {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    try {
      for (;;) {
        const exit = await this.#runOnce();
        if (exit.reason === 'reset' && this.config.reboot && this.#stopReason === undefined) {
          this.#verbose('guest reset: rebuilding the VM (--reboot)');
          const inst = this.#instance;
          this.#instance = undefined;
          if (inst !== undefined) this.#teardown(inst.cleanups);
          this.#statusExit = undefined;
          this.#fault = undefined;
          this.#instance = await this.#build();
          continue;
        }
        return exit;
      }
    } catch (e) {
      if (e instanceof VmmError || e instanceof ConfigError) throw e;
      throw new VmmError('SETUP_FAILED', e instanceof Error ? e.message : String(e), { cause: e });
    } finally {
      if (signals) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      this.close();
    }
  }

  async #runOnce(): Promise<VmmExit> {
    const inst = this.#instance;
    if (inst === undefined) throw new VmmError('STATE', 'no VM');
    try {
      inst.vm.start();
    } catch (e) {
      const why = e instanceof ErrnoError ? `${e.code}${e.op !== undefined ? ` from ${e.op}` : ''}` : e instanceof Error ? e.message : String(e);
      throw new VmmError('START_FAILED', `VM_START failed: ${why} (the VM cannot be started again; check the DTB and memory layout)`, { cause: e });
    }
    this.#stats.boots++;
    this.#verbose('VM_START ok');
    if (inst.uart !== undefined) this.#console?.attach(inst.uart);
    const workerBinding = this.backend.workerBinding;
    const runner = VcpuRunner.start({
      vcpus: inst.vcpus,
      mmio: this.#mmio(inst),
      onExit: (id, exit) => this.#onExit(id, exit),
      ...(workerBinding !== undefined ? { workerBinding } : {}),
      ...(uartWorkerMmio(inst.uart) !== undefined ? { workerMmio: uartWorkerMmio(inst.uart)! } : {}),
      ...(this.#pool !== undefined ? { pool: this.#pool } : {}),
    });
    // workers the runner did not take (other modules, a later --reboot) are not needed any more;
    // their threads (and the fds of their event loops) are gone before run() returns
    const poolClosed = this.#pool?.close();
    this.#pool = undefined;
    this.#runner = runner;
    if (this.#stopReason !== undefined) void runner.stop();
    this.#verbose(`running ${inst.vcpus.length} vCPU${inst.vcpus.length === 1 ? '' : 's'} (${runner.mode} mode)`);
    inst.virtio.start();
    const results = await runner.done;
    await poolClosed;
    await inst.virtio.stop();
    this.#runner = undefined;
    this.#console?.flush();
    if (this.#stats.unhandledReads + this.#stats.unhandledWrites > 0) {
      this.#verbose(
        `unhandled MMIO: ${this.#stats.unhandledReads} reads, ${this.#stats.unhandledWrites} writes (at ${this.#unhandledSeen.map((a) => `0x${a.toString(16)}`).join(', ')})`,
      );
    }
    for (const l of this.backend.rmLog()) this.#verbose(`RM: ${l}`);

    if (this.#stopReason !== undefined) {
      return {
        code: EXIT_STATUS.interrupted,
        reason: this.#stopReason,
        message: this.#stopReason === 'quit' ? 'quit (Ctrl-A x)' : 'interrupted',
        exitInfo: undefined,
      };
    }
    const st = this.#statusExit;
    if (st !== undefined) {
      const e = st.exit;
      const exitInfo: VmmExitInfo = { vcpu: st.vcpu, status: e.status, exitType: e.exitType, reason: hexBytes(e.reason) };
      const detail = `status ${e.status} (${STATUS_NAMES[e.status] ?? 'unknown'}), exit type ${e.exitType} (${EXIT_TYPE_NAMES[e.exitType] ?? 'unknown'})${e.reasonSize > 0 ? `, reason 0x${exitInfo.reason}` : ''}, reported by vCPU ${st.vcpu}`;
      switch (e.kind) {
        case 'shutdown':
          return { code: EXIT_STATUS.poweroff, reason: 'poweroff', message: 'guest powered off', exitInfo };
        case 'reset':
          return { code: EXIT_STATUS.reset, reason: 'reset', message: `guest reset (--reboot restarts it): ${detail}`, exitInfo };
        case 'load-failed':
          return { code: EXIT_STATUS.crash, reason: 'load-failed', message: `guest failed to load: ${detail}`, exitInfo };
        default:
          return { code: EXIT_STATUS.crash, reason: 'crash', message: `guest crashed: ${detail}`, exitInfo };
      }
    }
    const failed = results.find((r) => r.reason === 'error');
    const why = this.#fault ?? (failed?.error !== undefined ? `vCPU ${failed.id}: ${failed.error.message}` : 'every vCPU stopped without a VM exit');
    return { code: EXIT_STATUS.crash, reason: 'error', message: why, exitInfo: undefined };
  }

  /** Release everything: console (terminal restored), vCPUs, VM, memory, eventfds, backend. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#console?.close();
    void this.#pool?.close();
    this.#pool = undefined;
    const inst = this.#instance;
    this.#instance = undefined;
    if (inst !== undefined) this.#teardown(inst.cleanups);
    try {
      this.#gunyah.close();
    } catch {
      // already closed
    }
    if (this.#swappedBinding) setBinding(this.#previousBinding);
    this.backend.close();
  }
}
