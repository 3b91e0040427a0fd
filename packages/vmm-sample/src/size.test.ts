import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatSize, parseAddress, parseSize } from './size.js';

describe('parseSize / parseAddress', () => {
  it('accepts decimal, hex and binary suffixes', () => {
    expect(parseSize('4096')).toBe(4096n);
    expect(parseSize('0x1000')).toBe(4096n);
    expect(parseSize('0x1B')).toBe(27n);
    expect(parseSize('256M')).toBe(256n << 20n);
    expect(parseSize('256m')).toBe(256n << 20n);
    expect(parseSize('2G')).toBe(2n << 30n);
    expect(parseSize('2GiB')).toBe(2n << 30n);
    expect(parseSize('512KB')).toBe(512n << 10n);
    expect(parseSize(' 1T ')).toBe(1n << 40n);
    expect(parseAddress('0x80000000')).toBe(0x80000000n);
  });

  it('rejects garbage, negatives, fractions and values of 2^64 or more', () => {
    for (const bad of ['', 'M', '-1', '1.5G', '0x', '12Q', '1 2', 'G1', '0x1g', '0x10M', '18446744073709551616', '16777216T']) expect(parseSize(bad), bad).toBeUndefined();
    expect(parseSize('18446744073709551615')).toBe((1n << 64n) - 1n);
    expect(parseAddress('1M')).toBeUndefined();
    expect(parseAddress('0x10000000000000000')).toBeUndefined();
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(fc.property(fc.string(), (s) => {
      const v = parseSize(s);
      expect(v === undefined || (v >= 0n && v < 1n << 64n)).toBe(true);
    }));
  });

  it('formats sizes for people', () => {
    expect(formatSize(256n << 20n)).toBe('256 MiB');
    expect(formatSize(3n << 29n)).toBe('1.5 GiB');
    expect(formatSize(100n)).toBe('100 B');
  });
});
