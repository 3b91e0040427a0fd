import { FdtParseError } from './errors.js';
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_SIZE,
  FDT_MAGIC,
  FDT_NOP,
  FDT_PROP,
  FDT_V16_HEADER_SIZE,
  H,
  MAX_NAME_LENGTH,
  PHANDLE_PROPS,
  isValidNodeName,
  isValidPropertyName,
} from './format.js';
import { DeviceTree, FdtNode, FdtProperty } from './tree.js';
import type { MemReservation } from './writer.js';

/** Limits that bound the work {@link parseDtb} does on hostile input. */
export interface ParseOptions {
  /** Deepest allowed nesting, root = 1. Default 64. */
  readonly maxDepth?: number;
  /** Most nodes accepted. Default 1,000,000 (each node takes at least 12 bytes anyway). */
  readonly maxNodes?: number;
  /** Most properties accepted. Default 4,000,000. */
  readonly maxProperties?: number;
  /** Largest `totalsize` accepted. Default 0x7fffffff. */
  readonly maxSize?: number;
}

/** The header fields of a DTB, as {@link readHeader} decodes them. */
export interface FdtHeader {
  /** Total blob size. */
  readonly totalsize: number;
  /** Offset of the structure block. */
  readonly offDtStruct: number;
  /** Offset of the strings block. */
  readonly offDtStrings: number;
  /** Offset of the memory reservation map. */
  readonly offMemRsvmap: number;
  /** Format version. */
  readonly version: number;
  /** Oldest version this blob is compatible with. */
  readonly lastCompVersion: number;
  /** Physical ID of the boot CPU. */
  readonly bootCpuidPhys: number;
  /** Strings block size. */
  readonly sizeDtStrings: number;
  /** Structure block size (version 17; for 16 derived from the layout). */
  readonly sizeDtStruct: number;
}

/**
 * Decodes and checks a DTB header: magic, version, totalsize, and that the three blocks lie
 * inside the blob, after the header, aligned and without overlapping.
 * @param blob - the DTB (may be followed by unrelated bytes past `totalsize`).
 * @param maxSize - largest accepted `totalsize`.
 * @returns the header.
 * @throws {FdtParseError} TRUNCATED, BAD_MAGIC, UNSUPPORTED_VERSION, BAD_HEADER, BAD_BLOCK, MISALIGNED
 */
export function readHeader(blob: Uint8Array, maxSize = 0x7fffffff): FdtHeader {
  if (blob.length < 8) throw new FdtParseError('TRUNCATED', `blob of ${blob.length} bytes has no header`, 0);
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const magic = v.getUint32(H.magic, false);
  if (magic !== FDT_MAGIC) throw new FdtParseError('BAD_MAGIC', `magic 0x${magic.toString(16)} is not 0xd00dfeed`, 0);
  if (blob.length < FDT_V16_HEADER_SIZE) throw new FdtParseError('TRUNCATED', 'blob shorter than the header', 0);
  const version = v.getUint32(H.version, false);
  const lastCompVersion = v.getUint32(H.lastCompVersion, false);
  if (version < 16 || lastCompVersion > 17) {
    throw new FdtParseError('UNSUPPORTED_VERSION', `version ${version} (last compatible ${lastCompVersion}) is not readable`, H.version);
  }
  if (lastCompVersion > version) {
    throw new FdtParseError('BAD_HEADER', `last_comp_version ${lastCompVersion} > version ${version}`, H.lastCompVersion);
  }
  const headerSize = version >= 17 ? FDT_HEADER_SIZE : FDT_V16_HEADER_SIZE;
  if (blob.length < headerSize) throw new FdtParseError('TRUNCATED', 'blob shorter than the header', 0);
  const totalsize = v.getUint32(H.totalsize, false);
  if (totalsize < headerSize) throw new FdtParseError('BAD_HEADER', `totalsize ${totalsize} is smaller than the header`, H.totalsize);
  if (totalsize > maxSize) throw new FdtParseError('BAD_HEADER', `totalsize ${totalsize} exceeds the limit ${maxSize}`, H.totalsize);
  if (totalsize > blob.length) {
    throw new FdtParseError('TRUNCATED', `totalsize ${totalsize} but only ${blob.length} bytes given`, H.totalsize);
  }
  const offDtStruct = v.getUint32(H.offDtStruct, false);
  const offDtStrings = v.getUint32(H.offDtStrings, false);
  const offMemRsvmap = v.getUint32(H.offMemRsvmap, false);
  const sizeDtStrings = v.getUint32(H.sizeDtStrings, false);
  const bootCpuidPhys = v.getUint32(H.bootCpuidPhys, false);
  if (offMemRsvmap % 8 !== 0) throw new FdtParseError('MISALIGNED', 'memory reservation map not 8-byte aligned', H.offMemRsvmap);
  if (offDtStruct % 4 !== 0) throw new FdtParseError('MISALIGNED', 'structure block not 4-byte aligned', H.offDtStruct);
  let sizeDtStruct: number;
  if (version >= 17) {
    sizeDtStruct = v.getUint32(H.sizeDtStruct, false);
  } else {
    // Version 16 has no struct size: the block runs to the strings block if that follows it,
    // else to the end of the blob.
    sizeDtStruct = (offDtStrings > offDtStruct ? offDtStrings : totalsize) - offDtStruct;
  }
  const inside = (off: number, size: number): boolean => off >= headerSize && off <= totalsize && size <= totalsize - off;
  if (!inside(offDtStruct, sizeDtStruct)) throw new FdtParseError('BAD_BLOCK', 'structure block outside the blob', H.offDtStruct);
  if (!inside(offDtStrings, sizeDtStrings)) throw new FdtParseError('BAD_BLOCK', 'strings block outside the blob', H.offDtStrings);
  if (!inside(offMemRsvmap, 16)) throw new FdtParseError('BAD_BLOCK', 'reservation map outside the blob', H.offMemRsvmap);
  if (offDtStruct < offDtStrings + sizeDtStrings && offDtStrings < offDtStruct + sizeDtStruct) {
    throw new FdtParseError('BAD_BLOCK', 'structure and strings blocks overlap', H.offDtStrings);
  }
  return {
    totalsize,
    offDtStruct,
    offDtStrings,
    offMemRsvmap,
    version,
    lastCompVersion,
    bootCpuidPhys,
    sizeDtStrings,
    sizeDtStruct,
  };
}

function readReservations(v: DataView, h: FdtHeader): MemReservation[] {
  const out: MemReservation[] = [];
  // The map must end before any other block that follows it, else before totalsize.
  let end = h.totalsize;
  for (const o of [h.offDtStruct, h.offDtStrings]) if (o >= h.offMemRsvmap && o < end) end = o;
  for (let o = h.offMemRsvmap; ; o += 16) {
    if (o + 16 > end) throw new FdtParseError('BAD_RESERVATION', 'reservation map is not terminated', o);
    const address = v.getBigUint64(o, false);
    const size = v.getBigUint64(o + 8, false);
    if (address === 0n && size === 0n) return out;
    if (size === 0n || address + size > 1n << 64n) {
      throw new FdtParseError('BAD_RESERVATION', 'reservation entry is empty or wraps past 2^64', o);
    }
    for (const r of out) {
      if (address < r.address + r.size && r.address < address + size) {
        throw new FdtParseError('BAD_RESERVATION', 'reservation entries overlap', o);
      }
    }
    out.push({ address, size });
  }
}

const latin1 = new TextDecoder('latin1');

// Short ASCII names decode faster by hand than through TextDecoder.
function asciiName(b: Uint8Array, start: number, end: number): string {
  if (end - start > 32) return latin1.decode(b.subarray(start, end));
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i] as number);
  return s;
}

interface Building {
  readonly name: string;
  readonly props: FdtProperty[];
  readonly propNames: Set<string>;
  readonly children: FdtNode[];
  readonly childNames: Set<string>;
}

/**
 * Parses a DTB into a {@link DeviceTree}, validating the header, the block layout and
 * alignment, every string offset, every name, and the token grammar. The work is linear in
 * the blob size and iterative (no recursion); depth, node and property counts are bounded by
 * `options`. The input is copied once; property values are views into that private copy.
 *
 * @param blob - the DTB bytes (bytes past `totalsize` are ignored).
 * @param options - limits.
 * @returns the tree.
 * @throws {FdtParseError} for every malformed input (see {@link FdtParseErrorCode}).
 * @example
 * ```ts
 * const tree = parseDtb(readFileSync('board.dtb'));
 * tree.findNode('/chosen')?.string('bootargs');
 * ```
 */
export function parseDtb(blob: Uint8Array, options: ParseOptions = {}): DeviceTree {
  const maxDepth = options.maxDepth ?? 64;
  const maxNodes = options.maxNodes ?? 1_000_000;
  const maxProps = options.maxProperties ?? 4_000_000;
  const h = readHeader(blob, options.maxSize ?? 0x7fffffff);
  // Private copy (Buffer#slice would share memory, so copy explicitly).
  const b = new Uint8Array(h.totalsize);
  b.set(blob.subarray(0, h.totalsize));
  const v = new DataView(b.buffer);
  const reservations = readReservations(v, h);

  const strOff = h.offDtStrings;
  const strEnd = h.offDtStrings + h.sizeDtStrings;
  const nameCache = new Map<number, string>();
  const propName = (nameoff: number, at: number): string => {
    const cached = nameCache.get(nameoff);
    if (cached !== undefined) return cached;
    if (nameoff >= h.sizeDtStrings) throw new FdtParseError('BAD_STRING_OFFSET', `name offset ${nameoff} outside the strings block`, at);
    const start = strOff + nameoff;
    const nul = b.indexOf(0, start);
    if (nul < 0 || nul >= strEnd) throw new FdtParseError('BAD_STRING_OFFSET', `name at offset ${nameoff} is not terminated`, at);
    if (nul - start > MAX_NAME_LENGTH) throw new FdtParseError('BAD_NAME', 'property name too long', at);
    const name = asciiName(b, start, nul);
    if (!isValidPropertyName(name)) throw new FdtParseError('BAD_NAME', `invalid property name '${name}'`, at);
    nameCache.set(nameoff, name);
    return name;
  };

  const end = h.offDtStruct + h.sizeDtStruct;
  let o = h.offDtStruct;
  const word = (): number => {
    if (o + 4 > end) throw new FdtParseError('BAD_STRUCTURE', 'structure block ends inside a token', o);
    const w = v.getUint32(o, false);
    o += 4;
    return w;
  };
  const stack: Building[] = [];
  let root: FdtNode | undefined;
  let nodes = 0;
  let props = 0;
  const phandles = new Map<number, number>(); // phandle -> node serial
  let serial = 0;
  const nodeSerial: number[] = [];

  for (;;) {
    const at = o;
    const token = word();
    if (token === FDT_NOP) continue;
    if (token === FDT_BEGIN_NODE) {
      if (root !== undefined) throw new FdtParseError('BAD_TOKEN', 'second root node', at);
      if (stack.length >= maxDepth) throw new FdtParseError('TOO_DEEP', `nesting deeper than ${maxDepth}`, at);
      if (++nodes > maxNodes) throw new FdtParseError('TOO_MANY_ITEMS', `more than ${maxNodes} nodes`, at);
      const limit = Math.min(end, o + MAX_NAME_LENGTH + 1);
      let nul = o;
      while (nul < limit && b[nul] !== 0) nul++;
      if (nul >= limit) throw new FdtParseError(nul >= end ? 'BAD_STRUCTURE' : 'BAD_NAME', 'node name is not terminated', o);
      const name = asciiName(b, o, nul);
      const parent = stack[stack.length - 1];
      if (parent === undefined) {
        if (name !== '') throw new FdtParseError('BAD_NAME', `root node named '${name}'`, o);
      } else {
        if (!isValidNodeName(name)) throw new FdtParseError('BAD_NAME', `invalid node name '${name}'`, o);
        if (parent.childNames.has(name)) throw new FdtParseError('DUPLICATE_NAME', `duplicate node '${name}'`, o);
        parent.childNames.add(name);
      }
      o = (nul + 1 + 3) & ~3;
      if (o > end) throw new FdtParseError('BAD_STRUCTURE', 'node name runs past the structure block', at);
      stack.push({ name, props: [], propNames: new Set(), children: [], childNames: new Set() });
      nodeSerial.push(++serial);
    } else if (token === FDT_END_NODE) {
      const done = stack.pop();
      nodeSerial.pop();
      if (done === undefined) throw new FdtParseError('BAD_TOKEN', 'END_NODE with no open node', at);
      const node = new FdtNode(done.name, done.props, done.children);
      const parent = stack[stack.length - 1];
      if (parent === undefined) root = node;
      else parent.children.push(node);
    } else if (token === FDT_PROP) {
      const node = stack[stack.length - 1];
      if (node === undefined) throw new FdtParseError('BAD_TOKEN', 'property outside any node', at);
      if (node.children.length > 0 || node.childNames.size > 0) {
        throw new FdtParseError('BAD_TOKEN', 'property after a child node', at);
      }
      if (++props > maxProps) throw new FdtParseError('TOO_MANY_ITEMS', `more than ${maxProps} properties`, at);
      const len = word();
      const nameoff = word();
      if (len > end - o) throw new FdtParseError('BAD_STRUCTURE', `property value of ${len} bytes runs past the structure block`, at);
      const name = propName(nameoff, at);
      if (node.propNames.has(name)) throw new FdtParseError('DUPLICATE_NAME', `duplicate property '${name}'`, at);
      node.propNames.add(name);
      const value = b.subarray(o, o + len);
      o = Math.min(end, (o + len + 3) & ~3);
      if (PHANDLE_PROPS.has(name)) {
        if (len !== 4) throw new FdtParseError('BAD_PHANDLE', `${name} is ${len} bytes, not 4`, at);
        const ph = v.getUint32(o - 4, false);
        if (ph === 0 || ph === 0xffffffff) throw new FdtParseError('BAD_PHANDLE', `${name} has reserved value ${ph}`, at);
        const me = nodeSerial[nodeSerial.length - 1] as number;
        const owner = phandles.get(ph);
        if (owner !== undefined && owner !== me) throw new FdtParseError('DUPLICATE_PHANDLE', `phandle ${ph} used twice`, at);
        phandles.set(ph, me);
      }
      node.props.push(new FdtProperty(name, value));
    } else if (token === FDT_END) {
      if (stack.length > 0) throw new FdtParseError('BAD_TOKEN', 'END inside an open node', at);
      if (root === undefined) throw new FdtParseError('BAD_TOKEN', 'END before the root node', at);
      break;
    } else {
      throw new FdtParseError('BAD_TOKEN', `unknown token 0x${token.toString(16)}`, at);
    }
  }
  return new DeviceTree(root, reservations, h.bootCpuidPhys);
}
