/**
 * Numbers from the virtio 1.x specification (OASIS virtio v1.1 / v1.2), stated in our own words.
 * Section references are to virtio v1.2.
 *
 * @module
 */

/** `MagicValue` of a virtio-mmio transport: the bytes "virt" read as a little-endian u32 (§4.2.2). */
export const VIRTIO_MMIO_MAGIC = 0x74726976;

/** `Version` of the non-legacy virtio-mmio register layout (§4.2.2). */
export const VIRTIO_MMIO_VERSION = 2;

/** Size of one virtio-mmio window: control registers below 0x100, device config from 0x100 (§4.2.2). */
export const VIRTIO_MMIO_WINDOW_SIZE = 0x200;

/**
 * Register offsets of the virtio-mmio transport, version 2 (§4.2.2). Every control register is 32
 * bits wide; 64-bit addresses are split into `…Low`/`…High` halves.
 */
export const VIRTIO_MMIO = {
  /** R: {@link VIRTIO_MMIO_MAGIC}. */
  MAGIC_VALUE: 0x000,
  /** R: {@link VIRTIO_MMIO_VERSION}. */
  VERSION: 0x004,
  /** R: device type ({@link VIRTIO_ID}); 0 means no device. */
  DEVICE_ID: 0x008,
  /** R: vendor id. */
  VENDOR_ID: 0x00c,
  /** R: 32 feature bits of the device, the word chosen by `DEVICE_FEATURES_SEL`. */
  DEVICE_FEATURES: 0x010,
  /** W: which 32-bit word of the device features `DEVICE_FEATURES` shows. */
  DEVICE_FEATURES_SEL: 0x014,
  /** W: 32 feature bits the driver accepts, the word chosen by `DRIVER_FEATURES_SEL`. */
  DRIVER_FEATURES: 0x020,
  /** W: which 32-bit word `DRIVER_FEATURES` writes. */
  DRIVER_FEATURES_SEL: 0x024,
  /** W: the queue the `QUEUE_*` registers address. */
  QUEUE_SEL: 0x030,
  /** R: largest queue size the device supports for the selected queue; 0 when it does not exist. */
  QUEUE_NUM_MAX: 0x034,
  /** W: queue size chosen by the driver. */
  QUEUE_NUM: 0x038,
  /** RW: 1 once the driver has set the queue up; writing 0 stops the queue. */
  QUEUE_READY: 0x044,
  /** W: the driver has new buffers in the queue whose index it writes. */
  QUEUE_NOTIFY: 0x050,
  /** R: why the device interrupted ({@link VIRTIO_MMIO_INT}). */
  INTERRUPT_STATUS: 0x060,
  /** W: the interrupt causes the driver has handled. */
  INTERRUPT_ACK: 0x064,
  /** RW: device status ({@link VIRTIO_STATUS}); writing 0 resets the device. */
  STATUS: 0x070,
  /** W: descriptor table address, low 32 bits. */
  QUEUE_DESC_LOW: 0x080,
  /** W: descriptor table address, high 32 bits. */
  QUEUE_DESC_HIGH: 0x084,
  /** W: driver (available) ring address, low 32 bits. */
  QUEUE_DRIVER_LOW: 0x090,
  /** W: driver (available) ring address, high 32 bits. */
  QUEUE_DRIVER_HIGH: 0x094,
  /** W: device (used) ring address, low 32 bits. */
  QUEUE_DEVICE_LOW: 0x0a0,
  /** W: device (used) ring address, high 32 bits. */
  QUEUE_DEVICE_HIGH: 0x0a4,
  /** W: shared memory region selector (v1.2). */
  SHM_SEL: 0x0ac,
  /** R: shared memory region length, low half; all ones when the region does not exist (v1.2). */
  SHM_LEN_LOW: 0x0b0,
  /** R: shared memory region length, high half. */
  SHM_LEN_HIGH: 0x0b4,
  /** R: shared memory region base, low half. */
  SHM_BASE_LOW: 0x0b8,
  /** R: shared memory region base, high half. */
  SHM_BASE_HIGH: 0x0bc,
  /** R: changes whenever the device configuration space changes. */
  CONFIG_GENERATION: 0x0fc,
  /** Start of the device-specific configuration space. */
  CONFIG: 0x100,
} as const;

/** Bits of `InterruptStatus` / `InterruptACK` (§4.2.2). */
export const VIRTIO_MMIO_INT = {
  /** The device used a buffer in at least one queue. */
  VRING: 1,
  /** The device configuration changed (or the device needs a reset). */
  CONFIG: 2,
} as const;

/** Bits of the device status field (§2.1). */
export const VIRTIO_STATUS = {
  /** The guest has found the device. */
  ACKNOWLEDGE: 1,
  /** The guest knows how to drive the device. */
  DRIVER: 2,
  /** The driver is set up and the device is live. */
  DRIVER_OK: 4,
  /** The driver acknowledged the features it understands; negotiation is over. */
  FEATURES_OK: 8,
  /** The device hit an error it cannot recover from without a reset. */
  DEVICE_NEEDS_RESET: 0x40,
  /** The guest gave up on the device. */
  FAILED: 0x80,
} as const;

/** Device type ids (§5). */
export const VIRTIO_ID = {
  /** Network card. */
  NET: 1,
  /** Block device. */
  BLOCK: 2,
  /** Console. */
  CONSOLE: 3,
  /** Entropy source. */
  RNG: 4,
} as const;

/** Transport-level feature bits (§6), as bit numbers. */
export const VIRTIO_F = {
  /** Descriptors may point at indirect descriptor tables (`VIRTIO_RING_F_INDIRECT_DESC`). */
  INDIRECT_DESC: 28,
  /** `used_event` / `avail_event` notification suppression (`VIRTIO_RING_F_EVENT_IDX`). */
  EVENT_IDX: 29,
  /** The device follows virtio 1.x, not the legacy interface. Mandatory here. */
  VERSION_1: 32,
  /** Device access to memory goes through the platform's IOMMU rules. */
  ACCESS_PLATFORM: 33,
} as const;

/** Flags of a split-queue descriptor (§2.7.5). */
export const VIRTQ_DESC_F = {
  /** The chain continues at `next`. */
  NEXT: 1,
  /** The buffer is device-writable (otherwise device-readable). */
  WRITE: 2,
  /** The buffer holds a table of indirect descriptors. */
  INDIRECT: 4,
} as const;

/** `flags` of the available ring: the driver does not want used-buffer interrupts (§2.7.7). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;

/** `flags` of the used ring: the device does not want notifications (§2.7.7). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Largest split-queue size the specification allows (§2.7). */
export const VIRTQ_MAX_SIZE = 32768;

/** Feature bit `n` as a 64-bit mask. */
export function featureBit(n: number): bigint {
  return 1n << BigInt(n);
}
