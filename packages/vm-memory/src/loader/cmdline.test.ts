import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ARM64_CMDLINE_CAPACITY, Cmdline } from './cmdline.js';
import { CmdlineError } from './errors.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof CmdlineError) return e.code;
    throw e;
  }
  return undefined;
}

describe('Cmdline', () => {
  it('builds a command line from parameters', () => {
    const c = new Cmdline();
    c.insert('console', 'ttyS0,115200').insert('earlycon', 'uart8250,mmio,0x3f8').insertFlag('panic=-1 quiet').insertMultiple('isolcpus', [1, 2]);
    c.insert('init', '/bin/sh -x').insert('mem', 256n).insert('empty', '');
    const s = 'console=ttyS0,115200 earlycon=uart8250,mmio,0x3f8 panic=-1 quiet isolcpus=1,2 init="/bin/sh -x" mem=256 empty=""';
    expect(c.toString()).toBe(s);
    expect(c.length).toBe(s.length);
    const b = c.toBytes();
    expect(b.length).toBe(s.length + 1);
    expect(b[b.length - 1]).toBe(0);
    expect(Buffer.from(b.subarray(0, -1)).toString('latin1')).toBe(s);
    expect(c.capacity).toBe(ARM64_CMDLINE_CAPACITY);
  });

  it('refuses malformed pieces with typed errors and stays unchanged', () => {
    const c = new Cmdline();
    c.insert('a', 'b');
    expect(code(() => c.insert('', 'x'))).toBe('EMPTY_KEY');
    expect(code(() => c.insert('a b', 'x'))).toBe('INVALID_KEY');
    expect(code(() => c.insert('a=b', 'x'))).toBe('INVALID_KEY');
    expect(code(() => c.insert('k', 'say "hi"'))).toBe('INVALID_VALUE');
    expect(code(() => c.insert('k', 'tab\there'))).toBe('INVALID_CHARACTER');
    expect(code(() => c.insert('k', 'é'))).toBe('INVALID_CHARACTER');
    expect(code(() => c.insert('k\n', 'v'))).toBe('INVALID_CHARACTER');
    expect(code(() => c.insertMultiple('k', []))).toBe('INVALID_VALUE');
    expect(code(() => c.insertMultiple('k', ['a,b']))).toBe('INVALID_VALUE');
    expect(code(() => c.insertFlag('   '))).toBe('EMPTY_KEY');
    expect(code(() => c.insertFlag('ok =bad'))).toBe('EMPTY_KEY');
    expect(code(() => c.insertFlag('ok x="y'))).toBe('INVALID_VALUE');
    expect(c.toString()).toBe('a=b');
    expect(code(() => new Cmdline(0))).toBe('INVALID_CAPACITY');
    expect(code(() => new Cmdline(1.5))).toBe('INVALID_CAPACITY');
  });

  it('enforces the capacity, NUL included, at the exact boundary', () => {
    const c = new Cmdline(10);
    c.insert('abc', 'def'); // 7 bytes + NUL = 8
    expect(code(() => c.insertFlag('xy'))).toBe('TOO_LARGE'); // 7 + 1 + 2 + 1 = 11
    c.insertFlag('x'); // 7 + 1 + 1 + 1 = 10
    expect(c.toString()).toBe('abc=def x');
    expect(code(() => c.insertFlag('y'))).toBe('TOO_LARGE');
    const d = new Cmdline(5);
    expect(code(() => d.insertFlag('a b c'))).toBe('TOO_LARGE');
    expect(d.toString()).toBe('');
    d.insertFlag('a b');
    expect(d.toString()).toBe('a b');
  });

  it('never exceeds capacity and fails only with CmdlineError (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), { maxLength: 12 }),
        (cap, pairs) => {
          const c = new Cmdline(cap);
          for (const [k, v] of pairs) {
            try {
              if (k.length % 2 === 0) c.insert(k, v);
              else c.insertFlag(`${k}=${v}`);
            } catch (e) {
              expect(e).toBeInstanceOf(CmdlineError);
            }
            expect(c.toBytes().length).toBeLessThanOrEqual(cap);
            expect(c.toString()).toMatch(/^[\x20-\x7e]*$/);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
