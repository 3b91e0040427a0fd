/**
 * The contract between the virtio-mmio transport and a device model.
 *
 * @module
 */
import type { GuestMemory } from '@gunyah-ts/vm-memory';
import type { SplitQueue } from './queue.js';

/**
 * What a device gets when the driver sets `DRIVER_OK`: the queues the driver set up and the means to
 * interrupt the guest. Valid until the device's {@link VirtioDevice.reset}.
 */
export interface VirtioDeviceContext {
  /** Guest memory holding the queues and buffers. */
  readonly memory: GuestMemory;
  /** Negotiated feature bits (device offer ∩ driver acceptance). */
  readonly features: bigint;
  /** One entry per queue of the device; `undefined` for queues the driver left unused. */
  readonly queues: readonly (SplitQueue | undefined)[];
  /**
   * Tell the transport the device put buffers in `queue`'s used ring: it raises the used-buffer
   * interrupt if the driver wants one (notification suppression is applied here).
   */
  usedBuffers(queue: SplitQueue): void;
  /** Raise a configuration-change interrupt (after changing config space). */
  configChanged(): void;
  /**
   * Run device work that touches the queues outside a queue notification (for example console input
   * arriving from the host). Errors are handled as for notifications: a broken queue marks the
   * device `DEVICE_NEEDS_RESET`. Returns the callback's result, or `undefined` if it failed or the
   * device is not live.
   */
  run<T>(work: () => T): T | undefined;
}

/**
 * A virtio device model behind a transport. Devices never see registers or status bits: the
 * transport negotiates, builds validated {@link SplitQueue}s and calls {@link activate}, then
 * forwards queue notifications to {@link queueNotify}. Methods other than the config accessors may
 * throw a `VirtqueueError` (or any error): the transport catches it and marks the device broken.
 */
export interface VirtioDevice {
  /** Device type id (2 block, 3 console, 4 entropy, …). */
  readonly deviceId: number;
  /** Device-specific feature bits offered (the transport adds `VERSION_1` and ring features). */
  readonly features: bigint;
  /** Largest size of each queue; the array length is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Length of the device configuration space in bytes. */
  readonly configSize: number;
  /** Read `size` bytes (1, 2, 4 or 8, little-endian) of config space at `offset` (inside `configSize`). */
  readConfig(offset: number, size: number): bigint;
  /** Write config space; most devices ignore writes. */
  writeConfig(offset: number, size: number, value: bigint): void;
  /**
   * Start the device with the queues the driver set up. Throwing refuses activation: the transport
   * then marks the device `DEVICE_NEEDS_RESET`.
   */
  activate(context: VirtioDeviceContext): void;
  /** The driver added buffers to queue `index` (or an ioeventfd fired for it). */
  queueNotify(index: number): void;
  /** Forget every queue and any in-flight state; the driver starts over. */
  reset(): void;
}
