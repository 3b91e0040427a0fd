// Layout facts of the flattened devicetree (DTB) format, version 17 (Devicetree Specification
// v0.4, chapter 5). All words are big-endian.

/** First header word of every DTB. */
export const FDT_MAGIC = 0xd00dfeed;
/** Version this package writes. */
export const FDT_VERSION = 17;
/** Oldest version a reader of our output must understand (`last_comp_version`). */
export const FDT_LAST_COMP_VERSION = 16;
/** Size of the version-17 header in bytes (ten 32-bit words). */
export const FDT_HEADER_SIZE = 40;
/** Size of the version-16 header in bytes (no `size_dt_struct`). */
export const FDT_V16_HEADER_SIZE = 36;

/** Structure-block tokens. */
export const FDT_BEGIN_NODE = 0x1;
/** @internal */
export const FDT_END_NODE = 0x2;
/** @internal */
export const FDT_PROP = 0x3;
/** @internal */
export const FDT_NOP = 0x4;
/** @internal */
export const FDT_END = 0x9;

/** @internal Header word offsets. */
export const H = {
  magic: 0,
  totalsize: 4,
  offDtStruct: 8,
  offDtStrings: 12,
  offMemRsvmap: 16,
  version: 20,
  lastCompVersion: 24,
  bootCpuidPhys: 28,
  sizeDtStrings: 32,
  sizeDtStruct: 36,
} as const;

// Character sets from the Devicetree Specification §2.2.1 (node names) and §2.2.4 (property
// names), as also enforced by dtc.
const NODE_CHARS = /^[A-Za-z0-9,._+\-]+$/;
const UNIT_CHARS = /^[A-Za-z0-9,._+\-]*$/;
const PROP_CHARS = /^[A-Za-z0-9,._+*#?\-]+$/;

/** Longest node or property name either side accepts (a sanity bound, not from the spec). */
export const MAX_NAME_LENGTH = 255;

/**
 * Whether `name` is a valid non-root node name: `node-name[@unit-address]`, node-name
 * non-empty, at most one `@`, characters from the spec's set.
 * @internal
 */
export function isValidNodeName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  const at = name.indexOf('@');
  if (at < 0) return NODE_CHARS.test(name);
  if (at === 0 || name.indexOf('@', at + 1) >= 0) return false;
  return NODE_CHARS.test(name.slice(0, at)) && UNIT_CHARS.test(name.slice(at + 1));
}

/**
 * Whether `name` is a valid property name.
 * @internal
 */
export function isValidPropertyName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && PROP_CHARS.test(name);
}

/** @internal Rounds up to a multiple of 4. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Properties that carry a node's phandle. @internal */
export const PHANDLE_PROPS: ReadonlySet<string> = new Set(['phandle', 'linux,phandle']);
