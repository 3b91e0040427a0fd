import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { TestbedError } from './errors.js';
import { MANIFEST_FORMAT, type Manifest, readManifest, validateManifest } from './manifest.js';

const dir = mkdtempSync(join(tmpdir(), 'testbed-manifest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD: Manifest = {
  format: MANIFEST_FORMAT,
  key: '0e56a925665b2b5d',
  recipe: 'd5d31e26a9bf2b7e',
  versions: {
    kernelPackage: 'linux-image-6.12.95+deb12-arm64', kernelDebVersion: '6.12.95-1~bpo12+1', kernelRelease: '6.12.95+deb12-arm64',
    busybox: '1:1.35.0-4+deb12u1+b1', libc6: '2.36-9+deb12u14', libstdcxx: '12.2.0-14+deb12u1', node: '20.20.2',
  },
  hostKernel: '/c/Image', hostInitramfs: '/c/host.cpio', guestKernel: '/c/Image', guestInitramfs: '/c/guest.cpio', kvmProbe: '/c/kvm-probe',
  addon: null,
  createdAt: '2026-11-21T06:16:33.927Z',
};

describe('validateManifest', () => {
  it('accepts a complete manifest, with or without the addon', () => {
    expect(validateManifest(GOOD)).toBe(GOOD);
    expect(validateManifest({ ...GOOD, addon: '/c/gunyah_sys.node' }).addon).toBe('/c/gunyah_sys.node');
  });

  it.each([
    ['not an object', null],
    ['array', []],
    ['old format', { ...GOOD, format: 0 }],
    ['bad key', { ...GOOD, key: 'XYZ' }],
    ['no recipe', { ...GOOD, recipe: undefined }],
    ['no versions', { ...GOOD, versions: undefined }],
    ['empty node version', { ...GOOD, versions: { ...GOOD.versions, node: '' } }],
    ['relative path', { ...GOOD, hostKernel: 'Image' }],
    ['numeric addon', { ...GOOD, addon: 3 }],
    ['no createdAt', { ...GOOD, createdAt: undefined }],
  ])('rejects %s with BAD_MANIFEST', (_what, value) => {
    expect(() => validateManifest(value)).toThrowError(expect.objectContaining({ code: 'BAD_MANIFEST' }));
  });

  it('accepts the interactive guest initramfs as an optional absolute path', () => {
    expect(validateManifest({ ...GOOD, guestShellInitramfs: '/c/guest-shell.cpio' }).guestShellInitramfs).toBe('/c/guest-shell.cpio');
    for (const bad of ['guest-shell.cpio', 7, null]) {
      expect(() => validateManifest({ ...GOOD, guestShellInitramfs: bad })).toThrow(expect.objectContaining({ code: 'BAD_MANIFEST' }));
    }
  });

  it('accepts the virtio guest initramfs as an optional absolute path', () => {
    expect(validateManifest({ ...GOOD, guestVirtioInitramfs: '/c/guest-virtio.cpio' }).guestVirtioInitramfs).toBe('/c/guest-virtio.cpio');
    for (const bad of ['guest-virtio.cpio', 7, null]) {
      expect(() => validateManifest({ ...GOOD, guestVirtioInitramfs: bad })).toThrow(expect.objectContaining({ code: 'BAD_MANIFEST' }));
    }
  });

  it('property: any JSON value is a manifest or BAD_MANIFEST', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.record({ format: fc.constant(1), key: fc.string(), recipe: fc.string(), versions: fc.jsonValue() })), (v) => {
        try {
          validateManifest(v);
        } catch (err) {
          expect(err).toBeInstanceOf(TestbedError);
          expect((err as TestbedError).code).toBe('BAD_MANIFEST');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('property: dropping any field of a good manifest is rejected', () => {
    const keys = Object.keys(GOOD).filter((k) => k !== 'addon');
    fc.assert(
      fc.property(fc.constantFrom(...keys), (k) => {
        const copy: Record<string, unknown> = { ...GOOD };
        delete copy[k];
        expect(() => validateManifest(copy)).toThrowError(expect.objectContaining({ code: 'BAD_MANIFEST' }));
      }),
    );
  });
});

describe('readManifest', () => {
  it('reads a file', () => {
    const p = join(dir, 'm.json');
    writeFileSync(p, JSON.stringify(GOOD));
    expect(readManifest(p)).toEqual(GOOD);
  });
  it('says NOT_PREPARED when the file is missing', () => {
    expect(() => readManifest(join(dir, 'none.json'))).toThrowError(expect.objectContaining({ code: 'NOT_PREPARED' }));
  });
  it('says BAD_MANIFEST for non-JSON', () => {
    const p = join(dir, 'bad.json');
    writeFileSync(p, '{');
    expect(() => readManifest(p)).toThrowError(expect.objectContaining({ code: 'BAD_MANIFEST' }));
  });
});
