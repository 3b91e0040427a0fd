/**
 * Devicetree and ioeventfd descriptions of virtio-mmio windows, as plain data: the entry shape
 * `buildGunyahVmDt({ virtioMmio })` of `@gunyah-ts/devicetree` accepts, plus the node properties for
 * other FDT writers.
 *
 * @module
 */
import { VIRTIO_MMIO, VIRTIO_MMIO_WINDOW_SIZE } from './constants.js';
import { VirtioError } from './errors.js';

/** One virtio-mmio window: what `buildGunyahVmDt`'s `virtioMmio` entries contain. */
export interface VirtioMmioDtEntry {
  /** Guest-physical base of the register window (512-byte aligned). */
  readonly address: bigint;
  /** Window size: 0x200. */
  readonly size: bigint;
  /** SPI number (INTID − 32) of the device's interrupt. */
  readonly spi: number;
}

/** The properties of a `virtio,mmio` node, for writers other than `buildGunyahVmDt`. */
export interface VirtioMmioNodeDescription {
  /** Node name, `virtio_mmio@<hex address>`. */
  readonly name: string;
  /** `compatible = "virtio,mmio"`. */
  readonly compatible: 'virtio,mmio';
  /** `reg = <address size>` (two cells each). */
  readonly reg: readonly [bigint, bigint];
  /** `interrupts = <0 spi 1>`: SPI, number, edge rising (the trigger of Gunyah doorbells). */
  readonly interrupts: readonly [number, number, number];
  /** `dma-coherent`: the device accesses guest memory coherently. */
  readonly dmaCoherent: true;
}

/** An ioeventfd to register for one queue: a 4-byte write of `datamatch` at `address`. */
export interface VirtioIoeventfdSpec {
  /** Queue index. */
  readonly queue: number;
  /** Guest-physical address of `QueueNotify`. */
  readonly address: bigint;
  /** Access length: 4. */
  readonly length: 4;
  /** The value written: the queue index (no `VIRTIO_F_NOTIFICATION_DATA`). */
  readonly datamatch: bigint;
}

/** GIC SPIs available to a Gunyah guest (INTIDs 32 … 1019). */
const MAX_SPI = 987;

/**
 * Describe a virtio-mmio window at `address` with interrupt `spi`.
 *
 * @example
 * ```ts
 * buildGunyahVmDt({ virtioMmio: [virtioMmioDtEntry(0x0a00_0000n, 16)] });
 * ```
 * @throws {VirtioError} INVALID_OPTION for an unaligned or out-of-range address or SPI
 */
export function virtioMmioDtEntry(address: bigint, spi: number): VirtioMmioDtEntry {
  const size = BigInt(VIRTIO_MMIO_WINDOW_SIZE);
  if (typeof address !== 'bigint' || address < 0n || address % size !== 0n || address + size > 1n << 64n) {
    throw new VirtioError('INVALID_OPTION', `virtio-mmio window at ${String(address)} must be 0x200-aligned and below 2^64`);
  }
  if (!Number.isInteger(spi) || spi < 0 || spi > MAX_SPI) throw new VirtioError('INVALID_OPTION', `SPI ${spi} is outside 0 … ${MAX_SPI}`);
  return { address, size, spi };
}

/**
 * `count` consecutive windows from `base`, with SPIs `firstSpi`, `firstSpi + 1`, ….
 *
 * @throws {VirtioError} INVALID_OPTION as {@link virtioMmioDtEntry}, or for a negative count
 */
export function virtioMmioLayout(base: bigint, firstSpi: number, count: number): VirtioMmioDtEntry[] {
  if (!Number.isInteger(count) || count < 0 || count > 64) throw new VirtioError('INVALID_OPTION', `count ${count} is outside 0 … 64`);
  return Array.from({ length: count }, (_, i) => virtioMmioDtEntry(base + BigInt(i * VIRTIO_MMIO_WINDOW_SIZE), firstSpi + i));
}

/** The devicetree node of a window, as properties. */
export function virtioMmioNode(entry: VirtioMmioDtEntry): VirtioMmioNodeDescription {
  return {
    name: `virtio_mmio@${entry.address.toString(16)}`,
    compatible: 'virtio,mmio',
    reg: [entry.address, entry.size],
    interrupts: [0, entry.spi, 1],
    dmaCoherent: true,
  };
}

/**
 * The ioeventfds a VMM registers for a device with `queueCount` queues: one per queue, on the
 * `QueueNotify` register, with datamatch = queue index (Gunyah ioeventfd flag `DATAMATCH`).
 */
export function virtioMmioIoeventfds(entry: VirtioMmioDtEntry, queueCount: number): VirtioIoeventfdSpec[] {
  return Array.from({ length: queueCount }, (_, i) => ({
    queue: i,
    address: entry.address + BigInt(VIRTIO_MMIO.QUEUE_NOTIFY),
    length: 4 as const,
    datamatch: BigInt(i),
  }));
}
