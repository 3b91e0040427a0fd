import { OverlayError } from './errors.js';
import { PHANDLE_PROPS } from './format.js';
import { DeviceTree, FdtNode, FdtProperty } from './tree.js';

// Mutable working copy used while applying an overlay.
interface MProp {
  name: string;
  value: Uint8Array;
}
interface MNode {
  name: string;
  props: MProp[];
  children: MNode[];
}

function toMutable(root: FdtNode, copyValues: boolean): MNode {
  const top: MNode = { name: root.name, props: [], children: [] };
  const stack: [FdtNode, MNode][] = [[root, top]];
  while (stack.length > 0) {
    const [src, dst] = stack.pop() as [FdtNode, MNode];
    for (const p of src.properties) dst.props.push({ name: p.name, value: copyValues ? new Uint8Array(p.value) : p.value });
    for (const c of src.children) {
      const m: MNode = { name: c.name, props: [], children: [] };
      dst.children.push(m);
      stack.push([c, m]);
    }
  }
  return top;
}

function fromMutable(root: MNode): FdtNode {
  // Post-order without recursion: build children before parents.
  const order: MNode[] = [];
  const stack: MNode[] = [root];
  while (stack.length > 0) {
    const n = stack.pop() as MNode;
    order.push(n);
    for (const c of n.children) stack.push(c);
  }
  const built = new Map<MNode, FdtNode>();
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i] as MNode;
    built.set(
      n,
      new FdtNode(
        n.name,
        n.props.map((p) => new FdtProperty(p.name, p.value)),
        n.children.map((c) => built.get(c) as FdtNode),
      ),
    );
  }
  return built.get(root) as FdtNode;
}

function baseName(name: string): string {
  const at = name.indexOf('@');
  return at < 0 ? name : name.slice(0, at);
}

// libfdt's child lookup: exact name, or base name when the wanted name has no unit address.
function childOf(n: MNode, name: string): MNode | undefined {
  const exact = n.children.find((c) => c.name === name);
  if (exact !== undefined || name.includes('@')) return exact;
  return n.children.find((c) => baseName(c.name) === name);
}

function propOf(n: MNode, name: string): MProp | undefined {
  return n.props.find((p) => p.name === name);
}

const dec = new TextDecoder('utf-8', { fatal: true });
const enc = new TextEncoder();

function str(p: MProp | undefined): string | undefined {
  if (p === undefined) return undefined;
  const b = p.value;
  if (b.length === 0 || b[b.length - 1] !== 0 || b.indexOf(0) !== b.length - 1) return undefined;
  try {
    return dec.decode(b.subarray(0, b.length - 1));
  } catch {
    return undefined;
  }
}

function strList(p: MProp): string[] | undefined {
  const b = p.value;
  if (b.length === 0 || b[b.length - 1] !== 0) return undefined;
  try {
    return dec.decode(b.subarray(0, b.length - 1)).split('\0');
  } catch {
    return undefined;
  }
}

function u32At(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, false);
}
function setU32At(b: Uint8Array, off: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(off, v, false);
}

function phandleOf(n: MNode): number | undefined {
  for (const name of PHANDLE_PROPS) {
    const p = propOf(n, name);
    if (p !== undefined && p.value.length === 4) return u32At(p.value, 0);
  }
  return undefined;
}

function walk(root: MNode): { node: MNode; path: string }[] {
  const out: { node: MNode; path: string }[] = [];
  const stack: { node: MNode; path: string }[] = [{ node: root, path: '/' }];
  while (stack.length > 0) {
    const e = stack.pop() as { node: MNode; path: string };
    out.push(e);
    for (let i = e.node.children.length - 1; i >= 0; i--) {
      const c = e.node.children[i] as MNode;
      stack.push({ node: c, path: e.path === '/' ? `/${c.name}` : `${e.path}/${c.name}` });
    }
  }
  return out;
}

function byPhandle(root: MNode, ph: number): { node: MNode; path: string } | undefined {
  return walk(root).find((e) => phandleOf(e.node) === ph);
}

function byPath(root: MNode, path: string, aliasesAllowed = true): MNode | undefined {
  let node: MNode | undefined = root;
  let rest = path;
  if (!path.startsWith('/')) {
    if (!aliasesAllowed) return undefined;
    const slash = path.indexOf('/');
    const alias = slash < 0 ? path : path.slice(0, slash);
    const aliases = childOf(root, 'aliases');
    const t = aliases === undefined ? undefined : str(propOf(aliases, alias));
    if (t === undefined || !t.startsWith('/')) return undefined;
    node = byPath(root, t, false);
    rest = slash < 0 ? '' : path.slice(slash);
  }
  for (const part of rest.split('/')) {
    if (part === '') continue;
    node = node === undefined ? undefined : childOf(node, part);
    if (node === undefined) return undefined;
  }
  return node;
}

/** Sets a property the way libfdt's setprop does: in place if present, else first in the node. */
function setProp(n: MNode, name: string, value: Uint8Array): void {
  const p = propOf(n, name);
  if (p !== undefined) p.value = value;
  else n.props.unshift({ name, value });
}

function fragmentTarget(base: MNode, frag: MNode): { node: MNode; path: string | undefined } {
  const t = propOf(frag, 'target');
  if (t !== undefined) {
    if (t.value.length !== 4) throw new OverlayError('BAD_TARGET', `${frag.name}: target is not a phandle`);
    const ph = u32At(t.value, 0);
    if (ph === 0 || ph === 0xffffffff) throw new OverlayError('BAD_TARGET', `${frag.name}: target phandle ${ph} is invalid`);
    const e = byPhandle(base, ph);
    if (e === undefined) throw new OverlayError('TARGET_NOT_FOUND', `${frag.name}: no node with phandle ${ph}`);
    return { node: e.node, path: undefined };
  }
  const tp = propOf(frag, 'target-path');
  if (tp !== undefined) {
    const path = str(tp);
    if (path === undefined) throw new OverlayError('BAD_TARGET', `${frag.name}: target-path is not a string`);
    const node = byPath(base, path);
    if (node === undefined) throw new OverlayError('TARGET_NOT_FOUND', `${frag.name}: no node at ${path}`);
    return { node, path };
  }
  throw new OverlayError('MISSING_TARGET', `${frag.name} has neither target nor target-path`);
}

function mergeInto(target: MNode, src: MNode): void {
  const stack: [MNode, MNode][] = [[target, src]];
  while (stack.length > 0) {
    const [dst, from] = stack.pop() as [MNode, MNode];
    for (const p of from.props) setProp(dst, p.name, p.value);
    for (const c of from.children) {
      let d = childOf(dst, c.name);
      if (d === undefined) {
        // New nodes go right after the parent's properties, i.e. before existing children.
        d = { name: c.name, props: [], children: [] };
        dst.children.unshift(d);
      }
      stack.push([d, c]);
    }
  }
}

/**
 * Applies a devicetree overlay (a DTBO as dtc builds with `-@`, or one from
 * {@link buildOverlay}) to a base tree and returns the merged tree, following the steps of
 * libfdt's `fdt_overlay_apply`, which the Gunyah RM uses on the guest DT
 * (spec gunyah-rm-protocol.md §7.2):
 *
 * 1. every phandle of the overlay is raised by the base's largest phandle, and so is every
 *    cell that `__local_fixups__` lists;
 * 2. every `__fixups__` entry (`path:property:offset`) receives the phandle of the base node
 *    its label names in the base's `/__symbols__`;
 * 3. each fragment with an `__overlay__` child is merged into its `target` (phandle) or
 *    `target-path`: properties replace same-named ones in place or are inserted first; new
 *    child nodes are inserted before existing children; existing ones are merged;
 * 4. the overlay's `__symbols__` are added to the base's `/__symbols__` with their fragment
 *    path rewritten to the target path.
 *
 * Neither input is modified.
 * @param base - the base tree.
 * @param overlay - the overlay tree.
 * @returns the merged tree (base reservations and boot CPU kept).
 * @throws {OverlayError} for every overlay that cannot be applied (see {@link OverlayErrorCode}).
 */
export function applyOverlay(base: DeviceTree, overlay: DeviceTree): DeviceTree {
  const delta = base.maxPhandle;
  const ov = toMutable(overlay.root, true);
  const root = toMutable(base.root, false);

  // 1. Renumber the overlay's own phandles and the references to them.
  for (const { node } of walk(ov)) {
    for (const p of node.props) {
      if (!PHANDLE_PROPS.has(p.name)) continue;
      if (p.value.length !== 4) throw new OverlayError('BAD_OVERLAY', `${node.name}: ${p.name} is not 4 bytes`);
      const old = u32At(p.value, 0);
      const next = old + delta;
      if (old === 0 || old === 0xffffffff || next >= 0xffffffff) {
        throw new OverlayError('PHANDLE_OVERFLOW', `phandle ${old} + ${delta} is not a valid phandle`);
      }
      setU32At(p.value, 0, next);
    }
  }
  const lf = ov.children.find((c) => c.name === '__local_fixups__');
  if (lf !== undefined) {
    const stack: [MNode, MNode][] = [[lf, ov]];
    while (stack.length > 0) {
      const [fix, node] = stack.pop() as [MNode, MNode];
      for (const fp of fix.props) {
        const target = propOf(node, fp.name);
        if (target === undefined || fp.value.length % 4 !== 0) {
          throw new OverlayError('BAD_LOCAL_FIXUP', `__local_fixups__ entry ${fp.name} on ${fix.name} is invalid`);
        }
        for (let i = 0; i < fp.value.length; i += 4) {
          const off = u32At(fp.value, i);
          if (off + 4 > target.value.length) throw new OverlayError('BAD_LOCAL_FIXUP', `offset ${off} outside ${fp.name}`);
          const nv = u32At(target.value, off) + delta;
          if (nv > 0xffffffff) throw new OverlayError('PHANDLE_OVERFLOW', `reference in ${fp.name} overflows`);
          setU32At(target.value, off, nv);
        }
      }
      for (const fc of fix.children) {
        const nc = childOf(node, fc.name);
        if (nc === undefined) throw new OverlayError('BAD_LOCAL_FIXUP', `__local_fixups__ names missing node ${fc.name}`);
        stack.push([fc, nc]);
      }
    }
  }

  // 2. Resolve references to base labels.
  const fx = ov.children.find((c) => c.name === '__fixups__');
  if (fx !== undefined && fx.props.length > 0) {
    const symbols = root.children.find((c) => c.name === '__symbols__');
    if (symbols === undefined) throw new OverlayError('NO_SYMBOLS', 'overlay needs base labels but the base has no /__symbols__');
    for (const fp of fx.props) {
      const path = str(propOf(symbols, fp.name));
      const sym = path === undefined ? undefined : byPath(root, path);
      const ph = sym === undefined ? undefined : phandleOf(sym);
      if (ph === undefined) throw new OverlayError('UNRESOLVED_SYMBOL', `label ${fp.name} has no phandle node in the base`);
      const entries = strList(fp);
      if (entries === undefined) throw new OverlayError('BAD_FIXUP', `__fixups__/${fp.name} is not a string list`);
      for (const entry of entries) {
        const c1 = entry.indexOf(':');
        const c2 = c1 < 0 ? -1 : entry.indexOf(':', c1 + 1);
        const offText = c2 < 0 ? '' : entry.slice(c2 + 1);
        if (c1 <= 0 || c2 <= c1 + 1 || !/^[0-9]{1,10}$/.test(offText)) {
          throw new OverlayError('BAD_FIXUP', `malformed fixup '${entry}'`);
        }
        const node = byPath(ov, entry.slice(0, c1), false);
        const prop = node === undefined ? undefined : propOf(node, entry.slice(c1 + 1, c2));
        const off = Number(offText);
        if (prop === undefined || off + 4 > prop.value.length) throw new OverlayError('BAD_FIXUP', `fixup '${entry}' points nowhere`);
        setU32At(prop.value, off, ph);
      }
    }
  }

  // 3. Merge the fragments.
  const targets = new Map<MNode, { node: MNode; path: string | undefined }>();
  for (const frag of ov.children) {
    const body = childOf(frag, '__overlay__');
    if (body === undefined) continue;
    const t = fragmentTarget(root, frag);
    targets.set(frag, t);
    mergeInto(t.node, body);
  }

  // 4. Export the overlay's labels.
  const osym = ov.children.find((c) => c.name === '__symbols__');
  if (osym !== undefined) {
    let bsym = root.children.find((c) => c.name === '__symbols__');
    if (bsym === undefined) {
      bsym = { name: '__symbols__', props: [], children: [] };
      root.children.unshift(bsym);
    }
    for (const sp of osym.props) {
      const path = str(sp);
      if (path === undefined || !path.startsWith('/')) throw new OverlayError('BAD_SYMBOL', `__symbols__/${sp.name} is not a path`);
      const s = path.indexOf('/', 1);
      if (s < 0) continue;
      const rest = path.slice(s);
      let rel: string;
      if (rest.startsWith('/__overlay__/') && rest.length > '/__overlay__/'.length) rel = rest.slice('/__overlay__/'.length);
      else if (rest === '/__overlay__') rel = '';
      else continue;
      const frag = childOf(ov, path.slice(1, s));
      if (frag === undefined || childOf(frag, '__overlay__') === undefined) {
        throw new OverlayError('BAD_SYMBOL', `__symbols__/${sp.name} names a missing fragment`);
      }
      const t = targets.get(frag) ?? fragmentTarget(root, frag);
      const tpath = t.path ?? walk(root).find((e) => e.node === t.node)?.path ?? '/';
      const full = `${tpath}${tpath.length > 1 ? '/' : ''}${rel}`;
      const bytes = enc.encode(`${full}\0`);
      setProp(bsym, sp.name, bytes);
    }
  }
  // A hostile overlay can write phandles anywhere (a fixup aimed at a phandle property, a
  // fragment that sets one): refuse results that are no longer valid trees.
  const seen = new Map<number, MNode>();
  for (const { node, path } of walk(root)) {
    for (const p of node.props) {
      if (!PHANDLE_PROPS.has(p.name)) continue;
      const ph = p.value.length === 4 ? u32At(p.value, 0) : 0;
      const owner = seen.get(ph);
      if (ph === 0 || ph === 0xffffffff || (owner !== undefined && owner !== node)) {
        throw new OverlayError('BAD_OVERLAY', `result has an invalid or duplicate phandle at ${path}`);
      }
      seen.set(ph, node);
    }
  }
  return new DeviceTree(fromMutable(root), base.memReservations, base.bootCpuid);
}

/** One fragment of an overlay built by {@link buildOverlay}. */
export interface OverlayFragment {
  /** Target: an absolute path (`target-path`) or a phandle of the base tree (`target`). */
  readonly target: string | number;
  /** Content merged into the target: its properties and children (its name is ignored). */
  readonly node: FdtNode;
}

/**
 * Builds an overlay tree (`/fragment@N/__overlay__`) from fragments, for applying changes
 * programmatically with {@link applyOverlay} — as the RM does with the overlay it constructs.
 * The fragments' nodes may carry their own phandles (renumbered on apply) but cannot refer to
 * base labels (no `__fixups__`).
 * @param fragments - targets and contents, applied in order.
 * @returns the overlay tree.
 * @example
 * ```ts
 * const ov = buildOverlay([{ target: '/chosen', node: new FdtNode('', [FdtProperty.u64('kaslr-seed', 42n)]) }]);
 * const merged = applyOverlay(base, ov);
 * ```
 */
export function buildOverlay(fragments: readonly OverlayFragment[]): DeviceTree {
  const frags = fragments.map((f, i) => {
    const target =
      typeof f.target === 'string' ? FdtProperty.strings('target-path', f.target) : FdtProperty.u32('target', f.target);
    return new FdtNode(`fragment@${i}`, [target], [new FdtNode('__overlay__', f.node.properties, f.node.children)]);
  });
  return new DeviceTree(new FdtNode('', [], frags));
}
