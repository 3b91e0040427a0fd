/**
 * Split virtqueues (virtio v1.2 §2.7): the descriptor table, the available (driver) ring and the used
 * (device) ring, all in guest memory and all reached through {@link GuestMemory}. Every value the
 * driver controls (indices, addresses, lengths, flags) is validated before use; a violation throws a
 * {@link VirtqueueError} and never touches memory outside the guest's.
 *
 * @module
 */
import type { GuestAddress, GuestMemory } from '@gunyah-ts/vm-memory';
import { GuestMemoryError, MAX_GUEST_ADDRESS } from '@gunyah-ts/vm-memory';
import { VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F, VIRTQ_MAX_SIZE } from './constants.js';
import { VirtqueueError, type VirtqueueErrorCode } from './errors.js';

/** One guest buffer of a descriptor chain: `len` bytes at `addr`, checked to lie in guest memory. */
export interface DescriptorSegment {
  /** Guest-physical address of the first byte. */
  readonly addr: GuestAddress;
  /** Length in bytes (may be 0). */
  readonly len: number;
}

/**
 * A validated descriptor chain, as {@link SplitQueue.pop} returns it: the device-readable buffers
 * first, then the device-writable ones (the order the specification requires).
 */
export interface DescriptorChain {
  /** Index of the head descriptor: the id to give {@link SplitQueue.addUsed}. */
  readonly head: number;
  /** Device-readable buffers, in chain order. */
  readonly readable: readonly DescriptorSegment[];
  /** Device-writable buffers, in chain order. */
  readonly writable: readonly DescriptorSegment[];
  /** Sum of the readable lengths. */
  readonly readableLength: number;
  /** Sum of the writable lengths. */
  readonly writableLength: number;
}

/** Where a queue lives and what it may do; the driver's choices, validated by {@link SplitQueue}. */
export interface SplitQueueConfig {
  /** Number of descriptors: a power of two, 1 … 32768. */
  readonly size: number;
  /** Descriptor table address (16-byte aligned, `16 × size` bytes). */
  readonly descTable: bigint;
  /** Available (driver) ring address (2-byte aligned, `6 + 2 × size` bytes). */
  readonly availRing: bigint;
  /** Used (device) ring address (4-byte aligned, `6 + 8 × size` bytes). */
  readonly usedRing: bigint;
  /** Queue index, for error reports. Default 0. */
  readonly index?: number;
  /** `VIRTIO_RING_F_EVENT_IDX` was negotiated. Default false. */
  readonly eventIdx?: boolean;
  /** `VIRTIO_RING_F_INDIRECT_DESC` was negotiated. Default false. */
  readonly indirect?: boolean;
  /**
   * Most descriptors one chain may have, counting those of an indirect table: 1 … 65536. Default:
   * the queue size (the specification forbids longer chains).
   */
  readonly maxChainLength?: number;
  /** Most bytes one chain may describe. Default 2^32 − 1. */
  readonly maxChainBytes?: number;
}

const U32_MAX = 0xffff_ffff;
const DESC_SIZE = 16;
const ADDRESS_LIMIT = MAX_GUEST_ADDRESS + 1n;
const OVERFLOW_FLOOR = ADDRESS_LIMIT - (1n << 32n);

// A full memory barrier for the ring protocol. The guest runs on other CPUs and our loads and stores
// to the shared mapping are plain ones; a sequentially consistent read-modify-write on a
// SharedArrayBuffer is compiled by V8 to an acquire-release sequence (x86: a locked instruction;
// arm64: ldaxr/stlxr), which orders the plain accesses before it against those after it.
const fenceCell = new Int32Array(new SharedArrayBuffer(4));

/** A full memory fence between the ring accesses before and after it. @internal */
export function memoryFence(): void {
  Atomics.add(fenceCell, 0, 0);
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/**
 * Check a queue configuration against guest memory: size a power of two ≤ 32768, each ring aligned
 * (descriptors 16, available 2, used 4) and wholly inside guest memory.
 *
 * @throws {VirtqueueError} BAD_QUEUE_CONFIG naming the first rule broken
 */
export function validateQueueConfig(memory: GuestMemory, config: SplitQueueConfig): void {
  const q = config.index ?? 0;
  const fail = (msg: string): never => {
    throw new VirtqueueError('BAD_QUEUE_CONFIG', `queue ${q}: ${msg}`, { queue: q });
  };
  const { size } = config;
  if (!isPowerOfTwo(size) || size > VIRTQ_MAX_SIZE) fail(`size ${size} is not a power of two in 1 … ${VIRTQ_MAX_SIZE}`);
  const parts: [string, bigint, number, number][] = [
    ['descriptor table', config.descTable, 16, DESC_SIZE * size],
    ['available ring', config.availRing, 2, 6 + 2 * size],
    ['used ring', config.usedRing, 4, 6 + 8 * size],
  ];
  for (const [name, addr, align, len] of parts) {
    if (typeof addr !== 'bigint' || addr < 0n || addr > MAX_GUEST_ADDRESS) fail(`${name} address ${String(addr)} is not a guest address`);
    if (addr % BigInt(align) !== 0n) fail(`${name} at 0x${addr.toString(16)} is not ${align}-byte aligned`);
    if (addr + BigInt(len) - 1n > MAX_GUEST_ADDRESS || !memory.containsRange(addr, len)) {
      fail(`${name} [0x${addr.toString(16)}, +${len}) is not inside guest memory`);
    }
  }
  for (const [key, value] of [
    ['maxChainLength', config.maxChainLength],
    ['maxChainBytes', config.maxChainBytes],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) fail(`${key} ${value} is not a positive integer`);
  }
  if (config.maxChainLength !== undefined && config.maxChainLength > 2 * VIRTQ_MAX_SIZE) {
    fail(`maxChainLength ${config.maxChainLength} is above ${2 * VIRTQ_MAX_SIZE}`);
  }
}

/**
 * The device side of one split virtqueue. Single-threaded: one host thread pops chains, completes
 * them and decides on interrupts; the guest's side runs concurrently on other CPUs, so every shared
 * field is read once into a local and validated there (no double fetch), and the ring protocol's
 * fences are in place.
 *
 * @example
 * ```ts
 * const q = new SplitQueue(memory, { size: 256, descTable, availRing, usedRing });
 * for (let c = q.pop(); c !== undefined; c = q.pop()) {
 *   const n = writeToChain(memory, c, 0, reply);
 *   q.addUsed(c.head, n);
 * }
 * if (q.needsNotification()) trigger();
 * ```
 */
export class SplitQueue {
  /** Number of descriptors. */
  readonly size: number;
  /** Queue index (for reports). */
  readonly index: number;
  /** Whether `VIRTIO_RING_F_EVENT_IDX` is in use. */
  readonly eventIdx: boolean;
  /** Whether indirect descriptors are allowed. */
  readonly indirect: boolean;
  /** Most descriptors per chain. */
  readonly maxChainLength: number;
  /** Most bytes per chain. */
  readonly maxChainBytes: number;
  readonly #mem: GuestMemory;
  readonly #desc: bigint;
  readonly #avail: bigint;
  readonly #used: bigint;
  // Fixed ring field addresses, computed once (bigint arithmetic allocates).
  readonly #availIdxAt: GuestAddress;
  readonly #availRingAt: bigint;
  readonly #usedEventAt: GuestAddress;
  readonly #usedIdxAt: GuestAddress;
  readonly #usedRingAt: bigint;
  readonly #availEventAt: GuestAddress;
  #lastAvail = 0; // next available-ring slot to take (free-running u16)
  #nextUsed = 0; // next used-ring slot to fill (free-running u16)
  #signalledUsed = 0; // used idx at the last interrupt decision
  #inFlight = 0;
  #knownAvail = 0; // entries seen available at the last avail.idx read and not yet taken
  #broken: VirtqueueError | undefined;
  readonly #visited: Uint32Array;
  #indirectVisited: Uint32Array | undefined;
  #stamp = 0;

  /**
   * @param memory - guest memory holding the rings and buffers
   * @param config - the driver's queue setup
   * @throws {VirtqueueError} BAD_QUEUE_CONFIG (see {@link validateQueueConfig})
   */
  constructor(memory: GuestMemory, config: SplitQueueConfig) {
    validateQueueConfig(memory, config);
    this.#mem = memory;
    this.size = config.size;
    this.index = config.index ?? 0;
    this.eventIdx = config.eventIdx ?? false;
    this.indirect = config.indirect ?? false;
    this.maxChainLength = config.maxChainLength ?? config.size;
    this.maxChainBytes = Math.min(config.maxChainBytes ?? U32_MAX, U32_MAX);
    this.#desc = config.descTable;
    this.#avail = config.availRing;
    this.#used = config.usedRing;
    this.#availIdxAt = (this.#avail + 2n) as GuestAddress;
    this.#availRingAt = this.#avail + 4n;
    this.#usedEventAt = (this.#avail + 4n + BigInt(2 * this.size)) as GuestAddress;
    this.#usedIdxAt = (this.#used + 2n) as GuestAddress;
    this.#usedRingAt = this.#used + 4n;
    this.#availEventAt = (this.#used + 4n + BigInt(8 * this.size)) as GuestAddress;
    this.#visited = new Uint32Array(this.size);
  }

  /** The next available-ring index the device will take (free-running, modulo 2^16). */
  get lastAvailIdx(): number {
    return this.#lastAvail;
  }

  /** The used-ring index the device has published (free-running, modulo 2^16). */
  get usedIdx(): number {
    return this.#nextUsed;
  }

  /** Chains taken by {@link pop} and not yet given back with {@link addUsed}. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The error that broke the queue, if any; a broken queue refuses all further work. */
  get broken(): VirtqueueError | undefined {
    return this.#broken;
  }

  #fail(code: VirtqueueErrorCode, message: string, descriptor?: number, cause?: unknown): never {
    const err = new VirtqueueError(
      code,
      `queue ${this.index}: ${message}`,
      descriptor === undefined ? { queue: this.index } : { queue: this.index, descriptor },
      cause === undefined ? undefined : { cause },
    );
    this.#broken = err;
    throw err;
  }

  #check(): void {
    if (this.#broken) throw this.#broken;
  }

  // A GuestMemoryError becomes a MEMORY queue error (and breaks the queue); anything else passes.
  #memFail(what: string, e: unknown): never {
    if (e instanceof GuestMemoryError) this.#fail('MEMORY', `${what}: ${e.code}`, undefined, e);
    throw e;
  }

  #readAvailIdx(): number {
    try {
      return this.#mem.readU16(this.#availIdxAt);
    } catch (e) {
      return this.#memFail('reading avail.idx', e);
    }
  }

  /**
   * How many chains the driver has made available and the device has not taken yet.
   *
   * @throws {VirtqueueError} AVAIL_IDX_JUMP when `avail.idx` is more than the queue size ahead; MEMORY
   */
  available(): number {
    this.#check();
    const idx = this.#readAvailIdx();
    const n = (idx - this.#lastAvail) & 0xffff;
    if (n > this.size) {
      this.#fail('AVAIL_IDX_JUMP', `avail.idx ${idx} is ${n} entries ahead of ${this.#lastAvail} (queue size ${this.size})`);
    }
    this.#knownAvail = n;
    return n;
  }

  /**
   * Take the next available chain and validate it, or return `undefined` when there is none. With
   * `EVENT_IDX`, an empty queue asks the driver (through `avail_event`) to notify on the next buffer,
   * then looks once more, so no buffer is missed; while chains are being taken, `avail_event` stays
   * behind and the driver need not notify.
   *
   * @throws {VirtqueueError} any chain or ring violation; the queue is then broken
   */
  pop(): DescriptorChain | undefined {
    this.#check();
    // avail.idx is read again only when the entries seen at the last read are used up.
    let n = this.#knownAvail;
    if (n === 0) {
      n = this.available();
      if (n === 0) {
        if (!this.eventIdx) return undefined;
        // Going idle: ask for a notification at the next entry, then look once more in case the
        // driver added one before it could see the new avail_event.
        this.#setAvailEvent();
        memoryFence();
        n = this.available();
        if (n === 0) return undefined;
      }
      memoryFence(); // ring entries and descriptors are read after avail.idx
    }
    const slot = this.#lastAvail & (this.size - 1);
    let head: number;
    try {
      head = this.#mem.readU16((this.#availRingAt + BigInt(2 * slot)) as GuestAddress);
    } catch (e) {
      return this.#memFail('reading the available ring', e);
    }
    const chain = this.#walk(head);
    this.#lastAvail = (this.#lastAvail + 1) & 0xffff;
    this.#knownAvail = n - 1;
    this.#inFlight++;
    return chain;
  }

  #setAvailEvent(): void {
    try {
      this.#mem.writeU16(this.#availEventAt, this.#lastAvail);
    } catch (e) {
      this.#memFail('writing avail_event', e);
    }
  }

  // Fields of the descriptor last read by #readDescriptor (reused: no allocation per descriptor).
  readonly #d = { addr: 0n, len: 0, flags: 0, next: 0 };
  readonly #scratch = new Uint8Array(DESC_SIZE);
  readonly #view = new DataView(this.#scratch.buffer);

  #readDescriptor(table: bigint, i: number): void {
    const at = (table + BigInt(DESC_SIZE * i)) as GuestAddress;
    const mem = this.#mem;
    try {
      // struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; } (§2.7.5), each field read once
      const d = this.#d;
      d.addr = mem.readU64(at);
      d.len = mem.readU32((at + 8n) as GuestAddress);
      const fn = mem.readU32((at + 12n) as GuestAddress);
      d.flags = fn & 0xffff;
      d.next = fn >>> 16;
    } catch (e) {
      if (e instanceof GuestMemoryError) this.#fail('MEMORY', `reading descriptor ${i}: ${e.code}`, i, e);
      throw e;
    }
  }

  #checkRange(addr: bigint, len: number, i: number): void {
    // len < 2^32, so only addresses in the top 4 GiB can overflow: test the sum only there.
    if (addr > OVERFLOW_FLOOR && addr + BigInt(len) > ADDRESS_LIMIT) {
      this.#fail('ADDRESS_OVERFLOW', `descriptor ${i}: 0x${addr.toString(16)} + ${len} passes 2^64`, i);
    }
    if (len === 0) return;
    if (!this.#mem.containsRange(addr, len)) this.#fail('ADDRESS_OUT_OF_RANGE', `descriptor ${i}: [0x${addr.toString(16)}, +${len}) is not guest memory`, i);
  }

  #walk(head: number): DescriptorChain {
    if (head >= this.size) this.#fail('INDEX_OUT_OF_RANGE', `head ${head} ≥ queue size ${this.size}`, head);
    const readable: DescriptorSegment[] = [];
    const writable: DescriptorSegment[] = [];
    let readableLength = 0;
    let writableLength = 0;
    let total = 0;
    let count = 0;
    let table = this.#desc;
    let tableSize = this.size;
    let visited = this.#visited;
    let inIndirect = false;
    const stamp = this.#nextStamp();
    let i = head;
    for (;;) {
      if (visited[i] === stamp) this.#fail('LOOP', `descriptor ${i} appears twice in the chain from ${head}`, i);
      visited[i] = stamp;
      count++;
      if (count > this.maxChainLength) this.#fail('CHAIN_TOO_LONG', `chain from ${head} is longer than ${this.maxChainLength}`, i);
      this.#readDescriptor(table, i);
      const d = this.#d;
      if ((d.flags & VIRTQ_DESC_F.INDIRECT) !== 0) {
        if (!this.indirect) this.#fail('INDIRECT_NOT_NEGOTIATED', `descriptor ${i} is indirect without VIRTIO_RING_F_INDIRECT_DESC`, i);
        if (inIndirect) this.#fail('NESTED_INDIRECT', `descriptor ${i} of an indirect table is itself indirect`, i);
        if ((d.flags & VIRTQ_DESC_F.NEXT) !== 0) this.#fail('INDIRECT_WITH_NEXT', `descriptor ${i} has both INDIRECT and NEXT`, i);
        if (d.len === 0 || d.len % DESC_SIZE !== 0) this.#fail('BAD_INDIRECT_LENGTH', `indirect table length ${d.len} is not a positive multiple of 16`, i);
        const entries = d.len / DESC_SIZE;
        if (count - 1 + entries > this.maxChainLength) {
          this.#fail('BAD_INDIRECT_LENGTH', `indirect table of ${entries} entries makes the chain longer than ${this.maxChainLength}`, i);
        }
        this.#checkRange(d.addr, d.len, i);
        count--; // the indirect descriptor itself is not a buffer
        table = d.addr;
        tableSize = entries;
        inIndirect = true;
        visited = this.#indirectTable(entries);
        i = 0;
        continue;
      }
      this.#checkRange(d.addr, d.len, i);
      total += d.len;
      if (total > this.maxChainBytes) this.#fail('TOTAL_LENGTH_TOO_LARGE', `chain from ${head} describes more than ${this.maxChainBytes} bytes`, i);
      const seg: DescriptorSegment = { addr: d.addr as GuestAddress, len: d.len };
      if ((d.flags & VIRTQ_DESC_F.WRITE) !== 0) {
        writable.push(seg);
        writableLength += d.len;
      } else {
        if (writable.length > 0) this.#fail('WRITE_BEFORE_READ', `descriptor ${i} is device-readable after a device-writable one`, i);
        readable.push(seg);
        readableLength += d.len;
      }
      if ((d.flags & VIRTQ_DESC_F.NEXT) === 0) break;
      if (d.next >= tableSize) this.#fail('INDEX_OUT_OF_RANGE', `descriptor ${i}: next ${d.next} ≥ table size ${tableSize}`, i);
      i = d.next;
    }
    return { head, readable, writable, readableLength, writableLength };
  }

  #nextStamp(): number {
    this.#stamp = (this.#stamp + 1) >>> 0;
    if (this.#stamp === 0) {
      this.#visited.fill(0);
      this.#indirectVisited?.fill(0);
      this.#stamp = 1;
    }
    return this.#stamp;
  }

  #indirectTable(entries: number): Uint32Array {
    if (this.#indirectVisited === undefined || this.#indirectVisited.length < entries) {
      const t = new Uint32Array(Math.max(entries, this.size));
      this.#indirectVisited = t;
    }
    return this.#indirectVisited;
  }

  /**
   * Give a chain back to the driver: write `{ id: head, len }` into the used ring and publish it
   * (the element is written before `used.idx`, with a fence between).
   *
   * @param head - the chain's head index, from {@link pop}
   * @param len - bytes the device wrote into the chain's writable buffers
   * @throws {VirtqueueError} USED_OVERFLOW when more chains are returned than were taken; MEMORY
   */
  addUsed(head: number, len: number): void {
    this.#check();
    if (this.#inFlight === 0) this.#fail('USED_OVERFLOW', `used element for ${head} with no chain in flight`);
    if (!Number.isInteger(head) || head < 0 || head >= this.size) this.#fail('INDEX_OUT_OF_RANGE', `used id ${head} out of range`);
    const slot = this.#nextUsed & (this.size - 1);
    const elem = (this.#usedRingAt + BigInt(8 * slot)) as GuestAddress;
    try {
      // struct virtq_used_elem { le32 id; le32 len; } (§2.7.8)
      this.#mem.writeU32(elem, head);
      this.#mem.writeU32((elem + 4n) as GuestAddress, Math.min(Math.max(0, len), U32_MAX) >>> 0);
      memoryFence(); // the element is visible before the index that publishes it
      this.#mem.writeU16(this.#usedIdxAt, (this.#nextUsed + 1) & 0xffff);
    } catch (e) {
      this.#memFail('writing the used ring', e);
    }
    this.#nextUsed = (this.#nextUsed + 1) & 0xffff;
    this.#inFlight--;
  }

  /**
   * Whether the driver wants an interrupt for the used buffers published since the last call. Without
   * `EVENT_IDX` that is "not `VIRTQ_AVAIL_F_NO_INTERRUPT`"; with it, whether `used_event` lies in the
   * range just published (§2.7.10). Returns false when nothing new was published.
   *
   * @throws {VirtqueueError} MEMORY
   */
  needsNotification(): boolean {
    this.#check();
    const oldIdx = this.#signalledUsed;
    const newIdx = this.#nextUsed;
    if (oldIdx === newIdx) return false;
    this.#signalledUsed = newIdx;
    memoryFence(); // the published used.idx is ordered before reading the driver's suppression state
    try {
      if (this.eventIdx) {
        const usedEvent = this.#mem.readU16(this.#usedEventAt);
        return ((newIdx - usedEvent - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
      }
      const flags = this.#mem.readU16(this.#avail as GuestAddress);
      return (flags & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    } catch (e) {
      return this.#memFail('reading the driver suppression state', e);
    }
  }

  /**
   * Put back the last `count` chains taken by {@link pop} and not completed, so the next `pop` returns
   * them again (used by devices that ran out of something, such as console input).
   *
   * @throws {RangeError} when `count` exceeds the chains in flight
   */
  undoPop(count = 1): void {
    if (!Number.isInteger(count) || count < 0 || count > this.#inFlight) throw new RangeError(`cannot undo ${count} pops`);
    this.#lastAvail = (this.#lastAvail - count) & 0xffff;
    this.#inFlight -= count;
    this.#knownAvail += count;
  }
}

function sliceSegments(segments: readonly DescriptorSegment[], offset: number, length: number): DescriptorSegment[] {
  const out: DescriptorSegment[] = [];
  let skip = offset;
  let left = length;
  for (const s of segments) {
    if (left <= 0) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, left);
    out.push({ addr: (s.addr + BigInt(skip)) as GuestAddress, len: n });
    left -= n;
    skip = 0;
  }
  return out;
}

/**
 * The pieces of `segments` covering bytes `[offset, offset + length)` of their concatenation (fewer
 * bytes when the segments end first). Useful to stream a chain to or from a file segment by segment.
 *
 * @example
 * ```ts
 * for (const s of segmentsAt(chain.readable, 16, 4096)) memory.readToFd(s.addr, s.len, fd, pos);
 * ```
 */
export function segmentsAt(segments: readonly DescriptorSegment[], offset: number, length: number): DescriptorSegment[] {
  return sliceSegments(segments, Math.max(0, offset), Math.max(0, length));
}

// Copy between `buf` and the concatenation of `segments` from its byte `offset`; no allocation
// beyond one subarray per segment touched.
function copyChain(memory: GuestMemory, segments: readonly DescriptorSegment[], offset: number, buf: Uint8Array, toGuest: boolean): number {
  let skip = Math.max(0, offset);
  let done = 0;
  for (const s of segments) {
    if (done >= buf.length) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, buf.length - done);
    const addr = skip === 0 ? s.addr : ((s.addr + BigInt(skip)) as GuestAddress);
    const part = n === buf.length ? buf : buf.subarray(done, done + n);
    // (a 1-byte part is read or written with readU8/writeU8 below)
    try {
      if (n === 1) {
        // single bytes (status bytes) skip the subarray of the bulk path
        if (toGuest) memory.writeU8(addr, part[0] ?? 0);
        else part[0] = memory.readU8(addr);
      } else if (toGuest) memory.writeAll(addr, part);
      else memory.readExact(addr, part);
    } catch (e) {
      throw memError(e);
    }
    done += n;
    skip = 0;
  }
  return done;
}

/**
 * Copy device-readable bytes of a chain, from byte `offset` of its readable part, into `dest`.
 * Returns the count copied (fewer when the readable part ends first).
 *
 * @throws {VirtqueueError} MEMORY when guest memory refuses the access
 */
export function readFromChain(memory: GuestMemory, chain: DescriptorChain, offset: number, dest: Uint8Array): number {
  return copyChain(memory, chain.readable, offset, dest, false);
}

/**
 * Copy `src` into the device-writable part of a chain, from its byte `offset`. Returns the count
 * copied (fewer when the writable part ends first).
 *
 * @throws {VirtqueueError} MEMORY when guest memory refuses the access
 */
export function writeToChain(memory: GuestMemory, chain: DescriptorChain, offset: number, src: Uint8Array): number {
  return copyChain(memory, chain.writable, offset, src, true);
}

function memError(e: unknown): unknown {
  return e instanceof GuestMemoryError ? new VirtqueueError('MEMORY', `guest memory: ${e.code}: ${e.message}`, {}, { cause: e }) : e;
}

/** Run a guest-memory access, turning `GuestMemoryError` into a `MEMORY` queue error. @internal */
export function memAccess<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw memError(e);
  }
}
