import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { debFileName, parseControl, parseDepends } from './deb-control.js';
import { TestbedError } from './errors.js';

// Shaped like `apt-cache show --no-all-versions linux-image-arm64/bookworm-backports` output.
const SHOW = `Package: linux-image-arm64
Source: linux-signed-arm64 (6.12.95+1~bpo12+1)
Version: 6.12.95-1~bpo12+1
Architecture: arm64
Depends: linux-image-6.12.95+deb12-arm64 (= 6.12.95-1~bpo12+1)
Description: Linux for 64-bit ARMv8 machines (meta-package)
 This package depends on the latest Linux kernel and modules
 .
 for use on 64-bit ARMv8 machines.
SHA256: 732c9135564fc71337e0e05fb4da4d11e6c28c1834bce3e405e575afef2a52f5

Package: busybox-static
Version: 1:1.35.0-4+deb12u1+b1
`;

describe('parseControl', () => {
  it('reads stanzas, fields and continuation lines', () => {
    const [a, b, ...rest] = parseControl(SHOW);
    expect(rest).toEqual([]);
    expect(a?.get('Version')).toBe('6.12.95-1~bpo12+1');
    expect(a?.get('Depends')).toBe('linux-image-6.12.95+deb12-arm64 (= 6.12.95-1~bpo12+1)');
    expect(a?.get('Description')).toBe('Linux for 64-bit ARMv8 machines (meta-package)\nThis package depends on the latest Linux kernel and modules\n.\nfor use on 64-bit ARMv8 machines.');
    expect(b?.get('Version')).toBe('1:1.35.0-4+deb12u1+b1');
  });

  it('accepts CRLF and several blank lines', () => {
    expect(parseControl('A: 1\r\n\r\n\r\nB: 2\r\n').map((s) => [...s])).toEqual([[['A', '1']], [['B', '2']]]);
    expect(parseControl('')).toEqual([]);
  });

  it.each([
    [' leading continuation', 'continuation'],
    ['no colon here', 'Field'],
    [': empty name', 'Field'],
    ['A: 1\n\n more', 'continuation'],
  ])('rejects %j with BAD_CONTROL', (text, msg) => {
    expect(() => parseControl(text)).toThrowError(expect.objectContaining({ code: 'BAD_CONTROL', message: expect.stringContaining(msg) }));
  });

  it('property: serialised stanzas parse back', () => {
    const name = fc.stringMatching(/^[A-Z][A-Za-z0-9-]{0,12}$/);
    const value = fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/);
    fc.assert(
      fc.property(fc.array(fc.uniqueArray(fc.tuple(name, value), { selector: ([k]) => k, minLength: 1, maxLength: 6 }), { maxLength: 5 }), (stanzas) => {
        const text = stanzas.map((s) => s.map(([k, v]) => `${k}: ${v}`).join('\n')).join('\n\n');
        expect(parseControl(text).map((s) => [...s])).toEqual(stanzas);
      }),
    );
  });

  it('property: any text yields stanzas or BAD_CONTROL, never another error', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('A', 'b', ':', ' ', '\t', '\n', '\r', '-', '.', '1', '(', 'é') }), (text) => {
        try {
          for (const s of parseControl(text)) for (const [k] of s) expect(k).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/);
        } catch (err) {
          expect(err).toBeInstanceOf(TestbedError);
          expect((err as TestbedError).code).toBe('BAD_CONTROL');
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseDepends', () => {
  it('keeps the first alternative and the version clause', () => {
    expect(parseDepends('kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, libc6:any (<< 3), foo [arm64]')).toEqual([
      { name: 'kmod' },
      { name: 'initramfs-tools', constraint: { op: '>=', version: '0.120+deb8u2' } },
      { name: 'libc6', constraint: { op: '<<', version: '3' } },
      { name: 'foo' },
    ]);
    expect(parseDepends('')).toEqual([]);
  });

  it.each(['(= 1)', 'Foo', 'a (~ 1)', 'a (= )'])('rejects %j with BAD_CONTROL', (bad) => {
    expect(() => parseDepends(bad)).toThrowError(expect.objectContaining({ code: 'BAD_CONTROL' }));
  });

  it('property: never throws anything but BAD_CONTROL', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          for (const r of parseDepends(text)) expect(r.name).toMatch(/^[a-z0-9][a-z0-9+.-]*$/);
        } catch (err) {
          expect((err as TestbedError).code).toBe('BAD_CONTROL');
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('debFileName', () => {
  it('writes an epoch colon as %3a, as apt-get download does', () => {
    expect(debFileName('busybox-static', '1:1.35.0-4+deb12u1+b1', 'arm64')).toBe('busybox-static_1%3a1.35.0-4+deb12u1+b1_arm64.deb');
    expect(debFileName('libc6', '2.36-9+deb12u14', 'arm64')).toBe('libc6_2.36-9+deb12u14_arm64.deb');
  });
});
