import { FdtPropertyError } from './errors.js';
import { PHANDLE_PROPS } from './format.js';
import type { MemReservation } from './writer.js';

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * One property: a name and its raw big-endian value. Instances are immutable by convention:
 * `value` may be a view into a parsed blob's private copy and must not be written to.
 */
export class FdtProperty {
  /** Property name. */
  readonly name: string;
  /** Raw value bytes. */
  readonly value: Uint8Array;

  /**
   * @param name - property name.
   * @param value - raw value bytes (not copied).
   */
  constructor(name: string, value: Uint8Array) {
    this.name = name;
    this.value = value;
  }

  /** An empty (boolean) property. @param name - property name. @returns the property. */
  static empty(name: string): FdtProperty {
    return new FdtProperty(name, new Uint8Array(0));
  }

  /**
   * A property of 32-bit cells.
   * @param name - property name.
   * @param cells - unsigned 32-bit values (taken modulo 2^32).
   * @returns the property.
   */
  static u32(name: string, ...cells: number[]): FdtProperty {
    const b = new Uint8Array(cells.length * 4);
    const v = view(b);
    cells.forEach((c, i) => v.setUint32(i * 4, c >>> 0, false));
    return new FdtProperty(name, b);
  }

  /**
   * A property of 64-bit values (two cells each).
   * @param name - property name.
   * @param values - unsigned 64-bit values (taken modulo 2^64).
   * @returns the property.
   */
  static u64(name: string, ...values: bigint[]): FdtProperty {
    const b = new Uint8Array(values.length * 8);
    const v = view(b);
    values.forEach((c, i) => v.setBigUint64(i * 8, BigInt.asUintN(64, c), false));
    return new FdtProperty(name, b);
  }

  /**
   * A property holding NUL-terminated strings.
   * @param name - property name.
   * @param strings - the strings.
   * @returns the property.
   */
  static strings(name: string, ...strings: string[]): FdtProperty {
    const parts = strings.map((s) => encoder.encode(s));
    const b = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
    let o = 0;
    for (const p of parts) {
      b.set(p, o);
      o += p.length + 1;
    }
    return new FdtProperty(name, b);
  }

  /** Whether the value is empty (a boolean property). */
  get isEmpty(): boolean {
    return this.value.length === 0;
  }

  /**
   * The value as one 32-bit cell.
   * @returns the cell.
   * @throws {FdtPropertyError} BAD_LENGTH unless the value is 4 bytes.
   */
  asU32(): number {
    if (this.value.length !== 4) throw new FdtPropertyError('BAD_LENGTH', this.name, `${this.name} is not 4 bytes`);
    return view(this.value).getUint32(0, false);
  }

  /**
   * The value as one 64-bit number (two cells).
   * @returns the value.
   * @throws {FdtPropertyError} BAD_LENGTH unless the value is 8 bytes.
   */
  asU64(): bigint {
    if (this.value.length !== 8) throw new FdtPropertyError('BAD_LENGTH', this.name, `${this.name} is not 8 bytes`);
    return view(this.value).getBigUint64(0, false);
  }

  /**
   * The value as 32-bit cells.
   * @returns the cells.
   * @throws {FdtPropertyError} BAD_LENGTH unless the length is a multiple of 4.
   */
  asU32Array(): number[] {
    if (this.value.length % 4 !== 0) {
      throw new FdtPropertyError('BAD_LENGTH', this.name, `${this.name} is not a whole number of cells`);
    }
    const v = view(this.value);
    const out: number[] = [];
    for (let i = 0; i < this.value.length; i += 4) out.push(v.getUint32(i, false));
    return out;
  }

  /**
   * The value as 64-bit numbers.
   * @returns the values.
   * @throws {FdtPropertyError} BAD_LENGTH unless the length is a multiple of 8.
   */
  asU64Array(): bigint[] {
    if (this.value.length % 8 !== 0) {
      throw new FdtPropertyError('BAD_LENGTH', this.name, `${this.name} is not a whole number of 64-bit values`);
    }
    const v = view(this.value);
    const out: bigint[] = [];
    for (let i = 0; i < this.value.length; i += 8) out.push(v.getBigUint64(i, false));
    return out;
  }

  /**
   * Reads cells as numbers of `cells` cells each (e.g. `reg` with `#address-cells`).
   * @param cells - cells per number, 1 to 4 (values wider than 64 bits keep the low 64 bits).
   * @returns the numbers.
   * @throws {FdtPropertyError} BAD_LENGTH unless the length is a multiple of 4 × cells.
   */
  asCellNumbers(cells: number): bigint[] {
    const w = cells * 4;
    if (cells < 1 || cells > 4 || this.value.length % w !== 0) {
      throw new FdtPropertyError('BAD_LENGTH', this.name, `${this.name} is not a whole number of ${cells}-cell values`);
    }
    const v = view(this.value);
    const out: bigint[] = [];
    for (let i = 0; i < this.value.length; i += w) {
      let n = 0n;
      for (let c = 0; c < cells; c++) n = BigInt.asUintN(64, (n << 32n) | BigInt(v.getUint32(i + c * 4, false)));
      out.push(n);
    }
    return out;
  }

  /**
   * The value as a list of strings.
   * @returns the strings (one per NUL terminator).
   * @throws {FdtPropertyError} NOT_A_STRING if empty, not NUL-terminated or not valid UTF-8.
   */
  asStringList(): string[] {
    const b = this.value;
    if (b.length === 0 || b[b.length - 1] !== 0) {
      throw new FdtPropertyError('NOT_A_STRING', this.name, `${this.name} is not NUL-terminated`);
    }
    try {
      return decoder.decode(b.subarray(0, b.length - 1)).split('\0');
    } catch (e) {
      throw new FdtPropertyError('NOT_A_STRING', this.name, `${this.name} is not valid UTF-8: ${String(e)}`);
    }
  }

  /**
   * The value as a single string.
   * @returns the string.
   * @throws {FdtPropertyError} NOT_A_STRING unless the value is exactly one NUL-terminated string.
   */
  asString(): string {
    const list = this.asStringList();
    if (list.length !== 1) throw new FdtPropertyError('NOT_A_STRING', this.name, `${this.name} holds ${list.length} strings`);
    return list[0] as string;
  }
}

/**
 * A node: name, properties (in order) and child nodes (in order). Immutable: the `with…`
 * methods return modified copies that share unchanged parts.
 */
export class FdtNode {
  /** Node name (`''` for the root). */
  readonly name: string;
  /** Properties, in blob order. */
  readonly properties: readonly FdtProperty[];
  /** Child nodes, in blob order. */
  readonly children: readonly FdtNode[];

  /**
   * @param name - node name.
   * @param properties - properties (names should be unique).
   * @param children - child nodes (names should be unique).
   */
  constructor(name: string, properties: readonly FdtProperty[] = [], children: readonly FdtNode[] = []) {
    this.name = name;
    this.properties = Object.freeze([...properties]);
    this.children = Object.freeze([...children]);
  }

  /** The part of the name before `@`. */
  get baseName(): string {
    const at = this.name.indexOf('@');
    return at < 0 ? this.name : this.name.slice(0, at);
  }

  /** The unit address after `@`, or `undefined` if there is none. */
  get unitAddress(): string | undefined {
    const at = this.name.indexOf('@');
    return at < 0 ? undefined : this.name.slice(at + 1);
  }

  /**
   * Finds a property.
   * @param name - property name.
   * @returns the property, or `undefined`.
   */
  property(name: string): FdtProperty | undefined {
    return this.properties.find((p) => p.name === name);
  }

  /**
   * Whether the node has a property of that name.
   * @param name - property name.
   * @returns true if present.
   */
  has(name: string): boolean {
    return this.property(name) !== undefined;
  }

  /**
   * Finds a child by exact name, or (when `name` has no `@`) the first child whose name
   * before `@` equals it — the lookup rule of libfdt paths.
   * @param name - child name.
   * @returns the child, or `undefined`.
   */
  child(name: string): FdtNode | undefined {
    const exact = this.children.find((c) => c.name === name);
    if (exact !== undefined || name.includes('@')) return exact;
    return this.children.find((c) => c.baseName === name);
  }

  #need(name: string): FdtProperty {
    const p = this.property(name);
    if (p === undefined) throw new FdtPropertyError('MISSING', name, `no property ${name} on node '${this.name}'`);
    return p;
  }

  /**
   * Reads a one-cell property.
   * @param name - property name.
   * @returns the value.
   * @throws {FdtPropertyError} MISSING, BAD_LENGTH
   */
  u32(name: string): number {
    return this.#need(name).asU32();
  }

  /**
   * Reads a two-cell property.
   * @param name - property name.
   * @returns the value.
   * @throws {FdtPropertyError} MISSING, BAD_LENGTH
   */
  u64(name: string): bigint {
    return this.#need(name).asU64();
  }

  /**
   * Reads a single-string property.
   * @param name - property name.
   * @returns the string.
   * @throws {FdtPropertyError} MISSING, NOT_A_STRING
   */
  string(name: string): string {
    return this.#need(name).asString();
  }

  /**
   * Reads a string-list property.
   * @param name - property name.
   * @returns the strings.
   * @throws {FdtPropertyError} MISSING, NOT_A_STRING
   */
  stringList(name: string): string[] {
    return this.#need(name).asStringList();
  }

  /** The node's phandle (`phandle`, else `linux,phandle`), or `undefined`. */
  get phandle(): number | undefined {
    for (const n of PHANDLE_PROPS) {
      const p = this.property(n);
      if (p !== undefined && p.value.length === 4) return p.asU32();
    }
    return undefined;
  }

  /**
   * Returns a copy with the property set: replaced in place if present, else appended.
   * @param prop - the property.
   * @returns the new node.
   */
  withProperty(prop: FdtProperty): FdtNode {
    const i = this.properties.findIndex((p) => p.name === prop.name);
    const props = [...this.properties];
    if (i >= 0) props[i] = prop;
    else props.push(prop);
    return new FdtNode(this.name, props, this.children);
  }

  /**
   * Returns a copy without the named property.
   * @param name - property name.
   * @returns the new node (or this node if it had no such property).
   */
  withoutProperty(name: string): FdtNode {
    if (!this.has(name)) return this;
    return new FdtNode(this.name, this.properties.filter((p) => p.name !== name), this.children);
  }

  /**
   * Returns a copy with the child set: replaced in place if a child of the same name exists,
   * else appended.
   * @param child - the child node.
   * @returns the new node.
   */
  withChild(child: FdtNode): FdtNode {
    const i = this.children.findIndex((c) => c.name === child.name);
    const kids = [...this.children];
    if (i >= 0) kids[i] = child;
    else kids.push(child);
    return new FdtNode(this.name, this.properties, kids);
  }

  /**
   * Returns a copy without the named child (exact name).
   * @param name - child name.
   * @returns the new node.
   */
  withoutChild(name: string): FdtNode {
    return new FdtNode(this.name, this.properties, this.children.filter((c) => c.name !== name));
  }
}

/** A node together with its absolute path, as yielded by {@link DeviceTree.walk}. */
export interface FdtNodeEntry {
  /** Absolute path (`/` for the root). */
  readonly path: string;
  /** The node. */
  readonly node: FdtNode;
  /** Depth (root = 0). */
  readonly depth: number;
}

/**
 * A whole devicetree: root node, memory reservations and boot CPU. Immutable; produced by
 * {@link parseDtb}, {@link buildGunyahVmDt} or by hand, serialized by {@link serializeDtb}.
 */
export class DeviceTree {
  /** Root node (named `''`). */
  readonly root: FdtNode;
  /** Memory reservation entries. */
  readonly memReservations: readonly MemReservation[];
  /** `boot_cpuid_phys`. */
  readonly bootCpuid: number;

  /**
   * @param root - the root node.
   * @param memReservations - reservation entries.
   * @param bootCpuid - physical ID of the boot CPU.
   */
  constructor(root: FdtNode, memReservations: readonly MemReservation[] = [], bootCpuid = 0) {
    this.root = root;
    this.memReservations = Object.freeze([...memReservations]);
    this.bootCpuid = bootCpuid;
  }

  /**
   * Visits every node, parents before children, in blob order (iteratively: no recursion).
   * @returns an iterator of nodes with their paths.
   */
  *walk(): Generator<FdtNodeEntry> {
    const stack: FdtNodeEntry[] = [{ path: '/', node: this.root, depth: 0 }];
    while (stack.length > 0) {
      const e = stack.pop() as FdtNodeEntry;
      yield e;
      for (let i = e.node.children.length - 1; i >= 0; i--) {
        const c = e.node.children[i] as FdtNode;
        stack.push({ path: e.path === '/' ? `/${c.name}` : `${e.path}/${c.name}`, node: c, depth: e.depth + 1 });
      }
    }
  }

  /**
   * Finds a node by absolute path (`/cpus/cpu@0`). A path not starting with `/` is resolved
   * through `/aliases` first. Components without `@` match a child by base name as in libfdt.
   * @param path - the path.
   * @returns the node, or `undefined`.
   */
  findNode(path: string): FdtNode | undefined {
    let rest = path;
    let node: FdtNode | undefined = this.root;
    if (!path.startsWith('/')) {
      const slash = path.indexOf('/');
      const alias = slash < 0 ? path : path.slice(0, slash);
      const target = this.root.child('aliases')?.property(alias);
      if (target === undefined) return undefined;
      let t: string;
      try {
        t = target.asString();
      } catch {
        return undefined;
      }
      if (!t.startsWith('/')) return undefined;
      node = this.findNode(t);
      rest = slash < 0 ? '' : path.slice(slash);
    }
    for (const part of rest.split('/')) {
      if (part === '') continue;
      node = node?.child(part);
      if (node === undefined) return undefined;
    }
    return node;
  }

  /**
   * Absolute path of the node with the given phandle.
   * @param phandle - the phandle.
   * @returns the path, or `undefined`.
   */
  pathOfPhandle(phandle: number): string | undefined {
    for (const e of this.walk()) if (e.node.phandle === phandle) return e.path;
    return undefined;
  }

  /**
   * Finds the node with the given phandle.
   * @param phandle - the phandle.
   * @returns the node, or `undefined`.
   */
  nodeByPhandle(phandle: number): FdtNode | undefined {
    for (const e of this.walk()) if (e.node.phandle === phandle) return e.node;
    return undefined;
  }

  /** Largest phandle in the tree, 0 if none. */
  get maxPhandle(): number {
    let max = 0;
    for (const e of this.walk()) {
      const p = e.node.phandle;
      if (p !== undefined && p !== 0xffffffff && p > max) max = p;
    }
    return max;
  }

  /**
   * Returns a copy in which the node at `path` is replaced by `fn(node)`.
   * @param path - absolute path of an existing node (exact names).
   * @param fn - produces the replacement.
   * @returns the new tree, or `undefined` if no node has that path.
   */
  update(path: string, fn: (node: FdtNode) => FdtNode): DeviceTree | undefined {
    const parts = path.split('/').filter((p) => p !== '');
    const chain: FdtNode[] = [this.root];
    for (const p of parts) {
      const next = (chain[chain.length - 1] as FdtNode).child(p);
      if (next === undefined) return undefined;
      chain.push(next);
    }
    let node = fn(chain[chain.length - 1] as FdtNode);
    for (let i = chain.length - 2; i >= 0; i--) {
      const parent = chain[i] as FdtNode;
      const old = chain[i + 1] as FdtNode;
      node = new FdtNode(parent.name, parent.properties, parent.children.map((c) => (c === old ? node : c)));
    }
    return new DeviceTree(node, this.memReservations, this.bootCpuid);
  }
}
