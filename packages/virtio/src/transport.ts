/**
 * The virtio-mmio transport, version 2 (virtio v1.2 §4.2): the register file the guest driver talks
 * to, the device status state machine, feature negotiation, queue setup and interrupts.
 *
 * @module
 */
import type { GuestMemory } from '@gunyah-ts/vm-memory';
import { VIRTIO_F, VIRTIO_MMIO, VIRTIO_MMIO_INT, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VERSION, VIRTIO_STATUS, featureBit } from './constants.js';
import type { VirtioDevice, VirtioDeviceContext } from './device.js';
import { VirtioError, VirtqueueError, type VirtioErrorCode } from './errors.js';
import { SplitQueue } from './queue.js';

/** Options of {@link VirtioMmioTransport}. */
export interface VirtioMmioTransportOptions {
  /** Guest memory the driver places queues and buffers in. */
  readonly memory: GuestMemory;
  /**
   * Raise the device's interrupt line (edge). A VMM writes the irqfd bound to the device's SPI here;
   * called on the thread that runs the transport.
   */
  readonly trigger: () => void;
  /** Receives every driver mistake and device failure (at most `maxReports` of them). */
  readonly onError?: (error: VirtioError | VirtqueueError) => void;
  /** Offer `VIRTIO_RING_F_EVENT_IDX`. Default true. */
  readonly eventIdx?: boolean;
  /** Offer `VIRTIO_RING_F_INDIRECT_DESC`. Default true. */
  readonly indirect?: boolean;
  /** Value of the `VendorID` register. Default 0. */
  readonly vendorId?: number;
  /** How many errors to pass to `onError` before dropping them (a hostile guest can flood). Default 64. */
  readonly maxReports?: number;
}

interface QueueState {
  num: number;
  ready: boolean;
  desc: bigint;
  driver: bigint;
  device: bigint;
  queue: SplitQueue | undefined;
}

const U32 = 0xffff_ffffn;
const { ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK, DEVICE_NEEDS_RESET, FAILED } = VIRTIO_STATUS;
const DRIVER_BITS = ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK | FAILED;

function setHalf(v: bigint, high: boolean, half: bigint): bigint {
  return high ? (v & U32) | (half << 32n) : (v & (U32 << 32n)) | half;
}

/**
 * A virtio-mmio transport around one {@link VirtioDevice}. It has the shape of a VMM bus device,
 * `read(offset, size)` / `write(offset, size, value)` with offsets from the window's base, and never
 * throws: driver mistakes are reported through `onError` and ignored, and a device that meets a
 * hostile descriptor is marked `DEVICE_NEEDS_RESET` (with a configuration interrupt) until the
 * driver resets it.
 *
 * @example
 * ```ts
 * const blk = VirtioBlock.open('/srv/disk.img', { readOnly: false });
 * const t = new VirtioMmioTransport(blk, { memory, trigger: () => eventfdWrite(irqfd) });
 * bus.register(0x0a00_0000n, 0x200n, t, 'virtio-blk');
 * ```
 */
export class VirtioMmioTransport {
  /** The device behind this transport. */
  readonly device: VirtioDevice;
  readonly #memory: GuestMemory;
  readonly #trigger: () => void;
  readonly #onError: ((error: VirtioError | VirtqueueError) => void) | undefined;
  readonly #offered: bigint;
  readonly #vendorId: number;
  readonly #maxReports: number;
  #reports = 0;
  #dropped = 0;
  #status = 0;
  #deviceFeaturesSel = 0;
  #driverFeaturesSel = 0;
  #driverFeatures = 0n;
  #driverFeaturesBad = false;
  #queueSel = 0;
  #queues: QueueState[];
  #interruptStatus = 0;
  #configGeneration = 0;
  #shmSel = 0;
  #active = false;
  #broken = false;
  #epoch = 0; // bumps on every reset; contexts from older epochs go dead
  #lastError: VirtioError | VirtqueueError | undefined;

  /**
   * @param device - the device model
   * @param options - memory, interrupt trigger, error sink, offered ring features
   * @throws {VirtioError} INVALID_OPTION for a device with no queues, a bad queue size, a config space
   *   larger than 0x100 bytes, or bad options
   */
  constructor(device: VirtioDevice, options: VirtioMmioTransportOptions) {
    if (device.queueMaxSizes.length === 0) throw new VirtioError('INVALID_OPTION', 'a virtio device needs at least one queue');
    for (const s of device.queueMaxSizes) {
      if (!Number.isInteger(s) || s < 1 || s > 32768 || (s & (s - 1)) !== 0) {
        throw new VirtioError('INVALID_OPTION', `queue max size ${s} is not a power of two in 1 … 32768`);
      }
    }
    if (!Number.isInteger(device.configSize) || device.configSize < 0 || device.configSize > 0x100) {
      throw new VirtioError('INVALID_OPTION', `config space of ${device.configSize} bytes does not fit the window`);
    }
    const maxReports = options.maxReports ?? 64;
    if (!Number.isInteger(maxReports) || maxReports < 0) throw new VirtioError('INVALID_OPTION', 'maxReports must be a non-negative integer');
    this.device = device;
    this.#memory = options.memory;
    this.#trigger = options.trigger;
    this.#onError = options.onError;
    this.#vendorId = (options.vendorId ?? 0) >>> 0;
    this.#maxReports = maxReports;
    let offered = (device.features & ~(featureBit(VIRTIO_F.INDIRECT_DESC) | featureBit(VIRTIO_F.EVENT_IDX))) | featureBit(VIRTIO_F.VERSION_1);
    if (options.indirect ?? true) offered |= featureBit(VIRTIO_F.INDIRECT_DESC);
    if (options.eventIdx ?? true) offered |= featureBit(VIRTIO_F.EVENT_IDX);
    this.#offered = offered & ((1n << 64n) - 1n);
    this.#queues = this.#freshQueues();
  }

  #freshQueues(): QueueState[] {
    return this.device.queueMaxSizes.map(() => ({ num: 0, ready: false, desc: 0n, driver: 0n, device: 0n, queue: undefined }));
  }

  /** Feature bits the transport offers (device bits plus `VERSION_1` and the ring features). */
  get offeredFeatures(): bigint {
    return this.#offered;
  }

  /** Feature bits the driver accepted (valid once `FEATURES_OK` is set). */
  get negotiatedFeatures(): bigint {
    return this.#driverFeatures;
  }

  /** The device status register. */
  get status(): number {
    return this.#status;
  }

  /** The interrupt status register (bit 0 used buffers, bit 1 config change). */
  get interruptStatus(): number {
    return this.#interruptStatus;
  }

  /** Whether the driver set `DRIVER_OK` and the device is running (not broken). */
  get active(): boolean {
    return this.#active && !this.#broken;
  }

  /** Whether the device is marked `DEVICE_NEEDS_RESET`. */
  get broken(): boolean {
    return this.#broken;
  }

  /** The last error reported (even when `onError` reports were dropped). */
  get lastError(): VirtioError | VirtqueueError | undefined {
    return this.#lastError;
  }

  /** Errors not passed to `onError` because `maxReports` was reached. */
  get droppedReports(): number {
    return this.#dropped;
  }

  #report(error: VirtioError | VirtqueueError): void {
    this.#lastError = error;
    if (this.#reports >= this.#maxReports) {
      this.#dropped++;
      return;
    }
    this.#reports++;
    try {
      this.#onError?.(error);
    } catch {
      // a failing logger must not break the MMIO path
    }
  }

  #driverError(code: VirtioErrorCode, message: string): void {
    this.#report(new VirtioError(code, message));
  }

  /** Mark the device broken: `DEVICE_NEEDS_RESET`, config interrupt when live, no more queue work. */
  #fail(error: unknown): void {
    const err =
      error instanceof VirtqueueError || error instanceof VirtioError
        ? error
        : new VirtioError('DEVICE_ERROR', `device failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    this.#report(err);
    if (this.#broken) return;
    this.#broken = true;
    this.#status |= DEVICE_NEEDS_RESET;
    if ((this.#status & DRIVER_OK) !== 0) this.#raise(VIRTIO_MMIO_INT.CONFIG);
  }

  #raise(bits: number): void {
    this.#interruptStatus |= bits;
    try {
      this.#trigger();
    } catch (e) {
      this.#report(new VirtioError('DEVICE_ERROR', `interrupt trigger failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    }
  }

  /**
   * Handle a guest read of `size` bytes at `offset` in the window. Control registers (below 0x100) need
   * aligned 32-bit reads; config space takes any width inside the device's config size. Anything else
   * reads as 0 and is reported.
   */
  read(offset: number, size: number): bigint {
    try {
      return this.#read(offset, size);
    } catch (e) {
      this.#fail(e);
      return 0n;
    }
  }

  /** Handle a guest write; the rules of {@link read} apply. Never throws. */
  write(offset: number, size: number, value: bigint): void {
    try {
      this.#write(offset, size, value);
    } catch (e) {
      this.#fail(e);
    }
  }

  #configRange(offset: number, size: number): number | undefined {
    const rel = offset - VIRTIO_MMIO.CONFIG;
    if (![1, 2, 4, 8].includes(size) || rel < 0 || rel + size > this.device.configSize) {
      this.#driverError('BAD_REGISTER_ACCESS', `config access of ${size} bytes at 0x${offset.toString(16)} is outside the ${this.device.configSize}-byte config space`);
      return undefined;
    }
    return rel;
  }

  #read(offset: number, size: number): bigint {
    if (offset >= VIRTIO_MMIO.CONFIG) {
      const rel = this.#configRange(offset, size);
      return rel === undefined ? 0n : BigInt.asUintN(size * 8, this.device.readConfig(rel, size));
    }
    if (size !== 4 || offset % 4 !== 0 || offset < 0) {
      this.#driverError('BAD_REGISTER_ACCESS', `control register read of ${size} bytes at 0x${offset.toString(16)}`);
      return 0n;
    }
    return BigInt(this.#readRegister(offset) >>> 0);
  }

  #readRegister(offset: number): number {
    const q = this.#queues[this.#queueSel];
    switch (offset) {
      case VIRTIO_MMIO.MAGIC_VALUE:
        return VIRTIO_MMIO_MAGIC;
      case VIRTIO_MMIO.VERSION:
        return VIRTIO_MMIO_VERSION;
      case VIRTIO_MMIO.DEVICE_ID:
        return this.device.deviceId;
      case VIRTIO_MMIO.VENDOR_ID:
        return this.#vendorId;
      case VIRTIO_MMIO.DEVICE_FEATURES:
        if (this.#deviceFeaturesSel > 1) return 0;
        return Number((this.#offered >> BigInt(32 * this.#deviceFeaturesSel)) & U32);
      case VIRTIO_MMIO.QUEUE_NUM_MAX:
        return q === undefined ? 0 : (this.device.queueMaxSizes[this.#queueSel] ?? 0);
      case VIRTIO_MMIO.QUEUE_READY:
        return q?.ready === true ? 1 : 0;
      case VIRTIO_MMIO.INTERRUPT_STATUS:
        return this.#interruptStatus;
      case VIRTIO_MMIO.STATUS:
        return this.#status;
      case VIRTIO_MMIO.SHM_LEN_LOW:
      case VIRTIO_MMIO.SHM_LEN_HIGH:
      case VIRTIO_MMIO.SHM_BASE_LOW:
      case VIRTIO_MMIO.SHM_BASE_HIGH:
        return 0xffff_ffff; // no shared memory regions: length reads as all ones (§4.2.2)
      case VIRTIO_MMIO.CONFIG_GENERATION:
        return this.#configGeneration;
      default:
        this.#driverError('BAD_REGISTER_ACCESS', `read of write-only or unknown register 0x${offset.toString(16)}`);
        return 0;
    }
  }

  #write(offset: number, size: number, value: bigint): void {
    if (offset >= VIRTIO_MMIO.CONFIG) {
      const rel = this.#configRange(offset, size);
      if (rel !== undefined) this.device.writeConfig(rel, size, BigInt.asUintN(size * 8, value));
      return;
    }
    if (size !== 4 || offset % 4 !== 0 || offset < 0) {
      this.#driverError('BAD_REGISTER_ACCESS', `control register write of ${size} bytes at 0x${offset.toString(16)}`);
      return;
    }
    this.#writeRegister(offset, Number(BigInt.asUintN(32, value)));
  }

  #queueWritable(what: string): QueueState | undefined {
    const q = this.#queues[this.#queueSel];
    if (q === undefined) {
      this.#driverError('QUEUE_CONFIG', `${what} for queue ${this.#queueSel}, which does not exist`);
      return undefined;
    }
    if ((this.#status & FEATURES_OK) === 0 || (this.#status & DRIVER_OK) !== 0 || this.#broken) {
      this.#driverError('QUEUE_CONFIG', `${what} for queue ${this.#queueSel} outside queue setup (status 0x${this.#status.toString(16)})`);
      return undefined;
    }
    if (q.ready) {
      this.#driverError('QUEUE_CONFIG', `${what} for queue ${this.#queueSel} while it is ready`);
      return undefined;
    }
    return q;
  }

  #writeRegister(offset: number, v: number): void {
    switch (offset) {
      case VIRTIO_MMIO.DEVICE_FEATURES_SEL:
        this.#deviceFeaturesSel = v;
        return;
      case VIRTIO_MMIO.DRIVER_FEATURES_SEL:
        this.#driverFeaturesSel = v;
        return;
      case VIRTIO_MMIO.DRIVER_FEATURES:
        this.#writeDriverFeatures(v);
        return;
      case VIRTIO_MMIO.QUEUE_SEL:
        this.#queueSel = v;
        return;
      case VIRTIO_MMIO.QUEUE_NUM: {
        const q = this.#queueWritable('QueueNum');
        if (q) q.num = v;
        return;
      }
      case VIRTIO_MMIO.QUEUE_READY:
        this.#writeQueueReady(v);
        return;
      case VIRTIO_MMIO.QUEUE_NOTIFY:
        this.notify(v);
        return;
      case VIRTIO_MMIO.INTERRUPT_ACK:
        this.#interruptStatus &= ~v;
        return;
      case VIRTIO_MMIO.STATUS:
        this.#writeStatus(v);
        return;
      case VIRTIO_MMIO.QUEUE_DESC_LOW:
      case VIRTIO_MMIO.QUEUE_DESC_HIGH:
      case VIRTIO_MMIO.QUEUE_DRIVER_LOW:
      case VIRTIO_MMIO.QUEUE_DRIVER_HIGH:
      case VIRTIO_MMIO.QUEUE_DEVICE_LOW:
      case VIRTIO_MMIO.QUEUE_DEVICE_HIGH: {
        const q = this.#queueWritable(`queue address register 0x${offset.toString(16)}`);
        if (!q) return;
        const high = (offset & 4) !== 0;
        const half = BigInt(v);
        if (offset <= VIRTIO_MMIO.QUEUE_DESC_HIGH) q.desc = setHalf(q.desc, high, half);
        else if (offset <= VIRTIO_MMIO.QUEUE_DRIVER_HIGH) q.driver = setHalf(q.driver, high, half);
        else q.device = setHalf(q.device, high, half);
        return;
      }
      case VIRTIO_MMIO.SHM_SEL:
        this.#shmSel = v;
        return;
      default:
        this.#driverError('BAD_REGISTER_ACCESS', `write of read-only or unknown register 0x${offset.toString(16)}`);
    }
  }

  #writeDriverFeatures(v: number): void {
    if ((this.#status & DRIVER) === 0 || (this.#status & FEATURES_OK) !== 0) {
      this.#driverError('FEATURE_VIOLATION', `DriverFeatures written with status 0x${this.#status.toString(16)}`);
      return;
    }
    if (this.#driverFeaturesSel > 1) {
      if (v !== 0) {
        this.#driverFeaturesBad = true;
        this.#driverError('FEATURE_VIOLATION', `driver accepted bits 0x${v.toString(16)} in feature word ${this.#driverFeaturesSel}, which offers none`);
      }
      return;
    }
    this.#driverFeatures = setHalf(this.#driverFeatures, this.#driverFeaturesSel === 1, BigInt(v));
  }

  #writeQueueReady(v: number): void {
    const idx = this.#queueSel;
    const q = this.#queues[idx];
    if (v === 0) {
      if (q === undefined) return;
      q.ready = false;
      q.queue = undefined;
      return;
    }
    const s = this.#queueWritable('QueueReady');
    if (!s) return;
    const max = this.device.queueMaxSizes[idx] ?? 0;
    if (s.num > max) {
      this.#fail(new VirtqueueError('BAD_QUEUE_CONFIG', `queue ${idx}: size ${s.num} exceeds the maximum ${max}`, { queue: idx }));
      return;
    }
    try {
      s.queue = new SplitQueue(this.#memory, {
        size: s.num,
        descTable: s.desc,
        availRing: s.driver,
        usedRing: s.device,
        index: idx,
        eventIdx: (this.#driverFeatures & featureBit(VIRTIO_F.EVENT_IDX)) !== 0n,
        indirect: (this.#driverFeatures & featureBit(VIRTIO_F.INDIRECT_DESC)) !== 0n,
      });
      s.ready = true;
    } catch (e) {
      this.#fail(e);
    }
  }

  #writeStatus(v: number): void {
    if (v === 0) {
      this.reset();
      return;
    }
    const old = this.#status & DRIVER_BITS;
    const want = v & DRIVER_BITS; // DEVICE_NEEDS_RESET belongs to the device; other bits are reserved
    if ((old & ~want) !== 0) {
      this.#driverError('STATUS_VIOLATION', `status 0x${v.toString(16)} clears bits of 0x${old.toString(16)} without a reset`);
      return;
    }
    const added = want & ~old;
    const has = (bit: number): boolean => (want & bit) !== 0;
    if (((added & DRIVER) !== 0 && !has(ACKNOWLEDGE)) || ((added & FEATURES_OK) !== 0 && !has(DRIVER)) || ((added & DRIVER_OK) !== 0 && !has(FEATURES_OK))) {
      this.#driverError('STATUS_VIOLATION', `status 0x${v.toString(16)} skips a step after 0x${old.toString(16)}`);
      return;
    }
    let next = want;
    if ((added & FEATURES_OK) !== 0 && !this.#featuresAcceptable()) {
      next &= ~(FEATURES_OK | DRIVER_OK); // the driver sees FEATURES_OK missing and gives up
    }
    this.#status = next | (this.#status & DEVICE_NEEDS_RESET);
    if ((added & DRIVER_OK) !== 0 && (next & DRIVER_OK) !== 0) this.#activate();
  }

  #featuresAcceptable(): boolean {
    const extra = this.#driverFeatures & ~this.#offered;
    if (extra !== 0n || this.#driverFeaturesBad) {
      this.#driverError('FEATURE_VIOLATION', `driver accepted features 0x${extra.toString(16)} the device did not offer`);
      return false;
    }
    if ((this.#driverFeatures & featureBit(VIRTIO_F.VERSION_1)) === 0n) {
      this.#driverError('FEATURE_VIOLATION', 'driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)');
      return false;
    }
    return true;
  }

  #activate(): void {
    if (this.#broken) return;
    const epoch = this.#epoch;
    const live = (): boolean => epoch === this.#epoch && this.#active && !this.#broken;
    const context: VirtioDeviceContext = {
      memory: this.#memory,
      features: this.#driverFeatures,
      queues: this.#queues.map((q) => (q.ready ? q.queue : undefined)),
      usedBuffers: (queue) => {
        if (live() && queue.needsNotification()) this.#raise(VIRTIO_MMIO_INT.VRING);
      },
      configChanged: () => {
        if (epoch !== this.#epoch) return;
        this.#configGeneration = (this.#configGeneration + 1) >>> 0;
        if ((this.#status & DRIVER_OK) !== 0) this.#raise(VIRTIO_MMIO_INT.CONFIG);
      },
      run: <T>(work: () => T): T | undefined => {
        if (!live()) return undefined;
        try {
          return work();
        } catch (e) {
          this.#fail(e);
          return undefined;
        }
      },
    };
    this.#active = true;
    try {
      this.device.activate(context);
    } catch (e) {
      this.#fail(
        e instanceof VirtqueueError || e instanceof VirtioError
          ? e
          : new VirtioError('ACTIVATE_FAILED', `device refused to start: ${e instanceof Error ? e.message : String(e)}`, { cause: e }),
      );
    }
  }

  /**
   * The driver notified queue `index`: from a `QueueNotify` write, or from the ioeventfd a VMM
   * registered on `QueueNotify` with datamatch `index`. Ignored unless the device is live and the
   * queue ready. Never throws.
   */
  notify(index: number): void {
    if (!this.#active || this.#broken) return;
    const q = this.#queues[index];
    if (q === undefined || !q.ready) return;
    try {
      this.device.queueNotify(index);
    } catch (e) {
      this.#fail(e);
    }
  }

  /** Notify every ready queue (for a VMM with one ioeventfd per device, without datamatch). */
  notifyAll(): void {
    for (let i = 0; i < this.#queues.length; i++) this.notify(i);
  }

  /**
   * Reset the device, as when the driver writes 0 to `Status`: the device forgets its queues,
   * negotiation starts over and interrupt status is cleared.
   */
  reset(): void {
    this.#epoch++;
    this.#active = false;
    try {
      this.device.reset();
    } catch (e) {
      this.#report(new VirtioError('DEVICE_ERROR', `device reset failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    }
    this.#status = 0;
    this.#broken = false;
    this.#deviceFeaturesSel = 0;
    this.#driverFeaturesSel = 0;
    this.#driverFeatures = 0n;
    this.#driverFeaturesBad = false;
    this.#queueSel = 0;
    this.#shmSel = 0;
    this.#queues = this.#freshQueues();
    this.#interruptStatus = 0;
  }
}
