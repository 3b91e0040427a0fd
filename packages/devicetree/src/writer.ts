import { FdtError } from './errors.js';
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_SIZE,
  FDT_LAST_COMP_VERSION,
  FDT_MAGIC,
  FDT_PROP,
  FDT_VERSION,
  H,
  PHANDLE_PROPS,
  isValidNodeName,
  isValidPropertyName,
} from './format.js';

/** One entry of the memory reservation block: `size` bytes from `address` the OS must not use. */
export interface MemReservation {
  /** Physical start address. */
  readonly address: bigint;
  /** Length in bytes (non-zero). */
  readonly size: bigint;
}

/** Options of {@link FdtWriter}. */
export interface FdtWriterOptions {
  /** Memory reservations (must not overlap; sizes non-zero). Default none. */
  readonly memReservations?: readonly MemReservation[];
  /** `boot_cpuid_phys` header field. Default 0. */
  readonly bootCpuid?: number;
  /** Deepest allowed nesting, counting the root as 1. Default 64. */
  readonly maxDepth?: number;
  /** Largest allowed blob in bytes. Default 0x7fffffff (the format's own bound is 2^32 - 1). */
  readonly maxSize?: number;
}

/**
 * Opaque handle returned by {@link FdtWriter.beginNode}; pass it to {@link FdtWriter.endNode}.
 */
export interface FdtNodeHandle {
  /** Nesting depth of the node (root = 1). */
  readonly depth: number;
}

interface OpenNode {
  readonly handle: FdtNodeHandle;
  readonly props: Set<string>;
  readonly children: Set<string>;
  hasChild: boolean;
  phandle: number | undefined;
}

const U64_MAX = (1n << 64n) - 1n;
const encoder = new TextEncoder();

/** Growable big-endian byte buffer. */
class ByteSink {
  bytes = new Uint8Array(256);
  view = new DataView(this.bytes.buffer);
  length = 0;
  reserve(n: number): number {
    const at = this.length;
    const need = at + n;
    if (need > this.bytes.length) {
      let cap = this.bytes.length * 2;
      while (cap < need) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.bytes.subarray(0, this.length));
      this.bytes = next;
      this.view = new DataView(next.buffer);
    }
    this.length = need;
    return at;
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, false);
  }
  /** Appends an ASCII string, its NUL and zero padding up to a multiple of 4. */
  ascii(s: string): void {
    const at = this.reserve((s.length + 4) & ~3);
    const b = this.bytes;
    for (let i = 0; i < s.length; i++) b[at + i] = s.charCodeAt(i);
    b.fill(0, at + s.length, this.length);
  }
  /** Appends bytes and zero padding up to a multiple of 4. */
  padded(b: Uint8Array): void {
    const at = this.reserve((b.length + 3) & ~3);
    this.bytes.set(b, at);
    this.bytes.fill(0, at + b.length, this.length);
  }
}

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new FdtError('VALUE_OUT_OF_RANGE', `property ${name}: ${v} is not a 32-bit unsigned integer`);
  }
}

function toU64(name: string, v: bigint | number): bigint {
  const b = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v) : -1n;
  if (b < 0n || b > U64_MAX) {
    throw new FdtError('VALUE_OUT_OF_RANGE', `property ${name}: ${String(v)} is not a 64-bit unsigned integer`);
  }
  return b;
}

function encodeString(name: string, s: string): Uint8Array {
  if (s.includes('\0')) throw new FdtError('INVALID_STRING', `property ${name}: string contains NUL`);
  return encoder.encode(s);
}

/**
 * Streaming DTB writer (devicetree format version 17, last compatible 16).
 *
 * Nodes are opened with {@link FdtWriter.beginNode} and closed with
 * {@link FdtWriter.endNode}; properties go to the innermost open node and must precede its
 * child nodes. Property names are interned in the strings block (a name that is a suffix of
 * an earlier one shares its bytes, as dtc does). The header is written last by
 * {@link FdtWriter.finish}. Layout: header, memory reservation map (8-byte aligned),
 * structure block, strings block.
 *
 * @example
 * ```ts
 * const w = new FdtWriter();
 * const root = w.beginNode('');
 * w.propertyU32('#address-cells', 2);
 * const chosen = w.beginNode('chosen');
 * w.propertyString('bootargs', 'console=ttyS0');
 * w.endNode(chosen);
 * w.endNode(root);
 * const dtb = w.finish();
 * ```
 */
export class FdtWriter {
  readonly #struct = new ByteSink();
  readonly #strings = new ByteSink();
  readonly #interned = new Map<string, number>();
  #table = '';
  readonly #stack: OpenNode[] = [];
  readonly #phandles = new Set<number>();
  readonly #reservations: MemReservation[] = [];
  readonly #maxDepth: number;
  readonly #maxSize: number;
  #bootCpuid = 0;
  #rootDone = false;
  #rootStarted = false;
  #finished = false;

  /**
   * @param options - reservations, boot CPU and limits.
   * @throws {FdtError} OVERLAPPING_RESERVATIONS, INVALID_RESERVATION, VALUE_OUT_OF_RANGE
   */
  constructor(options: FdtWriterOptions = {}) {
    this.#maxDepth = options.maxDepth ?? 64;
    this.#maxSize = options.maxSize ?? 0x7fffffff;
    if (options.bootCpuid !== undefined) this.setBootCpuid(options.bootCpuid);
    for (const r of options.memReservations ?? []) this.addMemReservation(r.address, r.size);
  }

  #live(): void {
    if (this.#finished) throw new FdtError('FINISHED', 'the writer was already finished');
  }

  #checkSize(): void {
    const total = FDT_HEADER_SIZE + 16 * (this.#reservations.length + 1) + this.#struct.length + 4 + this.#strings.length;
    if (total > this.#maxSize) {
      throw new FdtError('TOO_LARGE', `blob would be ${total} bytes, over the limit of ${this.#maxSize}`);
    }
  }

  /**
   * Adds a memory reservation entry.
   * @param address - start address.
   * @param size - length in bytes, non-zero.
   * @throws {FdtError} INVALID_RESERVATION (zero size, wraps past 2^64, out of range),
   *   OVERLAPPING_RESERVATIONS, FINISHED
   */
  addMemReservation(address: bigint, size: bigint): void {
    this.#live();
    if (address < 0n || size <= 0n || address > U64_MAX || size > U64_MAX || address + size - 1n > U64_MAX) {
      throw new FdtError('INVALID_RESERVATION', `reservation ${address}+${size} is empty or wraps past 2^64`);
    }
    for (const r of this.#reservations) {
      if (address < r.address + r.size && r.address < address + size) {
        throw new FdtError(
          'OVERLAPPING_RESERVATIONS',
          `reservation 0x${address.toString(16)}+0x${size.toString(16)} overlaps 0x${r.address.toString(16)}+0x${r.size.toString(16)}`,
        );
      }
    }
    this.#reservations.push({ address, size });
    this.#checkSize();
  }

  /**
   * Sets the `boot_cpuid_phys` header field.
   * @param id - physical ID of the boot CPU.
   * @throws {FdtError} VALUE_OUT_OF_RANGE, FINISHED
   */
  setBootCpuid(id: number): void {
    this.#live();
    checkU32('boot_cpuid_phys', id);
    this.#bootCpuid = id;
  }

  /**
   * Opens a node. The first node must be the root (name `''`); every later one is a child of
   * the innermost open node.
   * @param name - node name (`name` or `name@unit`), `''` for the root.
   * @returns a handle to pass to {@link FdtWriter.endNode}.
   * @throws {FdtError} INVALID_NODE_NAME, DUPLICATE_NODE, MULTIPLE_ROOTS, MAX_DEPTH, TOO_LARGE, FINISHED
   */
  beginNode(name: string): FdtNodeHandle {
    this.#live();
    const parent = this.#stack[this.#stack.length - 1];
    if (parent === undefined) {
      if (this.#rootStarted) throw new FdtError('MULTIPLE_ROOTS', 'a DTB has exactly one root node');
      if (name !== '') throw new FdtError('INVALID_NODE_NAME', `the root node must be named '' (got '${name}')`);
      this.#rootStarted = true;
    } else {
      if (!isValidNodeName(name)) throw new FdtError('INVALID_NODE_NAME', `invalid node name '${name}'`);
      if (parent.children.has(name)) throw new FdtError('DUPLICATE_NODE', `node '${name}' already exists here`);
      if (this.#stack.length >= this.#maxDepth) {
        throw new FdtError('MAX_DEPTH', `nodes nested deeper than ${this.#maxDepth}`);
      }
      parent.children.add(name);
      parent.hasChild = true;
    }
    this.#struct.u32(FDT_BEGIN_NODE);
    this.#struct.ascii(name);
    this.#checkSize();
    const handle: FdtNodeHandle = Object.freeze({ depth: this.#stack.length + 1 });
    this.#stack.push({ handle, props: new Set(), children: new Set(), hasChild: false, phandle: undefined });
    return handle;
  }

  /**
   * Closes the innermost open node.
   * @param handle - the handle {@link FdtWriter.beginNode} returned for that node.
   * @throws {FdtError} UNBALANCED_NODE (not the innermost open node), FINISHED
   */
  endNode(handle: FdtNodeHandle): void {
    this.#live();
    const top = this.#stack[this.#stack.length - 1];
    if (top === undefined || top.handle !== handle) {
      throw new FdtError('UNBALANCED_NODE', 'endNode handle is not the innermost open node');
    }
    this.#stack.pop();
    this.#struct.u32(FDT_END_NODE);
    if (this.#stack.length === 0) this.#rootDone = true;
    this.#checkSize();
  }

  #intern(name: string): number {
    const known = this.#interned.get(name);
    if (known !== undefined) return known;
    // Reuse any earlier string that ends with this name (the first such position, as dtc
    // does): a match of `name\0` in the table can only end at a terminator.
    const found = this.#table.indexOf(`${name}\0`);
    if (found >= 0) {
      this.#interned.set(name, found);
      return found;
    }
    const at = this.#strings.reserve(name.length + 1);
    const bytes = this.#strings.bytes;
    for (let i = 0; i < name.length; i++) bytes[at + i] = name.charCodeAt(i); // names are ASCII
    bytes[at + name.length] = 0;
    this.#table += `${name}\0`;
    this.#interned.set(name, at);
    return at;
  }

  /**
   * Adds a property with raw bytes to the innermost open node. Every typed setter ends here.
   * @param name - property name.
   * @param value - the value bytes (copied).
   * @throws {FdtError} PROPERTY_OUTSIDE_NODE, PROPERTY_AFTER_NODE, INVALID_PROPERTY_NAME,
   *   DUPLICATE_PROPERTY, INVALID_PHANDLE, DUPLICATE_PHANDLE, TOO_LARGE, FINISHED
   */
  propertyBytes(name: string, value: Uint8Array): void {
    this.#live();
    const node = this.#stack[this.#stack.length - 1];
    if (node === undefined) throw new FdtError('PROPERTY_OUTSIDE_NODE', `property ${name} with no open node`);
    if (!this.#interned.has(name) && !isValidPropertyName(name)) {
      throw new FdtError('INVALID_PROPERTY_NAME', `invalid property name '${name}'`);
    }
    if (node.hasChild) throw new FdtError('PROPERTY_AFTER_NODE', `property ${name} after a child node`);
    if (node.props.has(name)) throw new FdtError('DUPLICATE_PROPERTY', `property ${name} already set on this node`);
    if (value.length > this.#maxSize) throw new FdtError('TOO_LARGE', `property ${name} is too large`);
    if (PHANDLE_PROPS.has(name)) {
      if (value.length !== 4) throw new FdtError('INVALID_PHANDLE', `${name} must be 4 bytes`);
      const ph = new DataView(value.buffer, value.byteOffset, 4).getUint32(0, false);
      if (ph === 0 || ph === 0xffffffff) throw new FdtError('INVALID_PHANDLE', `${name} value ${ph} is reserved`);
      if (node.phandle !== undefined) {
        if (node.phandle !== ph) throw new FdtError('INVALID_PHANDLE', 'phandle and linux,phandle differ');
      } else {
        if (this.#phandles.has(ph)) throw new FdtError('DUPLICATE_PHANDLE', `phandle ${ph} is already used`);
        this.#phandles.add(ph);
        node.phandle = ph;
      }
    }
    node.props.add(name);
    const nameOff = this.#intern(name);
    this.#struct.u32(FDT_PROP);
    this.#struct.u32(value.length);
    this.#struct.u32(nameOff);
    this.#struct.padded(value);
    this.#checkSize();
  }

  /**
   * Adds an empty (boolean) property.
   * @param name - property name.
   * @throws {FdtError} as {@link FdtWriter.propertyBytes}
   */
  propertyEmpty(name: string): void {
    this.propertyBytes(name, new Uint8Array(0));
  }

  /**
   * Adds a one-cell (32-bit big-endian) property.
   * @param name - property name.
   * @param value - unsigned 32-bit value.
   * @throws {FdtError} VALUE_OUT_OF_RANGE, and as {@link FdtWriter.propertyBytes}
   */
  propertyU32(name: string, value: number): void {
    this.propertyArrayU32(name, [value]);
  }

  /**
   * Adds a two-cell (64-bit big-endian) property.
   * @param name - property name.
   * @param value - unsigned 64-bit value.
   * @throws {FdtError} VALUE_OUT_OF_RANGE, and as {@link FdtWriter.propertyBytes}
   */
  propertyU64(name: string, value: bigint | number): void {
    this.propertyArrayU64(name, [value]);
  }

  /**
   * Adds a list of 32-bit cells.
   * @param name - property name.
   * @param values - unsigned 32-bit values.
   * @throws {FdtError} VALUE_OUT_OF_RANGE, and as {@link FdtWriter.propertyBytes}
   */
  propertyArrayU32(name: string, values: readonly number[]): void {
    const b = new Uint8Array(values.length * 4);
    const v = new DataView(b.buffer);
    values.forEach((x, i) => {
      checkU32(name, x);
      v.setUint32(i * 4, x, false);
    });
    this.propertyBytes(name, b);
  }

  /**
   * Adds a list of 64-bit values (two cells each).
   * @param name - property name.
   * @param values - unsigned 64-bit values.
   * @throws {FdtError} VALUE_OUT_OF_RANGE, and as {@link FdtWriter.propertyBytes}
   */
  propertyArrayU64(name: string, values: readonly (bigint | number)[]): void {
    const b = new Uint8Array(values.length * 8);
    const v = new DataView(b.buffer);
    values.forEach((x, i) => v.setBigUint64(i * 8, toU64(name, x), false));
    this.propertyBytes(name, b);
  }

  /**
   * Adds a NUL-terminated UTF-8 string.
   * @param name - property name.
   * @param value - the text (must not contain NUL).
   * @throws {FdtError} INVALID_STRING, and as {@link FdtWriter.propertyBytes}
   */
  propertyString(name: string, value: string): void {
    this.propertyStringList(name, [value]);
  }

  /**
   * Adds a list of NUL-terminated strings (e.g. `compatible`).
   * @param name - property name.
   * @param values - the strings (none may contain NUL).
   * @throws {FdtError} INVALID_STRING, and as {@link FdtWriter.propertyBytes}
   */
  propertyStringList(name: string, values: readonly string[]): void {
    const parts = values.map((s) => encodeString(name, s));
    const b = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
    let o = 0;
    for (const p of parts) {
      b.set(p, o);
      o += p.length + 1;
    }
    this.propertyBytes(name, b);
  }

  /**
   * Gives the innermost open node a `phandle` property.
   * @param value - the phandle, 1..0xfffffffe, unique in the tree.
   * @throws {FdtError} INVALID_PHANDLE, DUPLICATE_PHANDLE, and as {@link FdtWriter.propertyBytes}
   */
  propertyPhandle(value: number): void {
    if (!Number.isInteger(value) || value <= 0 || value >= 0xffffffff) {
      throw new FdtError('INVALID_PHANDLE', `phandle ${value} is outside 1..0xfffffffe`);
    }
    this.propertyU32('phandle', value);
  }

  /**
   * Writes the END token, the header, the reservation map and the strings block, and returns
   * the finished blob. The writer cannot be used afterwards.
   * @returns the DTB bytes.
   * @throws {FdtError} EMPTY_TREE, UNCLOSED_NODE, TOO_LARGE, FINISHED
   */
  finish(): Uint8Array {
    this.#live();
    if (this.#stack.length > 0) throw new FdtError('UNCLOSED_NODE', `${this.#stack.length} node(s) still open`);
    if (!this.#rootDone) throw new FdtError('EMPTY_TREE', 'no root node was written');
    this.#struct.u32(FDT_END);
    this.#checkSize();
    const rsvOff = FDT_HEADER_SIZE; // 40: already 8-byte aligned
    const rsvSize = 16 * (this.#reservations.length + 1);
    const structOff = rsvOff + rsvSize;
    const structSize = this.#struct.length;
    const stringsOff = structOff + structSize;
    const stringsSize = this.#strings.length;
    const total = stringsOff + stringsSize;
    const out = new Uint8Array(total);
    const v = new DataView(out.buffer);
    this.#reservations.forEach((r, i) => {
      v.setBigUint64(rsvOff + i * 16, r.address, false);
      v.setBigUint64(rsvOff + i * 16 + 8, r.size, false);
    });
    out.set(this.#struct.bytes.subarray(0, structSize), structOff);
    out.set(this.#strings.bytes.subarray(0, stringsSize), stringsOff);
    v.setUint32(H.magic, FDT_MAGIC, false);
    v.setUint32(H.totalsize, total, false);
    v.setUint32(H.offDtStruct, structOff, false);
    v.setUint32(H.offDtStrings, stringsOff, false);
    v.setUint32(H.offMemRsvmap, rsvOff, false);
    v.setUint32(H.version, FDT_VERSION, false);
    v.setUint32(H.lastCompVersion, FDT_LAST_COMP_VERSION, false);
    v.setUint32(H.bootCpuidPhys, this.#bootCpuid, false);
    v.setUint32(H.sizeDtStrings, stringsSize, false);
    v.setUint32(H.sizeDtStruct, structSize, false);
    this.#finished = true;
    return out;
  }
}
