import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { imageHeader, minimalDtb, pattern, syntheticImage } from '../../test/helpers/fixtures.js';
import { guestAddress } from '../address.js';
import { GuestMemoryError } from '../errors.js';
import { GuestMemory } from '../memory.js';
import { ImageLoadError, LayoutError } from './errors.js';
import { inspectKernel, loadInitrd, loadKernel, loadLinux, writeDtb } from './load.js';
import { DEFAULT_GUEST_BASE, planLayout, type LayoutPlan } from './layout.js';

const MiB = 1 << 20;
const dir = mkdtempSync(join(tmpdir(), 'vm-memory-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof ImageLoadError || e instanceof LayoutError || e instanceof GuestMemoryError) return e.code;
    throw e;
  }
  return undefined;
}

function ram(size = 32 * MiB): GuestMemory {
  return GuestMemory.fromBuffers([{ start: DEFAULT_GUEST_BASE, size }]);
}

function planFor(img: Uint8Array, extra: Partial<Parameters<typeof planLayout>[0]> = {}): LayoutPlan {
  return planLayout({ memSize: 32 * MiB, kernel: { textOffset: 0, imageSize: img.length + 0x4000 }, ...extra });
}

describe('inspectKernel', () => {
  it('reads raw and gzip headers alike', async () => {
    const img = syntheticImage(0x30000, { textOffset: 0n });
    const raw = await inspectKernel(file('raw', img));
    expect(raw).toMatchObject({ compression: 'none', sourceSize: img.length, imageFileSize: img.length });
    expect(raw.header.imageSize).toBe(img.length + 0x4000);
    const gz = gzipSync(img);
    const fromGz = await inspectKernel(file('img.gz', gz));
    expect(fromGz.compression).toBe('gzip');
    expect(fromGz.header).toEqual(raw.header);
    expect(fromGz.imageFileSize).toBeUndefined();
    expect((await inspectKernel(gz)).header).toEqual(raw.header);
  });

  it('measures legacy gzip images', async () => {
    const img = syntheticImage(0x2345, { imageSize: 0n });
    const info = await inspectKernel(gzipSync(img));
    expect(info.header.legacy).toBe(true);
    expect(info.imageFileSize).toBe(img.length);
  });

  it('gives typed errors for broken inputs', async () => {
    const img = syntheticImage(0x1000);
    expect(await codeOf(inspectKernel(img.subarray(0, 40)))).toBe('TRUNCATED');
    expect(await codeOf(inspectKernel(file('trunc', img.subarray(0, 63))))).toBe('TRUNCATED');
    expect(await codeOf(inspectKernel(gzipSync(img.subarray(0, 10))))).toBe('TRUNCATED');
    expect(await codeOf(inspectKernel(new Uint8Array(100)))).toBe('BAD_MAGIC');
    const gz = gzipSync(img);
    expect(await codeOf(inspectKernel(gz.subarray(0, 12)))).toBe('BAD_COMPRESSION');
    const corrupt = gz.slice();
    corrupt[3] = 0xff; // reserved gzip flag bits
    expect(await codeOf(inspectKernel(corrupt))).toBe('BAD_COMPRESSION');
    expect(await codeOf(inspectKernel(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0, 0)))).toBe('UNSUPPORTED_COMPRESSION');
    expect(await codeOf(inspectKernel(join(dir, 'nope')))).toBe('IO_ERROR');
    // A file that is longer than its declared image_size.
    expect(await codeOf(inspectKernel(syntheticImage(0x1000, { imageSize: 0x100n })))).toBe('IMAGE_SIZE_TOO_SMALL');
  });

  it('never crashes on random bytes, raw or gzip-wrapped (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.boolean(), fc.boolean(), async (bytes, wrap, magic) => {
        const body = bytes.slice();
        if (magic && body.length >= 64) new DataView(body.buffer).setUint32(56, 0x644d5241, true);
        const src = wrap ? gzipSync(body) : body;
        try {
          const info = await inspectKernel(src);
          expect(info.header.textOffset % 4096).toBe(0);
        } catch (e) {
          expect(e).toBeInstanceOf(ImageLoadError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never crashes on random bytes after a gzip magic (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 100 }), async (bytes) => {
        try {
          await inspectKernel(Uint8Array.from([0x1f, 0x8b, ...bytes]));
        } catch (e) {
          expect(e).toBeInstanceOf(ImageLoadError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('loadKernel', () => {
  it('loads a raw Image file at the planned address, byte for byte', async () => {
    const img = syntheticImage(0x80000, {}, 7);
    const mem = ram();
    const plan = planFor(img);
    const r = await loadKernel(mem, plan, file('k-raw', img));
    expect(r).toEqual({ address: plan.kernel.loadAddress, size: img.length, compression: 'none' });
    expect(Buffer.from(mem.readBytes(plan.kernel.loadAddress, img.length)).equals(Buffer.from(img))).toBe(true);
  });

  it('inflates a gzip Image into guest memory (file and bytes), honouring text_offset', async () => {
    const img = syntheticImage(0x123457, { textOffset: 0x80000n }, 8);
    const plan = planLayout({ memSize: 32 * MiB, kernel: { textOffset: 0x80000, imageSize: img.length + 0x4000 } });
    for (const src of [file('k.gz', gzipSync(img)), gzipSync(img)]) {
      const mem = ram();
      const r = await loadKernel(mem, plan, src);
      expect(r).toMatchObject({ address: 0x8008_0000n, size: img.length, compression: 'gzip' });
      expect(Buffer.from(mem.readBytes(guestAddress(0x8008_0000), img.length)).equals(Buffer.from(img))).toBe(true);
      expect(mem.readU8(guestAddress(0x8008_0000 + img.length))).toBe(0);
    }
  });

  it('stops a gzip bomb at the planned size with TOO_LARGE', async () => {
    // Header claims a small image, but the stream inflates to 64 MiB of zeros.
    const bomb = new Uint8Array(64 * MiB);
    bomb.set(imageHeader({ imageSize: 0x10000n }));
    const gz = gzipSync(bomb, { level: 9 });
    expect(gz.length).toBeLessThan(200_000);
    const mem = ram();
    const plan = planLayout({ memSize: 32 * MiB, kernel: { textOffset: 0, imageSize: 0x10000 } });
    expect(await codeOf(loadKernel(mem, plan, gz))).toBe('TOO_LARGE');
    // Nothing past the planned kernel range was written.
    expect(mem.readU32(guestAddress(0x8001_0000))).toBe(0);
  });

  it('refuses raw files larger than planned, changed images and corrupt gzip', async () => {
    const img = syntheticImage(0x10000);
    const mem = ram();
    const small = planLayout({ memSize: 32 * MiB, kernel: { textOffset: 0, imageSize: 0x8000 } });
    expect(await codeOf(loadKernel(mem, small, file('k-big', img)))).toBe('TOO_LARGE');
    expect(await codeOf(loadKernel(mem, small, img))).toBe('TOO_LARGE');
    const shifted = planLayout({ memSize: 32 * MiB, kernel: { textOffset: 0x80000, imageSize: img.length + 0x4000 } });
    expect(await codeOf(loadKernel(mem, shifted, img))).toBe('IMAGE_CHANGED');
    const gz = gzipSync(img);
    expect(await codeOf(loadKernel(mem, planFor(img), gz.subarray(0, gz.length - 30)))).toBe('BAD_COMPRESSION');
    expect(await codeOf(loadKernel(mem, planFor(img), join(dir, 'missing')))).toBe('IO_ERROR');
  });

  it('refuses to load into lent memory after revocation', async () => {
    const img = syntheticImage(0x1000);
    const mem = GuestMemory.fromBuffers([{ start: DEFAULT_GUEST_BASE, size: 32 * MiB, mode: 'lent' }]);
    mem.revokeHostAccess();
    expect(await codeOf(loadKernel(mem, planFor(img), img))).toBe('HOST_ACCESS_DENIED');
    expect(await codeOf(loadKernel(mem, planFor(img), gzipSync(img)))).toBe('HOST_ACCESS_DENIED');
    expect(await codeOf(loadKernel(mem, planFor(img), file('k-lent', img)))).toBe('HOST_ACCESS_DENIED');
  });
});

describe('initrd and DTB', () => {
  it('loads the initrd from a file and checks its size', async () => {
    const initrd = pattern(new Uint8Array(0x12345), 4);
    const plan = planFor(syntheticImage(0x1000), { initrdSize: initrd.length });
    const mem = ram();
    const r = loadInitrd(mem, plan, file('initrd', initrd));
    expect(r).toEqual({ address: plan.initrd!.address, size: initrd.length });
    expect(Buffer.from(mem.readBytes(r.address, r.size)).equals(Buffer.from(initrd))).toBe(true);
    expect(await codeOf(() => loadInitrd(mem, plan, file('initrd-big', new Uint8Array(initrd.length + 1))))).toBe('TOO_LARGE');
    expect(await codeOf(() => loadInitrd(mem, plan, new Uint8Array(initrd.length + 1)))).toBe('TOO_LARGE');
    expect(await codeOf(() => loadInitrd(mem, planFor(syntheticImage(0x1000)), initrd))).toBe('INVALID_OPTION');
  });

  it('writes the DTB and zeroes the rest of its window', async () => {
    const plan = planFor(syntheticImage(0x1000));
    const mem = ram();
    mem.fill(plan.dtb.address, plan.dtb.size, 0xaa);
    const dtb = minimalDtb();
    expect(writeDtb(mem, plan, dtb)).toEqual({ address: plan.dtb.address, size: dtb.length });
    expect(Buffer.from(mem.readBytes(plan.dtb.address, dtb.length)).equals(Buffer.from(dtb))).toBe(true);
    expect(mem.readBytes(plan.dtb.address + BigInt(dtb.length) as never, plan.dtb.size - dtb.length).every((b) => b === 0)).toBe(true);
    expect(await codeOf(() => writeDtb(mem, plan, new Uint8Array(4)))).toBe('BAD_DTB');
    expect(await codeOf(() => writeDtb(mem, plan, new Uint8Array(64)))).toBe('BAD_DTB');
    const wrongSize = minimalDtb();
    new DataView(wrongSize.buffer).setUint32(4, 1000, false);
    expect(await codeOf(() => writeDtb(mem, plan, wrongSize))).toBe('BAD_DTB');
    expect(await codeOf(() => writeDtb(mem, plan, minimalDtb(plan.dtb.size + 8)))).toBe('DTB_TOO_LARGE');
  });
});

describe('loadLinux', () => {
  it('plans and loads kernel, initrd and DTB; memory reads back what the plan predicts', async () => {
    const img = syntheticImage(0x200000, {}, 21);
    const initrd = pattern(new Uint8Array(3 * MiB + 17), 22);
    const mem = ram(64 * MiB);
    let seen: LayoutPlan | undefined;
    const r = await loadLinux(mem, {
      memSize: 64 * MiB,
      kernel: file('k2.gz', gzipSync(img)),
      initrd: file('i2', initrd),
      dtb: (plan) => {
        seen = plan;
        return minimalDtb(0x400);
      },
    });
    expect(seen).toBe(r.plan);
    expect(r.kernel).toMatchObject({ address: 0x8000_0000n, size: img.length, compression: 'gzip' });
    expect(r.initrd).toEqual({ address: r.plan.initrd!.address, size: initrd.length });
    expect(r.dtb.address).toBe(r.plan.dtb.address);
    expect(r.plan.dtb.end).toBe(0x8000_0000n + BigInt(64 * MiB));
    expect(Buffer.from(mem.readBytes(r.kernel.address, img.length)).equals(Buffer.from(img))).toBe(true);
    expect(Buffer.from(mem.readBytes(r.initrd!.address, initrd.length)).equals(Buffer.from(initrd))).toBe(true);
    expect(mem.readU32(r.dtb.address)).toBe(0xedfe0dd0); // FDT magic, big-endian bytes read as LE
  });

  it('refuses memory that does not cover the plan', async () => {
    const img = syntheticImage(0x1000);
    const mem = ram(16 * MiB);
    expect(await codeOf(loadLinux(mem, { memSize: 32 * MiB, kernel: img, dtb: minimalDtb() }))).toBe('DOES_NOT_FIT');
  });
});
