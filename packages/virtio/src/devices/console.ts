/**
 * virtio-console (virtio v1.2 §5.3) with a single port: the guest sees it as `/dev/hvc0`. Output
 * goes to a sink; input is queued by the host with {@link VirtioConsole.enqueue}, bounded, and
 * delivered as the guest posts receive buffers.
 *
 * @module
 */
import { VIRTIO_ID } from '../constants.js';
import type { VirtioDevice, VirtioDeviceContext } from '../device.js';
import { VirtioError } from '../errors.js';
import { readFromChain, writeToChain } from '../queue.js';
import { readLe } from './config-space.js';

/** Queue indices of port 0 (§5.3.2). */
export const VIRTIO_CONSOLE_QUEUE = {
  /** Host → guest. */
  RECEIVE: 0,
  /** Guest → host. */
  TRANSMIT: 1,
} as const;

/** Options of {@link VirtioConsole}. */
export interface VirtioConsoleOptions {
  /** Receives what the guest writes, in order, in chunks of at most `maxChunk` bytes. */
  readonly output: (bytes: Uint8Array) => void;
  /** Host input held while the guest has no receive buffer. Default 4096 bytes. */
  readonly inputLimit?: number;
  /** Size of each queue. Power of two, 1 … 32768. Default 128. */
  readonly queueSize?: number;
  /** Largest piece handed to `output` at once (a guest buffer can be up to 4 GiB). Default 64 KiB. */
  readonly maxChunk?: number;
}

/**
 * A one-port virtio console.
 *
 * @example
 * ```ts
 * const con = new VirtioConsole({ output: (b) => process.stdout.write(b) });
 * process.stdin.on('data', (d) => con.enqueue(d)); // returns how many bytes were taken
 * ```
 */
export class VirtioConsole implements VirtioDevice {
  /** Always 3. */
  readonly deviceId = VIRTIO_ID.CONSOLE;
  /** No optional features (no size, no multiport, no emergency write). */
  readonly features = 0n;
  /** receiveq and transmitq of port 0. */
  readonly queueMaxSizes: readonly number[];
  /** `struct virtio_console_config`: cols, rows, max_nr_ports, emerg_wr (all 0: not offered). */
  readonly configSize = 12;
  readonly #output: (bytes: Uint8Array) => void;
  readonly #maxChunk: number;
  readonly #pending: Uint8Array;
  #pendingLen = 0;
  #ctx: VirtioDeviceContext | undefined;
  readonly #config = new Uint8Array(12);

  /**
   * @param options - output sink and limits
   * @throws {VirtioError} INVALID_OPTION for a bad limit or queue size
   */
  constructor(options: VirtioConsoleOptions) {
    const limit = options.inputLimit ?? 4096;
    const qs = options.queueSize ?? 128;
    const chunk = options.maxChunk ?? 65536;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1 << 24) throw new VirtioError('INVALID_OPTION', 'inputLimit must be 1 … 16 MiB');
    if (!Number.isInteger(qs) || qs < 1 || qs > 32768 || (qs & (qs - 1)) !== 0) throw new VirtioError('INVALID_OPTION', `queue size ${qs} is not a power of two`);
    if (!Number.isSafeInteger(chunk) || chunk < 1 || chunk > 1 << 24) throw new VirtioError('INVALID_OPTION', 'maxChunk must be 1 … 16 MiB');
    this.#output = options.output;
    this.#maxChunk = chunk;
    this.#pending = new Uint8Array(limit);
    this.queueMaxSizes = [qs, qs];
  }

  /** Host input waiting for guest receive buffers. */
  get pendingInput(): number {
    return this.#pendingLen;
  }

  /** Free room for {@link enqueue}. */
  get inputSpace(): number {
    return this.#pending.length - this.#pendingLen;
  }

  /**
   * Queue host input for the guest. Takes as many bytes as fit in the bounded input buffer (the
   * rest is the caller's to retry or drop) and delivers what the guest's receive buffers can hold
   * now. Returns the count taken.
   */
  enqueue(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.inputSpace);
    this.#pending.set(bytes.subarray(0, n), this.#pendingLen);
    this.#pendingLen += n;
    this.#deliver();
    return n;
  }

  /** Config space reads (zeros: no optional fields are offered). */
  readConfig(offset: number, size: number): bigint {
    return readLe(this.#config, offset, size);
  }

  /** Config writes (`emerg_wr` without `VIRTIO_CONSOLE_F_EMERG_WRITE`) are ignored. */
  writeConfig(): void {}

  /** Start with the driver's queues; deliver input that arrived earlier. */
  activate(context: VirtioDeviceContext): void {
    this.#ctx = context;
    this.#deliver();
  }

  /** Forget the queues (pending host input is kept). */
  reset(): void {
    this.#ctx = undefined;
  }

  /** Receive buffers posted (queue 0) or output written (queue 1). */
  queueNotify(index: number): void {
    if (index === VIRTIO_CONSOLE_QUEUE.RECEIVE) this.#fill();
    else if (index === VIRTIO_CONSOLE_QUEUE.TRANSMIT) this.#transmit();
  }

  #deliver(): void {
    const ctx = this.#ctx;
    if (ctx !== undefined && this.#pendingLen > 0) ctx.run(() => this.#fill());
  }

  #fill(): void {
    const ctx = this.#ctx;
    const q = ctx?.queues[VIRTIO_CONSOLE_QUEUE.RECEIVE];
    if (ctx === undefined || q === undefined) return;
    let used = false;
    while (this.#pendingLen > 0) {
      const chain = q.pop();
      if (chain === undefined) break;
      const n = writeToChain(ctx.memory, chain, 0, this.#pending.subarray(0, this.#pendingLen));
      this.#pending.copyWithin(0, n, this.#pendingLen);
      this.#pendingLen -= n;
      q.addUsed(chain.head, n);
      used = true;
    }
    if (used) ctx.usedBuffers(q);
  }

  #transmit(): void {
    const ctx = this.#ctx;
    const q = ctx?.queues[VIRTIO_CONSOLE_QUEUE.TRANSMIT];
    if (ctx === undefined || q === undefined) return;
    for (let chain = q.pop(); chain !== undefined; chain = q.pop()) {
      for (let off = 0; off < chain.readableLength; ) {
        const piece = new Uint8Array(Math.min(this.#maxChunk, chain.readableLength - off));
        off += readFromChain(ctx.memory, chain, off, piece);
        try {
          this.#output(piece);
        } catch {
          // the sink's failure is the host's problem, not the guest's: keep going
        }
      }
      q.addUsed(chain.head, 0);
    }
    ctx.usedBuffers(q);
  }
}
