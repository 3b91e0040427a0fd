import type { DeviceTree, FdtNode, FdtProperty } from './tree.js';

/** Options of {@link toDts}. */
export interface DtsOptions {
  /** Indentation per level. Default one tab (as dtc). */
  readonly indent?: string;
}

function printable(c: number): boolean {
  return (c >= 0x20 && c <= 0x7e) || c === 0x09 || c === 0x0a || c === 0x0d;
}

// A value prints as strings when it is one or more non-empty NUL-terminated runs of
// printable ASCII; as cells when its length is a multiple of 4; as bytes otherwise.
function looksLikeStrings(b: Uint8Array): boolean {
  if (b.length === 0 || b[b.length - 1] !== 0 || b[0] === 0) return false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (c === 0) {
      if (i + 1 < b.length && b[i + 1] === 0) return false;
    } else if (!printable(c)) {
      return false;
    }
  }
  return true;
}

function quote(b: Uint8Array): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22) s += '\\"';
    else if (c === 0x5c) s += '\\\\';
    else if (c === 0x09) s += '\\t';
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x0d) s += '\\r';
    else s += String.fromCharCode(c);
  }
  return `${s}"`;
}

/**
 * Formats one property value the way dtc would guess it: strings, `<cells>` or `[bytes]`.
 * @param prop - the property.
 * @returns the right-hand side of the DTS assignment, or `''` for an empty property.
 */
export function formatValue(prop: FdtProperty): string {
  const b = prop.value;
  if (b.length === 0) return '';
  if (looksLikeStrings(b)) {
    const parts: string[] = [];
    let start = 0;
    for (let i = 0; i < b.length; i++) {
      if (b[i] === 0) {
        parts.push(quote(b.subarray(start, i)));
        start = i + 1;
      }
    }
    return parts.join(', ');
  }
  if (b.length % 4 === 0) {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const cells: string[] = [];
    for (let i = 0; i < b.length; i += 4) cells.push(`0x${v.getUint32(i, false).toString(16)}`);
    return `<${cells.join(' ')}>`;
  }
  return `[${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ')}]`;
}

/**
 * Prints a tree as DTS source (`/dts-v1/;`, `/memreserve/` lines, nodes and properties),
 * readable and accepted by dtc, which compiles it back to the same structure. Iterative: no
 * recursion.
 * @param tree - the tree.
 * @param options - formatting.
 * @returns DTS text ending in a newline.
 */
export function toDts(tree: DeviceTree, options: DtsOptions = {}): string {
  const ind = options.indent ?? '\t';
  const out: string[] = ['/dts-v1/;', ''];
  for (const r of tree.memReservations) out.push(`/memreserve/ 0x${r.address.toString(16)} 0x${r.size.toString(16)};`);
  if (tree.memReservations.length > 0) out.push('');
  type Frame = { node: FdtNode; depth: number; next: number };
  const open = (node: FdtNode, depth: number): Frame => {
    const pad = ind.repeat(depth);
    out.push(`${pad}${node.name === '' ? '/' : node.name} {`);
    for (const p of node.properties) {
      const val = formatValue(p);
      out.push(val === '' ? `${pad}${ind}${p.name};` : `${pad}${ind}${p.name} = ${val};`);
    }
    return { node, depth, next: 0 };
  };
  const stack: Frame[] = [open(tree.root, 0)];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Frame;
    const child = top.node.children[top.next];
    if (child === undefined) {
      out.push(`${ind.repeat(top.depth)}};`);
      stack.pop();
    } else {
      if (top.next > 0 || top.node.properties.length > 0) out.push('');
      top.next++;
      stack.push(open(child, top.depth + 1));
    }
  }
  return `${out.join('\n')}\n`;
}
