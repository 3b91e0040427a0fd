import { TestbedError } from './errors.js';

// ELF64 little-endian header fields used here (System V gABI): e_ident[EI_CLASS]=2 (64-bit) at 4,
// e_ident[EI_DATA]=1 (LE) at 5, e_shoff u64 at 0x28, e_shentsize u16 at 0x3a, e_shnum u16 at 0x3c,
// e_shstrndx u16 at 0x3e. Section header (64 bytes): sh_name u32 at 0, sh_offset u64 at 0x18,
// sh_size u64 at 0x20. A kernel module's ".modinfo" section holds NUL-separated "key=value" strings.

const ELF_MAGIC = 0x464c457f; // "\x7fELF" read little-endian

/**
 * Reads the `.modinfo` key/value strings of a (decompressed) ELF64 little-endian kernel module.
 * Repeated keys (alias, parm) keep the last value; callers here only need `name` and `depends`.
 *
 * @throws {TestbedError} BAD_MODULE when the bytes are not an ELF64 LE object, a header or section
 *   lies outside the buffer, or there is no `.modinfo` section.
 */
export function readModinfo(bytes: Uint8Array): Map<string, string> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64 || dv.getUint32(0, true) !== ELF_MAGIC) throw new TestbedError('BAD_MODULE', 'not an ELF file');
  if (bytes[4] !== 2 || bytes[5] !== 1) throw new TestbedError('BAD_MODULE', 'not a 64-bit little-endian ELF file');
  const shoff = toIndex(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  if (shentsize < 64 || shstrndx >= shnum || shoff + shnum * shentsize > bytes.length) {
    throw new TestbedError('BAD_MODULE', 'section header table outside the file');
  }
  const section = (i: number): { name: number; offset: number; size: number } => {
    const base = shoff + i * shentsize;
    const offset = toIndex(dv.getBigUint64(base + 0x18, true));
    const size = toIndex(dv.getBigUint64(base + 0x20, true));
    if (offset + size > bytes.length) throw new TestbedError('BAD_MODULE', `section ${i} outside the file`);
    return { name: dv.getUint32(base, true), offset, size };
  };
  const strtab = section(shstrndx);
  const decoder = new TextDecoder('latin1');
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.name >= strtab.size) continue;
    const start = strtab.offset + s.name;
    let end = start;
    const limit = strtab.offset + strtab.size;
    while (end < limit && bytes[end] !== 0) end++;
    if (decoder.decode(bytes.subarray(start, end)) !== '.modinfo') continue;
    const info = new Map<string, string>();
    for (const entry of decoder.decode(bytes.subarray(s.offset, s.offset + s.size)).split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) info.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    return info;
  }
  throw new TestbedError('BAD_MODULE', 'no .modinfo section');
}

function toIndex(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new TestbedError('BAD_MODULE', 'offset out of range');
  return Number(v);
}

/** Normalises a module name the way the kernel does: '-' and '_' are the same. */
export function moduleKey(name: string): string {
  return name.replace(/-/g, '_');
}

/**
 * Orders the modules needed for `wanted` so that every module comes after its dependencies.
 * `depends(name)` returns the names a module needs (from its `.modinfo`) or undefined when the
 * kernel package does not ship it; `builtin` lists modules compiled into the kernel (nothing to load).
 *
 * @throws {TestbedError} BAD_MODULE when a needed module is neither available nor built in, or the
 *   dependencies form a cycle.
 */
export function moduleLoadOrder(
  wanted: readonly string[],
  depends: (name: string) => readonly string[] | undefined,
  builtin: ReadonlySet<string>,
): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (raw: string, path: readonly string[]): void => {
    const name = moduleKey(raw);
    if (builtin.has(name) || state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      throw new TestbedError('BAD_MODULE', `module dependency cycle: ${[...path, name].join(' -> ')}`);
    }
    const deps = depends(name);
    if (deps === undefined) {
      throw new TestbedError('BAD_MODULE', `module "${name}" (needed by ${path.join(' -> ') || 'the testbed'}) is neither built in nor shipped`);
    }
    state.set(name, 'visiting');
    for (const d of deps) visit(d, [...path, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const w of wanted) visit(w, []);
  return order;
}
