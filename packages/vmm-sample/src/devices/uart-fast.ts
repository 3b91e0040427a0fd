/**
 * The UART's fast path: the console UART served inside the vCPU workers (`VcpuRunner`'s
 * `workerMmio`), over a shared {@link Uart8250} state, so a guest writing to the UART costs one
 * `VCPU_RUN` round trip in the worker and no main-thread wake-up. The main thread keeps an
 * instance over the same state for input (the console) and for flushing batched output.
 *
 * @module
 */
import { existsSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadNativeBinding } from '@gunyah-ts/sys';
import type { CreateWorkerMmio, WorkerMmioHandler, WorkerMmioOptions } from '@gunyah-ts/ioctls';
import { Uart8250, UartError } from './uart8250.js';

/** What each vCPU worker gets (`workerMmio.data`): the shared state and where the UART sits. */
export interface UartWorkerData {
  /** From {@link Uart8250.createSharedState}. */
  readonly state: SharedArrayBuffer;
  /** Guest-physical base of the 8 UART registers. */
  readonly base: bigint;
  /** The fd guest output is written to (`fs.writeSync`). */
  readonly outputFd: number;
  /** The irqfd (an eventfd) written on each interrupt edge; undefined without an interrupt. */
  readonly irqfd: number | undefined;
}

const UART_SPAN = 8n;
const EAGAIN = 'EAGAIN';

/**
 * Writes all of `bytes` to `fd` synchronously; a non-blocking fd that is full (`EAGAIN`) is retried
 * after 1 ms. Other errors (a closed terminal) drop the output: the guest must not stop for it.
 */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let off = 0;
  let sleeper: Int32Array | undefined;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      if ((e as { code?: unknown }).code !== EAGAIN) return;
      sleeper ??= new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(sleeper, 0, 0, 1);
    }
  }
}

/** An interrupt trigger writing 1 to the eventfd `fd` (`EAGAIN`: the doorbell is pending anyway). */
export function eventfdTrigger(fd: number): () => void {
  const n = loadNativeBinding();
  const one = new BigUint64Array([1n]);
  return () => {
    try {
      n.write(fd, one);
    } catch {
      // EAGAIN: the counter is saturated, the interrupt is pending anyway
    }
  };
}

function checkData(data: unknown): UartWorkerData {
  const d = data as Partial<UartWorkerData> | null;
  if (
    d === null ||
    typeof d !== 'object' ||
    !(d.state instanceof SharedArrayBuffer) ||
    typeof d.base !== 'bigint' ||
    typeof d.outputFd !== 'number' ||
    !(d.irqfd === undefined || typeof d.irqfd === 'number')
  ) {
    throw new UartError('BAD_SHARED_STATE', 'UART worker data must be { state, base, outputFd, irqfd }');
  }
  return d as UartWorkerData;
}

/**
 * `VcpuRunner`'s worker entry (`workerMmio.module`): answers accesses inside the UART's 8 bytes
 * from the shared state; everything else is forwarded to the main thread's bus.
 *
 * @throws {UartError} BAD_SHARED_STATE when `data` is not a {@link UartWorkerData}
 */
export const createWorkerMmio: CreateWorkerMmio = (data: unknown): WorkerMmioHandler => {
  const d = checkData(data);
  const fd = d.outputFd;
  const uart = new Uart8250({ shared: d.state, write: (b) => writeAllSync(fd, b), ...(d.irqfd !== undefined ? { trigger: eventfdTrigger(d.irqfd) } : {}) });
  const base = d.base;
  const end = base + UART_SPAN;
  const handler: WorkerMmioHandler = (a) => {
    if (a.addr < base || a.addr + BigInt(a.len) > end) return 'forward';
    const off = Number(a.addr - base);
    if (a.isWrite) {
      uart.write(off, a.len, a.data);
      return { value: 0n };
    }
    return { value: uart.read(off, a.len) };
  };
  // guest output through the native run loop (where the binding has one), unless switched off
  const sink = process.env[UART_SINK_ENV] === '0' ? undefined : uart.txSink(base);
  return sink === undefined ? handler : Object.assign(handler, { sink });
};

/**
 * Environment variable that, set to `0`, serves guest output in the worker's JavaScript handler
 * instead of the native run loop's MMIO sink (`Uart8250.txSink`): for benchmarks comparing both.
 */
export const UART_SINK_ENV = 'VMM_SAMPLE_UART_SINK';

/** The compiled form of this module (dist/ when running from sources, e.g. in tests). */
export function uartWorkerModule(): string {
  const here = new URL('./uart-fast.js', import.meta.url);
  return existsSync(fileURLToPath(here)) ? here.href : new URL('../../dist/devices/uart-fast.js', import.meta.url).href;
}

/** Options of {@link createConsoleUart}. */
export interface ConsoleUartOptions {
  /** Where guest output goes: served from the workers only when it has an `fd` (process.stdout). */
  readonly stream: object;
  /** The per-byte sink when not shared (the console's batching writer). */
  readonly output: (byte: number) => void;
  /** The main thread's interrupt trigger (input arriving). */
  readonly trigger?: () => void;
  /** The irqfd behind `trigger`, for the workers. */
  readonly irqfd?: number;
  /** Guest-physical base of the UART. */
  readonly base: bigint;
  /** Whether the vCPUs run in worker threads over real fds (not a fake backend). */
  readonly workers: boolean;
}

/**
 * Environment variable that, set to `1`, keeps the UART on the main thread (the path before the
 * fast path existed): for benchmarks comparing both in one run.
 */
export const MAIN_THREAD_UART_ENV = 'VMM_SAMPLE_MAIN_THREAD_UART';

const workerMmioOf = new WeakMap<Uart8250, WorkerMmioOptions>();

/**
 * The console UART: over a shared state served by the vCPU workers when `workers` is set and the
 * output stream has an fd (and {@link MAIN_THREAD_UART_ENV} is not `1`); otherwise a plain
 * main-thread UART writing through `output`. Pass
 * {@link uartWorkerMmio}`(uart)` to `VcpuRunner.start`.
 */
export function createConsoleUart(o: ConsoleUartOptions): Uart8250 {
  const fd = (o.stream as { fd?: unknown }).fd;
  const trigger = o.trigger !== undefined ? { trigger: o.trigger } : {};
  const off = process.env[MAIN_THREAD_UART_ENV] === '1';
  if (off || !o.workers || typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) return new Uart8250({ output: o.output, ...trigger });
  const state = Uart8250.createSharedState();
  const uart = new Uart8250({ shared: state, write: (b) => writeAllSync(fd, b), ...trigger });
  const data: UartWorkerData = { state, base: o.base, outputFd: fd, irqfd: o.irqfd };
  workerMmioOf.set(uart, { module: uartWorkerModule(), data });
  return uart;
}

/** The `workerMmio` option serving `uart` in the vCPU workers, when it was made shared by {@link createConsoleUart}. */
export function uartWorkerMmio(uart: Uart8250 | undefined): WorkerMmioOptions | undefined {
  return uart === undefined ? undefined : workerMmioOf.get(uart);
}
