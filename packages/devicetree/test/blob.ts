// Helpers that assemble DTBs by hand (token by token) so tests can build malformed blobs.
const enc = new TextEncoder();

/** Big-endian 32-bit words. */
export function w32(...ws: number[]): number[] {
  const out: number[] = [];
  for (const x of ws) out.push((x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff);
  return out;
}

function pad(b: number[]): number[] {
  while (b.length % 4 !== 0) b.push(0);
  return b;
}

/** FDT_BEGIN_NODE with a padded name. */
export const BEGIN = (name: string): number[] => [...w32(1), ...pad([...enc.encode(name), 0])];
/** FDT_END_NODE. */
export const END_NODE = (): number[] => w32(2);
/** FDT_NOP. */
export const NOP = (): number[] => w32(4);
/** FDT_END. */
export const END = (): number[] => w32(9);
/** FDT_PROP with a padded value. */
export const PROP = (nameoff: number, value: number[]): number[] => [...w32(3, value.length, nameoff), ...pad([...value])];

/** Options for {@link assemble}. */
export interface AssembleOptions {
  readonly version?: number;
  readonly lastComp?: number;
  readonly reservations?: readonly [bigint, bigint][];
  /** Leave out the terminating reservation entry. */
  readonly unterminated?: boolean;
}

/** Builds header + reservation map + structure + strings with consistent offsets. */
export function assemble(struct: number[], strings: string, o: AssembleOptions = {}): Uint8Array {
  const rsv: number[] = [];
  for (const [a, s] of o.reservations ?? []) {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, a, false);
    v.setBigUint64(8, s, false);
    rsv.push(...b);
  }
  if (o.unterminated !== true) rsv.push(...new Array<number>(16).fill(0));
  const str = [...enc.encode(strings)];
  const structOff = 40 + rsv.length;
  const stringsOff = structOff + struct.length;
  const total = stringsOff + str.length;
  const header = w32(0xd00dfeed, total, structOff, stringsOff, 40, o.version ?? 17, o.lastComp ?? 16, 0, str.length, struct.length);
  return new Uint8Array([...header, ...rsv, ...struct, ...str]);
}

/** Returns a copy with one header word replaced. */
export function patchWord(blob: Uint8Array, offset: number, value: number): Uint8Array {
  const c = new Uint8Array(blob);
  new DataView(c.buffer).setUint32(offset, value >>> 0, false);
  return c;
}
