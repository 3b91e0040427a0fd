import { TestbedError } from './errors.js';

/** One stanza of Debian control text (`apt-cache show` output): field name → value. */
export type ControlStanza = ReadonlyMap<string, string>;

const MAX_TEXT = 64 * 1024 * 1024;

/**
 * Parses Debian control text (RFC 822 style stanzas separated by blank lines; continuation lines
 * start with a space or tab) into stanzas. Field names are kept as written; values are trimmed and
 * continuation lines are joined with "\n".
 *
 * @throws {TestbedError} BAD_CONTROL on a line that is neither a field nor a continuation, a
 *   continuation before any field, or text over 64 MiB.
 */
export function parseControl(text: string): ControlStanza[] {
  if (text.length > MAX_TEXT) throw new TestbedError('BAD_CONTROL', 'control text too large');
  const stanzas: Map<string, string>[] = [];
  let cur: Map<string, string> | undefined;
  let last: string | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    if (line.trim() === '') {
      cur = undefined;
      last = undefined;
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (cur === undefined || last === undefined) {
        throw new TestbedError('BAD_CONTROL', `line ${i + 1}: continuation line without a field`);
      }
      cur.set(last, `${cur.get(last) ?? ''}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
      throw new TestbedError('BAD_CONTROL', `line ${i + 1}: expected "Field: value"`);
    }
    if (cur === undefined) {
      cur = new Map();
      stanzas.push(cur);
    }
    cur.set(name, line.slice(colon + 1).trim());
    last = name;
  }
  return stanzas;
}

/** A package relation from a Depends field: the first alternative of each comma-separated item. */
export interface Relation {
  readonly name: string;
  /** Operator and version, when given (`=`, `>=`, `<<`, ...). */
  readonly constraint?: { readonly op: string; readonly version: string };
}

/**
 * Parses a Depends-style field ("a (= 1), b | c, d:any") into the first alternative of each item.
 *
 * @throws {TestbedError} BAD_CONTROL on an item without a package name or a malformed version clause.
 */
export function parseDepends(field: string): Relation[] {
  const out: Relation[] = [];
  for (const item of field.split(',')) {
    if (item.trim() === '') continue;
    const first = (item.split('|')[0] ?? '').trim();
    const m = /^([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*(?:\(\s*(<<|<=|=|>=|>>)\s*([^)\s]+)\s*\))?\s*(?:\[[^\]]*\])?$/.exec(first);
    if (m === null || m[1] === undefined) {
      throw new TestbedError('BAD_CONTROL', `malformed relation "${first.slice(0, 80)}"`);
    }
    out.push(m[2] !== undefined && m[3] !== undefined ? { name: m[1], constraint: { op: m[2], version: m[3] } } : { name: m[1] });
  }
  return out;
}

/** The file name `apt-get download` gives a package (an epoch colon is written as `%3a`). */
export function debFileName(pkg: string, version: string, arch: string): string {
  return `${pkg}_${version.replace(/:/g, '%3a')}_${arch}.deb`;
}
