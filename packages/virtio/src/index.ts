/**
 * `@gunyah-ts/virtio`: a virtio-mmio (version 2) transport, split virtqueues that validate every
 * descriptor against guest memory, and three devices (block, console, entropy) for Gunyah VMMs.
 * Queue notifications may arrive through ioeventfds and interrupts leave through irqfds.
 *
 * @packageDocumentation
 */
export {
  VIRTIO_F,
  VIRTIO_ID,
  VIRTIO_MMIO,
  VIRTIO_MMIO_INT,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_VERSION,
  VIRTIO_MMIO_WINDOW_SIZE,
  VIRTIO_STATUS,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F,
  VIRTQ_MAX_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
  featureBit,
} from './constants.js';
export { VirtioError, VirtqueueError, type VirtioErrorCode, type VirtqueueErrorCode } from './errors.js';
export {
  SplitQueue,
  readFromChain,
  segmentsAt,
  validateQueueConfig,
  writeToChain,
  type DescriptorChain,
  type DescriptorSegment,
  type SplitQueueConfig,
} from './queue.js';
export type { VirtioDevice, VirtioDeviceContext } from './device.js';
export { VirtioMmioTransport, type VirtioMmioTransportOptions } from './transport.js';
export {
  SECTOR_SIZE,
  VIRTIO_BLK_F,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_S,
  VIRTIO_BLK_T,
  VirtioBlock,
  type VirtioBlockOptions,
  type VirtioBlockStats,
} from './devices/block.js';
export { VIRTIO_CONSOLE_QUEUE, VirtioConsole, type VirtioConsoleOptions } from './devices/console.js';
export { VirtioRng, type VirtioRngOptions } from './devices/rng.js';
export {
  virtioMmioDtEntry,
  virtioMmioIoeventfds,
  virtioMmioLayout,
  virtioMmioNode,
  type VirtioIoeventfdSpec,
  type VirtioMmioDtEntry,
  type VirtioMmioNodeDescription,
} from './dt.js';
export { EventfdListener, irqfdTrigger, type EventfdListenerOptions, type EventfdWatch } from './eventfd.js';
