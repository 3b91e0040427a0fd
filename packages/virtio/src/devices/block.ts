/**
 * virtio-blk (virtio v1.2 §5.2), backed by a host file descriptor. Data moves between the file and
 * guest memory with `read(2)`/`write(2)` at explicit offsets, straight into and out of the guest's
 * buffers: nothing is staged.
 *
 * @module
 */
import { closeSync, fstatSync, fsyncSync, openSync } from 'node:fs';
import { GuestMemoryError, type GuestAddress, type GuestMemory } from '@gunyah-ts/vm-memory';
import { VIRTIO_ID, featureBit } from '../constants.js';
import type { VirtioDevice, VirtioDeviceContext } from '../device.js';
import { VirtioError, VirtqueueError } from '../errors.js';
import { memAccess, readFromChain, segmentsAt, writeToChain, type DescriptorChain, type DescriptorSegment } from '../queue.js';
import { readLe } from './config-space.js';

/** virtio-blk feature bits (§5.2.3). */
export const VIRTIO_BLK_F = {
  /** `size_max` is valid. */
  SIZE_MAX: 1,
  /** `seg_max` is valid: most data segments per request. */
  SEG_MAX: 2,
  /** The device is read-only. */
  RO: 5,
  /** `blk_size` is valid. */
  BLK_SIZE: 6,
  /** The device accepts `VIRTIO_BLK_T_FLUSH`. */
  FLUSH: 9,
} as const;

/** virtio-blk request types (§5.2.6). */
export const VIRTIO_BLK_T = {
  /** Read sectors into the guest. */
  IN: 0,
  /** Write sectors from the guest. */
  OUT: 1,
  /** Make every completed write durable. */
  FLUSH: 4,
  /** Return the 20-byte device id string. */
  GET_ID: 8,
} as const;

/** virtio-blk request status byte (§5.2.6). */
export const VIRTIO_BLK_S = {
  /** Success. */
  OK: 0,
  /** The request failed. */
  IOERR: 1,
  /** The request type is not supported. */
  UNSUPP: 2,
} as const;

/** Sector size of virtio-blk addressing, whatever the device's block size. */
export const SECTOR_SIZE = 512;

/** Length of the `GET_ID` answer. */
export const VIRTIO_BLK_ID_BYTES = 20;

/** Options of {@link VirtioBlock}. */
export interface VirtioBlockOptions {
  /** Offer `VIRTIO_BLK_F_RO` and refuse writes with `IOERR`. Default false. */
  readonly readOnly?: boolean;
  /** `GET_ID` answer: ASCII, at most 20 bytes. Default `"gunyah-ts-blk"`. */
  readonly serial?: string;
  /** Request queue size. Power of two, 2 … 32768. Default 256. */
  readonly queueSize?: number;
  /** Close the fd in {@link VirtioBlock.close}. Default: true for {@link VirtioBlock.open}, false otherwise. */
  readonly ownsFd?: boolean;
  /**
   * What `FLUSH` calls to make completed writes durable. Default `fsync(2)` (`fs.fsyncSync`); a
   * throwing function makes `FLUSH` answer `IOERR`.
   */
  readonly sync?: (fd: number) => void;
}

/** Counters of {@link VirtioBlock}. */
export interface VirtioBlockStats {
  /** `IN` requests completed. */
  readonly reads: number;
  /** `OUT` requests completed. */
  readonly writes: number;
  /** `FLUSH` requests completed. */
  readonly flushes: number;
  /** Bytes read from the file. */
  readonly bytesRead: number;
  /** Bytes written to the file. */
  readonly bytesWritten: number;
  /** Requests answered `IOERR` or `UNSUPP`. */
  readonly errors: number;
}

const HEADER_BYTES = 16;

/**
 * A virtio block device over a file descriptor. Capacity is the file size in 512-byte sectors
 * (rounded down, fixed at construction); `FLUSH` calls `fsync(2)`.
 *
 * @example
 * ```ts
 * const blk = VirtioBlock.open('/srv/rootfs.ext4', { readOnly: false, serial: 'rootfs' });
 * const transport = new VirtioMmioTransport(blk, { memory, trigger });
 * // … at shutdown
 * blk.close();
 * ```
 */
export class VirtioBlock implements VirtioDevice {
  /** Always 2. */
  readonly deviceId = VIRTIO_ID.BLOCK;
  /** `FLUSH`, `SEG_MAX`, `BLK_SIZE`, and `RO` when read-only. */
  readonly features: bigint;
  /** One request queue. */
  readonly queueMaxSizes: readonly number[];
  /** Bytes of config space exposed: through `blk_size` (24 bytes). */
  readonly configSize = 24;
  /** Capacity in 512-byte sectors. */
  readonly capacity: bigint;
  /** Whether writes are refused. */
  readonly readOnly: boolean;
  /** The file descriptor. */
  readonly fd: number;
  readonly #serial: Uint8Array;
  readonly #config = new Uint8Array(24);
  readonly #ownsFd: boolean;
  readonly #sync: (fd: number) => void;
  readonly #capacityBytes: number;
  #ctx: VirtioDeviceContext | undefined;
  #stats = { reads: 0, writes: 0, flushes: 0, bytesRead: 0, bytesWritten: 0, errors: 0 };
  readonly #header = new Uint8Array(HEADER_BYTES);
  readonly #headerView = new DataView(this.#header.buffer);
  readonly #status = new Uint8Array(1);
  #open = true;

  /**
   * @param fd - an open file descriptor (read-write unless `readOnly`)
   * @param options - read-only, serial, queue size, fd ownership
   * @throws {VirtioError} INVALID_OPTION for a bad serial or queue size; FILE_ERROR when `fd` cannot be examined
   */
  constructor(fd: number, options: VirtioBlockOptions = {}) {
    const serial = options.serial ?? 'gunyah-ts-blk';
    if (!/^[\x20-\x7e]*$/.test(serial) || serial.length > VIRTIO_BLK_ID_BYTES) {
      throw new VirtioError('INVALID_OPTION', `serial must be printable ASCII of at most ${VIRTIO_BLK_ID_BYTES} bytes`);
    }
    const queueSize = options.queueSize ?? 256;
    if (!Number.isInteger(queueSize) || queueSize < 2 || queueSize > 32768 || (queueSize & (queueSize - 1)) !== 0) {
      throw new VirtioError('INVALID_OPTION', `queue size ${queueSize} is not a power of two in 2 … 32768`);
    }
    let size: number;
    try {
      size = fstatSync(fd).size;
    } catch (e) {
      throw new VirtioError('FILE_ERROR', `cannot stat fd ${fd}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    this.fd = fd;
    this.readOnly = options.readOnly ?? false;
    this.#ownsFd = options.ownsFd ?? false;
    this.#sync = options.sync ?? fsyncSync;
    this.#serial = new TextEncoder().encode(serial);
    this.capacity = BigInt(Math.floor(size / SECTOR_SIZE));
    this.#capacityBytes = Number(this.capacity) * SECTOR_SIZE;
    this.queueMaxSizes = [queueSize];
    let f = featureBit(VIRTIO_BLK_F.FLUSH) | featureBit(VIRTIO_BLK_F.SEG_MAX) | featureBit(VIRTIO_BLK_F.BLK_SIZE);
    if (this.readOnly) f |= featureBit(VIRTIO_BLK_F.RO);
    this.features = f;
    // struct virtio_blk_config (§5.2.4): le64 capacity; le32 size_max; le32 seg_max;
    // geometry { le16 cylinders; u8 heads; u8 sectors; }; le32 blk_size
    const v = new DataView(this.#config.buffer);
    v.setBigUint64(0, this.capacity, true);
    v.setUint32(8, 0, true);
    v.setUint32(12, queueSize - 2, true); // header and status take two descriptors
    v.setUint32(20, SECTOR_SIZE, true);
  }

  /**
   * Open `path` (read-write, or read-only when `options.readOnly`) and make a device that closes the
   * file in {@link close}.
   *
   * @throws {VirtioError} FILE_ERROR when the file cannot be opened; INVALID_OPTION as the constructor
   */
  static open(path: string, options: VirtioBlockOptions = {}): VirtioBlock {
    let fd: number;
    try {
      fd = openSync(path, options.readOnly === true ? 'r' : 'r+');
    } catch (e) {
      throw new VirtioError('FILE_ERROR', `cannot open ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    try {
      return new VirtioBlock(fd, { ...options, ownsFd: options.ownsFd ?? true });
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Request counters since construction. */
  get stats(): VirtioBlockStats {
    return { ...this.#stats };
  }

  /** Read config space (capacity, size_max, seg_max, geometry, blk_size). */
  readConfig(offset: number, size: number): bigint {
    return readLe(this.#config, offset, size);
  }

  /** Config space is read-only here; writes are ignored. */
  writeConfig(): void {}

  /** Start serving the request queue. */
  activate(context: VirtioDeviceContext): void {
    this.#ctx = context;
  }

  /** Drop the queue. */
  reset(): void {
    this.#ctx = undefined;
  }

  /** Process every available request of the request queue. */
  queueNotify(index: number): void {
    const ctx = this.#ctx;
    const q = ctx?.queues[index];
    if (ctx === undefined || q === undefined || index !== 0) return;
    let done = 0;
    for (let chain = q.pop(); chain !== undefined; chain = q.pop()) {
      const written = this.#handle(ctx.memory, chain);
      q.addUsed(chain.head, written);
      // Interrupt in batches so a long queue does not wait for the last request.
      if (++done % 32 === 0) ctx.usedBuffers(q);
    }
    ctx.usedBuffers(q);
  }

  /** Process one request; returns the bytes written into the chain's writable part. */
  #handle(mem: GuestMemory, chain: DescriptorChain): number {
    if (chain.writableLength < 1) {
      throw new VirtqueueError('BAD_REQUEST', `virtio-blk request ${chain.head} has no status byte`, { descriptor: chain.head });
    }
    const statusAt = chain.writableLength - 1;
    const finish = (status: number, dataWritten: number): number => this.#finish(mem, chain, status, dataWritten);
    if (chain.readableLength < HEADER_BYTES) return finish(VIRTIO_BLK_S.IOERR, 0);
    // struct virtio_blk_req header (§5.2.6): le32 type; le32 reserved; le64 sector
    let type: number;
    let sector: bigint;
    const first = chain.readable[0];
    if (first !== undefined && first.len >= HEADER_BYTES) {
      // the usual layout: the header alone in the first descriptor
      try {
        type = mem.readU32(first.addr);
        sector = mem.readU64((first.addr + 8n) as GuestAddress);
      } catch (e) {
        return memAccess(() => {
          throw e;
        });
      }
    } else {
      readFromChain(mem, chain, 0, this.#header);
      type = this.#headerView.getUint32(0, true);
      sector = this.#headerView.getBigUint64(8, true);
    }
    switch (type) {
      case VIRTIO_BLK_T.IN: {
        const len = statusAt;
        const pos = this.#range(sector, len);
        if (pos === undefined) return finish(VIRTIO_BLK_S.IOERR, 0);
        if (!this.#transfer(mem, chain.writable, 0, len, pos, 'in')) return finish(VIRTIO_BLK_S.IOERR, 0);
        this.#stats.reads++;
        this.#stats.bytesRead += len;
        return finish(VIRTIO_BLK_S.OK, len);
      }
      case VIRTIO_BLK_T.OUT: {
        if (this.readOnly) return finish(VIRTIO_BLK_S.IOERR, 0);
        const len = chain.readableLength - HEADER_BYTES;
        const pos = this.#range(sector, len);
        if (pos === undefined) return finish(VIRTIO_BLK_S.IOERR, 0);
        if (!this.#transfer(mem, chain.readable, HEADER_BYTES, len, pos, 'out')) return finish(VIRTIO_BLK_S.IOERR, 0);
        this.#stats.writes++;
        this.#stats.bytesWritten += len;
        return finish(VIRTIO_BLK_S.OK, 0);
      }
      case VIRTIO_BLK_T.FLUSH:
        if (!this.readOnly) {
          try {
            this.#sync(this.fd);
          } catch {
            return finish(VIRTIO_BLK_S.IOERR, 0);
          }
        }
        this.#stats.flushes++;
        return finish(VIRTIO_BLK_S.OK, 0);
      case VIRTIO_BLK_T.GET_ID: {
        const id = new Uint8Array(VIRTIO_BLK_ID_BYTES); // NUL-padded; not terminated when 20 bytes long
        id.set(this.#serial);
        const n = writeToChain(mem, chain, 0, id.subarray(0, Math.min(VIRTIO_BLK_ID_BYTES, statusAt)));
        return finish(VIRTIO_BLK_S.OK, n);
      }
      default:
        return finish(VIRTIO_BLK_S.UNSUPP, 0);
    }
  }

  /** Write the status byte (the last writable byte); returns the used length. */
  #finish(mem: GuestMemory, chain: DescriptorChain, status: number, dataWritten: number): number {
    if (status !== VIRTIO_BLK_S.OK) this.#stats.errors++;
    this.#status[0] = status;
    writeToChain(mem, chain, chain.writableLength - 1, this.#status);
    return dataWritten + 1;
  }

  /** The file offset of `len` bytes at `sector`, or undefined when not whole sectors inside capacity. */
  #range(sector: bigint, len: number): number | undefined {
    if (len % SECTOR_SIZE !== 0) return undefined;
    if (sector > this.capacity) return undefined;
    const pos = Number(sector) * SECTOR_SIZE;
    if (pos + len > this.#capacityBytes) return undefined;
    return pos;
  }

  /** Move `len` bytes between the chain (from byte `offset` of `segments`) and the file at `pos`. */
  #transfer(mem: GuestMemory, segments: readonly DescriptorSegment[], offset: number, len: number, pos: number, dir: 'in' | 'out'): boolean {
    let at = pos;
    const pieces = segments.length === 2 && segments[0]!.len === offset ? [segments[1]!] : segmentsAt(segments, offset, len);
    for (const s of pieces) {
      try {
        const n = dir === 'in' ? mem.writeFromFd(this.fd, s.addr, s.len, at) : mem.readToFd(s.addr, s.len, this.fd, at);
        if (n !== s.len) return false; // the file shrank under us
      } catch (e) {
        if (e instanceof GuestMemoryError && e.code === 'IO_ERROR') return false; // host file error: IOERR
        return memAccess(() => {
          throw e; // guest memory refused the buffer: the device is broken
        });
      }
      at += s.len;
    }
    return true;
  }

  /** Close the file when the device owns it. Idempotent. */
  close(): void {
    if (this.#ownsFd && this.#open) {
      this.#open = false;
      closeSync(this.fd);
    }
  }
}
