/**
 * virtio-rng (virtio v1.2 §5.4): fills each device-writable buffer with bytes from the host's
 * cryptographic random generator.
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { VIRTIO_ID } from '../constants.js';
import type { VirtioDevice, VirtioDeviceContext } from '../device.js';
import { VirtioError } from '../errors.js';
import { writeToChain } from '../queue.js';

/** Options of {@link VirtioRng}. */
export interface VirtioRngOptions {
  /** Most bytes given per request (the rest of a larger buffer is left untouched). Default 64 KiB. */
  readonly maxBytesPerRequest?: number;
  /** Queue size. Power of two, 1 … 32768. Default 64. */
  readonly queueSize?: number;
  /** Random source, for tests. Default `crypto.randomFillSync`. */
  readonly random?: (buffer: Uint8Array) => void;
}

/**
 * A virtio entropy device.
 *
 * @example
 * ```ts
 * const rng = new VirtioRng();
 * bus.register(base, 0x200n, new VirtioMmioTransport(rng, { memory, trigger }), 'virtio-rng');
 * ```
 */
export class VirtioRng implements VirtioDevice {
  /** Always 4. */
  readonly deviceId = VIRTIO_ID.RNG;
  /** No device features. */
  readonly features = 0n;
  /** One request queue. */
  readonly queueMaxSizes: readonly number[];
  /** No config space. */
  readonly configSize = 0;
  readonly #max: number;
  readonly #random: (buffer: Uint8Array) => void;
  readonly #scratch: Uint8Array;
  #ctx: VirtioDeviceContext | undefined;
  #bytes = 0;

  /**
   * @param options - per-request limit, queue size, random source
   * @throws {VirtioError} INVALID_OPTION for out-of-range limits
   */
  constructor(options: VirtioRngOptions = {}) {
    const max = options.maxBytesPerRequest ?? 65536;
    const qs = options.queueSize ?? 64;
    if (!Number.isSafeInteger(max) || max < 1 || max > 1 << 24) throw new VirtioError('INVALID_OPTION', 'maxBytesPerRequest must be 1 … 16 MiB');
    if (!Number.isInteger(qs) || qs < 1 || qs > 32768 || (qs & (qs - 1)) !== 0) throw new VirtioError('INVALID_OPTION', `queue size ${qs} is not a power of two`);
    this.#max = max;
    this.#random = options.random ?? ((b) => randomFillSync(b));
    this.#scratch = new Uint8Array(Math.min(max, 65536));
    this.queueMaxSizes = [qs];
  }

  /** Random bytes handed to the guest so far. */
  get bytesServed(): number {
    return this.#bytes;
  }

  /** No config space: never called by the transport. */
  readConfig(): bigint {
    return 0n;
  }

  /** No config space. */
  writeConfig(): void {}

  /** Start serving requests. */
  activate(context: VirtioDeviceContext): void {
    this.#ctx = context;
  }

  /** Drop the queue. */
  reset(): void {
    this.#ctx = undefined;
  }

  /** Fill every available buffer (device-readable parts of a chain are ignored). */
  queueNotify(index: number): void {
    const ctx = this.#ctx;
    const q = ctx?.queues[index];
    if (ctx === undefined || q === undefined || index !== 0) return;
    for (let chain = q.pop(); chain !== undefined; chain = q.pop()) {
      const want = Math.min(chain.writableLength, this.#max);
      let done = 0;
      while (done < want) {
        const piece = this.#scratch.subarray(0, Math.min(this.#scratch.length, want - done));
        this.#random(piece);
        done += writeToChain(ctx.memory, chain, done, piece);
      }
      this.#bytes += done;
      q.addUsed(chain.head, done);
    }
    ctx.usedBuffers(q);
  }
}
