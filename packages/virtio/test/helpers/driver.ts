// A minimal guest-side virtio driver for tests: lays out split queues in a GuestMemory, writes
// descriptors and available entries, reads the used ring, and walks the transport through the
// status handshake the way Linux's virtio_mmio driver does.
import { GuestMemory, guestAddress, type GuestAddress } from '@gunyah-ts/vm-memory';
import { VIRTIO_F, VIRTIO_MMIO, VIRTIO_STATUS, VIRTQ_DESC_F, featureBit } from '../../src/constants.js';
import type { VirtioMmioTransport } from '../../src/transport.js';

export const RAM_BASE = 0x4000_0000n;
export const RAM_SIZE = 1 << 20;

export function makeMemory(size = RAM_SIZE, base = RAM_BASE): GuestMemory {
  return GuestMemory.fromBuffers([{ start: base, size }]);
}

export const ga = (v: bigint | number): GuestAddress => guestAddress(v);

export interface DescSpec {
  addr: bigint;
  len: number;
  flags?: number;
  next?: number;
}

/** The driver's view of one split queue placed at `base`. */
export class DriverQueue {
  readonly desc: bigint;
  readonly avail: bigint;
  readonly used: bigint;
  availIdx = 0;
  usedSeen = 0;
  readonly mem: GuestMemory;
  readonly size: number;
  constructor(mem: GuestMemory, size: number, base: bigint) {
    this.mem = mem;
    this.size = size;
    this.desc = base;
    this.avail = base + BigInt(16 * size);
    this.used = (this.avail + BigInt(6 + 2 * size) + 3n) & ~3n;
  }
  /** First byte after the queue's rings. */
  get end(): bigint {
    return this.used + BigInt(6 + 8 * this.size);
  }
  setDesc(i: number, d: DescSpec, table = this.desc): void {
    const at = table + BigInt(16 * i);
    this.mem.writeU64(ga(at), d.addr);
    this.mem.writeU32(ga(at + 8n), d.len >>> 0);
    this.mem.writeU16(ga(at + 12n), d.flags ?? 0);
    this.mem.writeU16(ga(at + 14n), d.next ?? 0);
  }
  /** Write descriptors `first…` as one chain (NEXT links added) and return the head. */
  chain(first: number, descs: DescSpec[]): number {
    descs.forEach((d, k) => {
      const last = k === descs.length - 1;
      this.setDesc(first + k, { ...d, flags: (d.flags ?? 0) | (last ? 0 : VIRTQ_DESC_F.NEXT), next: last ? 0 : first + k + 1 });
    });
    return first;
  }
  push(head: number): void {
    this.mem.writeU16(ga(this.avail + 4n + BigInt(2 * (this.availIdx % this.size))), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.mem.writeU16(ga(this.avail + 2n), this.availIdx);
  }
  setAvailIdx(v: number): void {
    this.mem.writeU16(ga(this.avail + 2n), v & 0xffff);
  }
  setAvailFlags(v: number): void {
    this.mem.writeU16(ga(this.avail), v);
  }
  setUsedEvent(v: number): void {
    this.mem.writeU16(ga(this.avail + 4n + BigInt(2 * this.size)), v);
  }
  get availEvent(): number {
    return this.mem.readU16(ga(this.used + 4n + BigInt(8 * this.size)));
  }
  get usedIdx(): number {
    return this.mem.readU16(ga(this.used + 2n));
  }
  /** Used elements published since the last call. */
  takeUsed(): { id: number; len: number }[] {
    const out: { id: number; len: number }[] = [];
    const idx = this.usedIdx;
    while (this.usedSeen !== idx) {
      const at = this.used + 4n + BigInt(8 * (this.usedSeen % this.size));
      out.push({ id: this.mem.readU32(ga(at)), len: this.mem.readU32(ga(at + 4n)) });
      this.usedSeen = (this.usedSeen + 1) & 0xffff;
    }
    return out;
  }
  config(index = 0): { size: number; descTable: bigint; availRing: bigint; usedRing: bigint; index: number } {
    return { size: this.size, descTable: this.desc, availRing: this.avail, usedRing: this.used, index };
  }
}

export const w32 = (t: VirtioMmioTransport, off: number, v: number | bigint): void => t.write(off, 4, BigInt(v));
export const r32 = (t: VirtioMmioTransport, off: number): number => Number(t.read(off, 4));

export interface ProbeOptions {
  /** Feature bits to accept; default: everything offered. */
  features?: bigint;
  /** Queue sizes; default the max of each queue. */
  sizes?: number[];
  /** Where to place queues; default RAM_BASE. */
  base?: bigint;
  /** Stop before DRIVER_OK. */
  noDriverOk?: boolean;
}

/** Bring a transport up as Linux does and return the driver's queues. */
export function probe(t: VirtioMmioTransport, mem: GuestMemory, opts: ProbeOptions = {}): DriverQueue[] {
  w32(t, VIRTIO_MMIO.STATUS, 0);
  w32(t, VIRTIO_MMIO.STATUS, VIRTIO_STATUS.ACKNOWLEDGE);
  w32(t, VIRTIO_MMIO.STATUS, VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER);
  w32(t, VIRTIO_MMIO.DEVICE_FEATURES_SEL, 0);
  const lo = BigInt(r32(t, VIRTIO_MMIO.DEVICE_FEATURES));
  w32(t, VIRTIO_MMIO.DEVICE_FEATURES_SEL, 1);
  const hi = BigInt(r32(t, VIRTIO_MMIO.DEVICE_FEATURES));
  const offered = lo | (hi << 32n);
  const accept = opts.features ?? offered;
  w32(t, VIRTIO_MMIO.DRIVER_FEATURES_SEL, 0);
  w32(t, VIRTIO_MMIO.DRIVER_FEATURES, accept & 0xffff_ffffn);
  w32(t, VIRTIO_MMIO.DRIVER_FEATURES_SEL, 1);
  w32(t, VIRTIO_MMIO.DRIVER_FEATURES, accept >> 32n);
  w32(t, VIRTIO_MMIO.STATUS, VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER | VIRTIO_STATUS.FEATURES_OK);
  if ((r32(t, VIRTIO_MMIO.STATUS) & VIRTIO_STATUS.FEATURES_OK) === 0) throw new Error('FEATURES_OK refused');
  const queues: DriverQueue[] = [];
  let base = opts.base ?? RAM_BASE;
  for (let i = 0; ; i++) {
    w32(t, VIRTIO_MMIO.QUEUE_SEL, i);
    const max = r32(t, VIRTIO_MMIO.QUEUE_NUM_MAX);
    if (max === 0) break;
    const size = opts.sizes?.[i] ?? max;
    const q = new DriverQueue(mem, size, base);
    base = (q.end + 0xfffn) & ~0xfffn;
    w32(t, VIRTIO_MMIO.QUEUE_NUM, size);
    w32(t, VIRTIO_MMIO.QUEUE_DESC_LOW, q.desc & 0xffff_ffffn);
    w32(t, VIRTIO_MMIO.QUEUE_DESC_HIGH, q.desc >> 32n);
    w32(t, VIRTIO_MMIO.QUEUE_DRIVER_LOW, q.avail & 0xffff_ffffn);
    w32(t, VIRTIO_MMIO.QUEUE_DRIVER_HIGH, q.avail >> 32n);
    w32(t, VIRTIO_MMIO.QUEUE_DEVICE_LOW, q.used & 0xffff_ffffn);
    w32(t, VIRTIO_MMIO.QUEUE_DEVICE_HIGH, q.used >> 32n);
    w32(t, VIRTIO_MMIO.QUEUE_READY, 1);
    queues.push(q);
  }
  if (!opts.noDriverOk) {
    w32(t, VIRTIO_MMIO.STATUS, VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER | VIRTIO_STATUS.FEATURES_OK | VIRTIO_STATUS.DRIVER_OK);
  }
  return queues;
}

/** Feature set with only VERSION_1 (no ring features). */
export const V1_ONLY = featureBit(VIRTIO_F.VERSION_1);

/** Data area after the queues, for buffers. */
export const DATA = RAM_BASE + 0x8_0000n;
