import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_GUEST_ADDRESS,
  addressAdd,
  addressDiff,
  alignDown,
  alignUp,
  checkedAdd,
  checkedSub,
  formatAddress,
  guestAddress,
  isAligned,
} from './address.js';
import { GuestMemoryError } from './errors.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof GuestMemoryError) return e.code;
    throw e;
  }
  return undefined;
}

const addrArb = fc.bigInt({ min: 0n, max: MAX_GUEST_ADDRESS }).map((v) => guestAddress(v));
const alignArb = fc.integer({ min: 0, max: 63 }).map((s) => 1n << BigInt(s));

describe('guestAddress', () => {
  it('accepts the full 64-bit range', () => {
    expect(guestAddress(0)).toBe(0n);
    expect(guestAddress(MAX_GUEST_ADDRESS)).toBe(MAX_GUEST_ADDRESS);
    expect(guestAddress(Number.MAX_SAFE_INTEGER)).toBe(BigInt(Number.MAX_SAFE_INTEGER));
  });
  it.each([
    ['negative number', -1],
    ['fraction', 1.5],
    ['NaN', Number.NaN],
    ['unsafe number', 2 ** 60],
    ['negative bigint', -1n],
    ['2^64', 1n << 64n],
  ])('refuses %s', (_name, v) => {
    expect(code(() => guestAddress(v))).toBe('INVALID_ADDRESS');
  });
});

describe('checked arithmetic', () => {
  it('overflows at the top and underflows at 0', () => {
    const top = guestAddress(MAX_GUEST_ADDRESS);
    expect(checkedAdd(top, 1)).toBeUndefined();
    expect(checkedAdd(top, 0)).toBe(top);
    expect(checkedSub(guestAddress(0), 1)).toBeUndefined();
    expect(checkedSub(guestAddress(5), 5n)).toBe(0n);
    expect(code(() => addressAdd(top, 1))).toBe('ADDRESS_OVERFLOW');
    expect(code(() => checkedAdd(top, 0.5))).toBe('INVALID_ARGUMENT');
    expect(addressDiff(guestAddress(3), guestAddress(10))).toBe(-7n);
    expect(formatAddress(guestAddress(0x8000_0000))).toBe('0x80000000');
  });

  it('checkedAdd agrees with unbounded arithmetic (property)', () => {
    fc.assert(
      fc.property(addrArb, fc.bigInt({ min: -(1n << 65n), max: 1n << 65n }), (a, n) => {
        const exact = a + n;
        const r = checkedAdd(a, n);
        if (exact < 0n || exact > MAX_GUEST_ADDRESS) expect(r).toBeUndefined();
        else expect(r).toBe(exact);
      }),
    );
  });

  it('checkedSub inverts checkedAdd (property)', () => {
    fc.assert(
      fc.property(addrArb, fc.bigInt({ min: 0n, max: MAX_GUEST_ADDRESS }), (a, n) => {
        const up = checkedAdd(a, n);
        if (up !== undefined) expect(checkedSub(up, n)).toBe(a);
      }),
    );
  });
});

describe('alignment', () => {
  it('rounds to powers of two', () => {
    const a = guestAddress(0x8012_3456);
    expect(alignDown(a, 0x20_0000)).toBe(0x8000_0000n);
    expect(alignUp(a, 0x20_0000)).toBe(0x8020_0000n);
    expect(alignUp(guestAddress(0x8000_0000), 0x20_0000)).toBe(0x8000_0000n);
    expect(isAligned(a, 2)).toBe(true);
    expect(isAligned(a, 4)).toBe(false);
  });
  it('refuses non-powers of two and overflowing results', () => {
    for (const bad of [0, 3, -4, 6n, 1n << 64n]) expect(code(() => alignUp(guestAddress(0), bad))).toBe('INVALID_ALIGNMENT');
    expect(code(() => alignUp(guestAddress(MAX_GUEST_ADDRESS), 0x1000))).toBe('ADDRESS_OVERFLOW');
    expect(alignDown(guestAddress(MAX_GUEST_ADDRESS), 0x1000)).toBe(MAX_GUEST_ADDRESS - 0xfffn);
  });
  it('alignUp/alignDown bracket the address (property)', () => {
    fc.assert(
      fc.property(addrArb, alignArb, (a, al) => {
        const d = alignDown(a, al);
        expect(d <= a && a - d < al).toBe(true);
        expect(isAligned(d, al)).toBe(true);
        if (a + al - 1n <= MAX_GUEST_ADDRESS || isAligned(a, al)) {
          const u = alignUp(a, al);
          expect(u >= a && u - a < al).toBe(true);
          expect(isAligned(u, al)).toBe(true);
          expect(u === a).toBe(isAligned(a, al));
        } else {
          const c = code(() => alignUp(a, al));
          expect(c === undefined || c === 'ADDRESS_OVERFLOW').toBe(true);
        }
      }),
    );
  });
});
