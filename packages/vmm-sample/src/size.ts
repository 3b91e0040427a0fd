/**
 * Parsing of sizes and addresses given on the command line.
 *
 * @module
 */

const UNITS: Readonly<Record<string, bigint>> = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };

/**
 * Parse a byte size: a `0x` hex integer, or a decimal integer with an optional binary suffix `K`, `M`,
 * `G`, `T` (case-insensitive, optionally followed by `B` or `iB`): `256M`, `0x10000000`, `2GiB`.
 * Returns `undefined` for anything else, including sizes of 2^64 or more.
 *
 * @example
 * ```ts
 * parseSize('256M'); // 268435456n
 * ```
 */
export function parseSize(text: string): bigint | undefined {
  // Suffixes only follow decimal numbers: in `0x1B`, B is a hex digit.
  const hex = /^\s*(0x[0-9a-f]+)\s*$/i.exec(text);
  const dec = hex ? undefined : /^\s*([0-9]+)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!hex && !dec) return undefined;
  const num = (hex ?? dec)?.[1] as string;
  const unit = dec?.[2] ?? '';
  const value = BigInt(num) * (UNITS[unit.toUpperCase()] as bigint);
  return value < 1n << 64n ? value : undefined;
}

/**
 * Parse an address: a decimal or `0x` hex integer below 2^64 (no suffixes). Returns `undefined`
 * otherwise.
 */
export function parseAddress(text: string): bigint | undefined {
  const m = /^\s*(0x[0-9a-f]+|[0-9]+)\s*$/i.exec(text);
  if (!m) return undefined;
  const value = BigInt(m[1] as string);
  return value < 1n << 64n ? value : undefined;
}

/** Format a byte count for people: `256 MiB`, `1.5 GiB`, `4096 B`. */
export function formatSize(bytes: bigint): string {
  for (const [unit, scale] of [['TiB', 1n << 40n], ['GiB', 1n << 30n], ['MiB', 1n << 20n], ['KiB', 1n << 10n]] as const) {
    if (bytes >= scale) {
      const whole = bytes / scale;
      const tenth = ((bytes % scale) * 10n) / scale;
      return tenth === 0n ? `${whole} ${unit}` : `${whole}.${tenth} ${unit}`;
    }
  }
  return `${bytes} B`;
}
