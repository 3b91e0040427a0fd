/**
 * Wiring between the transport and the two Gunyah VM functions the ioctl layer exposes: queue
 * notifications arriving on ioeventfds and interrupts leaving through irqfds.
 *
 * @module
 */
import { Worker } from 'node:worker_threads';
import { eventfdWrite } from '@gunyah-ts/sys';
import { VirtioError } from './errors.js';

/** Options of {@link EventfdListener}. */
export interface EventfdListenerOptions {
  /** Called (on the main thread) when a worker fails to read its eventfd; the listener for it stops. */
  readonly onError?: (error: VirtioError) => void;
  /** Let the process exit while listening. Default true. */
  readonly unref?: boolean;
}

/** One eventfd to watch and what to do when it fires. */
export interface EventfdWatch {
  /** The eventfd (an ioeventfd registered with the VM). */
  readonly fd: number;
  /** Called on the main thread with the counter value read (several guest writes may coalesce). */
  readonly onEvent: (count: bigint) => void;
}

function workerUrl(): URL {
  // Built code sits next to eventfd-worker.js; under a TypeScript test runner this module is
  // src/eventfd.ts, and the worker (plain Node) needs the built file.
  return import.meta.url.endsWith('.ts') ? new URL('../dist/eventfd-worker.js', import.meta.url) : new URL('./eventfd-worker.js', import.meta.url);
}

/**
 * Turns eventfds into callbacks on the main thread without polling it: one worker thread per fd
 * blocks in `read(2)` (via `@gunyah-ts/sys`) and posts each wake-up. The guest's `QueueNotify` write
 * is absorbed by the kernel (no vCPU exit) and arrives here as an event.
 *
 * @example
 * ```ts
 * const listener = new EventfdListener([{ fd: notifyFd, onEvent: () => transport.notify(0) }]);
 * // … at shutdown
 * await listener.close();
 * ```
 */
export class EventfdListener {
  readonly #workers: { worker: Worker; stop: Int32Array; fd: number; exited: Promise<void> }[] = [];
  #closed = false;

  /**
   * @param watches - eventfds and their callbacks
   * @param options - error sink, unref
   * @throws {VirtioError} INVALID_OPTION for a negative or non-integer fd
   */
  constructor(watches: readonly EventfdWatch[], options: EventfdListenerOptions = {}) {
    for (const w of watches) {
      if (!Number.isInteger(w.fd) || w.fd < 0) throw new VirtioError('INVALID_OPTION', `${w.fd} is not a file descriptor`);
    }
    for (const w of watches) {
      const stop = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker(workerUrl(), { workerData: { fd: w.fd, stop } });
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.on('message', (m: { count?: bigint; error?: string; code?: string }) => {
        if (m.count !== undefined) w.onEvent(m.count);
        else if (m.error !== undefined) options.onError?.(new VirtioError('DEVICE_ERROR', `eventfd ${w.fd}: ${m.error}`));
      });
      worker.on('error', (e) => options.onError?.(new VirtioError('DEVICE_ERROR', `eventfd ${w.fd} worker: ${e.message}`, { cause: e })));
      if (options.unref ?? true) worker.unref();
      this.#workers.push({ worker, stop, fd: w.fd, exited });
    }
  }

  /**
   * Stop every worker: set its stop flag and wake it with one eventfd write (a notification at
   * shutdown is harmless). Resolves when all have exited. The fds stay open (the caller owns them).
   * The workers are ref'd while it waits, so an unref'd listener's `close()` still resolves when
   * nothing else keeps the event loop alive.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      this.#workers.map(async ({ worker, stop, fd, exited }) => {
        worker.ref();
        Atomics.store(stop, 0, 1);
        try {
          eventfdWrite(fd, 1n);
        } catch {
          await worker.terminate();
        }
        await exited;
      }),
    );
  }
}

/**
 * A transport `trigger` that writes 1 to an irqfd: each call rings the doorbell bound to the device's
 * SPI (edge).
 *
 * @example
 * ```ts
 * new VirtioMmioTransport(dev, { memory, trigger: irqfdTrigger(irqfd) });
 * ```
 */
export function irqfdTrigger(fd: number): () => void {
  return () => eventfdWrite(fd, 1n);
}
