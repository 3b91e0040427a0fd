/**
 * Memory files of the fake kernel (memfd and guest_memfd) and its address space: stable fake host
 * addresses for buffers, so `userspace_addr` fields can point at fake mappings.
 *
 * @module
 */
import { driverFail } from './driver-model.js';

/** Whether `buf` is detached (works on Node 20, which lacks `ArrayBuffer.prototype.detached`). */
export function isDetached(buf: ArrayBufferLike): boolean {
  const d = (buf as { detached?: boolean }).detached;
  if (typeof d === 'boolean') return d;
  if (buf.byteLength !== 0) return false;
  try {
    new Uint8Array(buf as ArrayBuffer);
    return false;
  } catch {
    return true;
  }
}

/** Detach `buf` and return a new buffer owning its bytes (`structuredClone` with transfer). */
export function detach(buf: ArrayBuffer): ArrayBuffer {
  return structuredClone(buf, { transfer: [buf] });
}

interface Mapping {
  readonly offset: number;
  readonly length: number;
  readonly buffer: ArrayBuffer;
}

/**
 * A memory file: sparse pages plus live mappings. A mapping is the authoritative storage of its range
 * while it exists (so reads through `pread` and through another view agree); mapping the exact same
 * range again returns the same ArrayBuffer; a partially overlapping second mapping is refused with
 * `EINVAL` (a fake limitation: JS cannot alias two ArrayBuffers).
 */
export class MemFile {
  /** Unique id. */
  readonly id: number;
  /** File size in bytes. */
  size: bigint;
  /** Creation flags (guest_memfd only). */
  readonly flags: bigint;
  /** Whether this is a B guest_memfd (size fixed, shared mappings only). */
  readonly guestMem: boolean;
  readonly #pageSize: number;
  readonly #pages = new Map<number, Uint8Array>();
  readonly #maps: Mapping[] = [];

  /**
   * @param id - unique id
   * @param pageSize - page size
   * @param size - initial size
   * @param guestMem - B guest_memfd
   * @param flags - guest_memfd flags
   */
  constructor(id: number, pageSize: number, size: bigint, guestMem: boolean, flags = 0n) {
    this.id = id;
    this.#pageSize = pageSize;
    this.size = size;
    this.guestMem = guestMem;
    this.flags = flags;
  }

  /** Whether any byte of `[offset, offset+size)` is inside a live mapping. */
  isMapped(offset: bigint, size: bigint): boolean {
    return this.#maps.some((m) => offset < BigInt(m.offset + m.length) && BigInt(m.offset) < offset + size);
  }

  /** Map `[offset, offset+length)`. */
  map(offset: number, length: number): ArrayBuffer {
    if (offset % this.#pageSize !== 0) driverFail('EINVAL', 'mmap');
    const same = this.#maps.find((m) => m.offset === offset && m.length === length);
    if (same) return same.buffer;
    if (this.#maps.some((m) => offset < m.offset + m.length && m.offset < offset + length)) driverFail('EINVAL', 'mmap');
    const buffer = new ArrayBuffer(length);
    const bytes = new Uint8Array(buffer);
    this.#readBacking(offset, bytes);
    this.#maps.push({ offset, length, buffer });
    return buffer;
  }

  /** Whether `buffer` is one of this file's live mappings. */
  owns(buffer: ArrayBuffer): boolean {
    return this.#maps.some((m) => m.buffer === buffer);
  }

  /** Unmap: copy the bytes back, detach the buffer. */
  unmap(buffer: ArrayBuffer): void {
    const i = this.#maps.findIndex((m) => m.buffer === buffer);
    if (i < 0) driverFail('EINVAL', 'munmap');
    const m = this.#maps[i]!;
    this.#maps.splice(i, 1);
    this.#writeBacking(m.offset, new Uint8Array(m.buffer));
    detach(m.buffer);
  }

  /** Read `out.length` bytes at `pos` (through mappings where mapped); returns the count (0 at EOF). */
  read(pos: number, out: Uint8Array): number {
    const n = Math.max(0, Math.min(out.length, Number(this.size) - pos));
    for (let i = 0; i < n; ) {
      const at = pos + i;
      const m = this.#maps.find((x) => at >= x.offset && at < x.offset + x.length);
      if (m) {
        const k = Math.min(n - i, m.offset + m.length - at);
        out.set(new Uint8Array(m.buffer, at - m.offset, k), i);
        i += k;
      } else {
        const k = Math.min(n - i, this.#pageSize - (at % this.#pageSize));
        this.#readBacking(at, out.subarray(i, i + k));
        i += k;
      }
    }
    return n;
  }

  /** Write `data` at `pos`, growing a memfd (a guest_memfd has a fixed size: `EINVAL`... beyond it). */
  write(pos: number, data: Uint8Array): number {
    if (BigInt(pos + data.length) > this.size) {
      if (this.guestMem) driverFail('EINVAL', 'pwrite');
      this.size = BigInt(pos + data.length);
    }
    for (let i = 0; i < data.length; ) {
      const at = pos + i;
      const m = this.#maps.find((x) => at >= x.offset && at < x.offset + x.length);
      const k = m ? Math.min(data.length - i, m.offset + m.length - at) : Math.min(data.length - i, this.#pageSize - (at % this.#pageSize));
      if (m) new Uint8Array(m.buffer, at - m.offset, k).set(data.subarray(i, i + k));
      else this.#writeBacking(at, data.subarray(i, i + k));
      i += k;
    }
    return data.length;
  }

  #readBacking(offset: number, out: Uint8Array): void {
    for (let i = 0; i < out.length; ) {
      const at = offset + i;
      const page = Math.floor(at / this.#pageSize);
      const within = at % this.#pageSize;
      const k = Math.min(out.length - i, this.#pageSize - within);
      const p = this.#pages.get(page);
      if (p) out.set(p.subarray(within, within + k), i);
      else out.fill(0, i, i + k);
      i += k;
    }
  }

  #writeBacking(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; ) {
      const at = offset + i;
      const page = Math.floor(at / this.#pageSize);
      const within = at % this.#pageSize;
      const k = Math.min(data.length - i, this.#pageSize - within);
      const chunk = data.subarray(i, i + k);
      let p = this.#pages.get(page);
      if (!p) {
        if (chunk.every((b) => b === 0)) {
          i += k;
          continue;
        }
        p = new Uint8Array(this.#pageSize);
        this.#pages.set(page, p);
      }
      p.set(chunk, within);
      i += k;
    }
  }
}

interface AddressEntry {
  readonly base: bigint;
  readonly length: number;
  readonly ref: WeakRef<ArrayBufferLike>;
}

/**
 * The fake process address space: every buffer gets a stable, page-aligned fake address on first
 * `addressOf`, and addresses resolve back to live buffers.
 */
export class AddressSpace {
  readonly #pageSize: number;
  readonly #byBuffer = new WeakMap<ArrayBufferLike, bigint>();
  readonly #entries: AddressEntry[] = [];
  #next: bigint;

  /**
   * @param pageSize - alignment of assigned addresses
   * @param base - first address handed out
   */
  constructor(pageSize: number, base = 0x7f00_0000_0000n) {
    this.#pageSize = pageSize;
    this.#next = base;
  }

  /** The fake address of `buf`'s first byte. */
  addressOf(buf: ArrayBufferLike): bigint {
    const known = this.#byBuffer.get(buf);
    if (known !== undefined) return known;
    const base = this.#next;
    const ps = BigInt(this.#pageSize);
    const span = ((BigInt(buf.byteLength) + ps - 1n) / ps) * ps;
    this.#next = base + span + ps; // one guard page between buffers
    this.#byBuffer.set(buf, base);
    this.#entries.push({ base, length: buf.byteLength, ref: new WeakRef(buf) });
    return base;
  }

  /** Bytes `[addr, addr+size)` as a view of a live buffer, or `undefined` when not mapped. */
  resolve(addr: bigint, size: bigint): Uint8Array | undefined {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i]!;
      if (addr < e.base || addr + size > e.base + BigInt(e.length)) continue;
      const buf = e.ref.deref();
      if (buf === undefined) {
        this.#entries.splice(i, 1);
        continue;
      }
      if (isDetached(buf)) continue;
      return new Uint8Array(buf as ArrayBuffer, Number(addr - e.base), Number(size));
    }
    return undefined;
  }
}
