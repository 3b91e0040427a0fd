import type { DeviceTree, FdtNode } from './tree.js';
import { FdtWriter, type FdtNodeHandle } from './writer.js';

/** Options of {@link serializeDtb}. */
export interface SerializeOptions {
  /** Deepest allowed nesting (root = 1). Default 64. */
  readonly maxDepth?: number;
  /** Largest allowed blob in bytes. Default 0x7fffffff. */
  readonly maxSize?: number;
}

/**
 * Writes a tree as a version-17 DTB with {@link FdtWriter} (iteratively: no recursion), so
 * every writer rule applies (names, duplicates, phandles, reservations, depth, size).
 * @param tree - the tree.
 * @param options - limits.
 * @returns the DTB bytes.
 * @throws {FdtError} any writer misuse code the tree triggers.
 */
export function serializeDtb(tree: DeviceTree, options: SerializeOptions = {}): Uint8Array {
  const w = new FdtWriter({
    memReservations: tree.memReservations,
    bootCpuid: tree.bootCpuid,
    ...(options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {}),
    ...(options.maxSize !== undefined ? { maxSize: options.maxSize } : {}),
  });
  type Frame = { node: FdtNode; handle: FdtNodeHandle; next: number };
  const open = (node: FdtNode): Frame => {
    const handle = w.beginNode(node.name);
    for (const p of node.properties) w.propertyBytes(p.name, p.value);
    return { node, handle, next: 0 };
  };
  const stack: Frame[] = [open(tree.root)];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Frame;
    const child = top.node.children[top.next++];
    if (child === undefined) {
      w.endNode(top.handle);
      stack.pop();
    } else {
      stack.push(open(child));
    }
  }
  return w.finish();
}
