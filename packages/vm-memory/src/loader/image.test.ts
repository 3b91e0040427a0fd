import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { imageHeader } from '../../test/helpers/fixtures.js';
import { ImageLoadError } from './errors.js';
import { ARM64_LEGACY_TEXT_OFFSET, detectCompression, parseArm64ImageHeader, type ParseImageOptions } from './image.js';

function code(bytes: Uint8Array, opts?: ParseImageOptions): string | undefined {
  try {
    parseArm64ImageHeader(bytes, opts);
  } catch (e) {
    if (e instanceof ImageLoadError) return e.code;
    throw e;
  }
  return undefined;
}

describe('parseArm64ImageHeader', () => {
  it('decodes every field of a current kernel header', () => {
    const h = parseArm64ImageHeader(imageHeader({ textOffset: 0n, imageSize: 0x1f40000n, flags: 0b1010n, res5: 0x40 }), { fileSize: 0x1a00000 });
    expect(h).toMatchObject({
      code0: 0x91005a4d,
      code1: 0x14000000,
      textOffset: 0,
      imageSize: 0x1f40000,
      kernelPageSize: 4096,
      placement: 'anywhere',
      legacy: false,
      peHeaderOffset: 0x40,
    });
    expect(parseArm64ImageHeader(imageHeader({ flags: 0b0100n })).kernelPageSize).toBe(16384);
    expect(parseArm64ImageHeader(imageHeader({ flags: 0b0110n })).kernelPageSize).toBe(65536);
    expect(parseArm64ImageHeader(imageHeader({ flags: 0n }))).toMatchObject({ kernelPageSize: 0, placement: 'near-dram-base' });
  });

  it('applies the image_size == 0 rule: text_offset 0x80000', () => {
    const h = parseArm64ImageHeader(imageHeader({ imageSize: 0n, textOffset: 0x12345n }), { fileSize: 1 << 24 });
    expect(h.legacy).toBe(true);
    expect(h.textOffset).toBe(ARM64_LEGACY_TEXT_OFFSET);
    expect(h.rawTextOffset).toBe(0x12345n);
  });

  it('accepts a 4 KiB-multiple text_offset below 2 MiB, including 0x80000 and 0x1ff000', () => {
    expect(parseArm64ImageHeader(imageHeader({ textOffset: 0x80000n })).textOffset).toBe(0x80000);
    expect(parseArm64ImageHeader(imageHeader({ textOffset: 0x1ff000n })).textOffset).toBe(0x1ff000);
  });

  it.each([
    ['truncated (63 bytes)', imageHeader().subarray(0, 63), undefined, 'TRUNCATED'],
    ['empty', new Uint8Array(0), undefined, 'TRUNCATED'],
    ['wrong magic', imageHeader({ magic: 0x644d5242 }), undefined, 'BAD_MAGIC'],
    ['big-endian', imageHeader({ flags: 0b1011n }), undefined, 'BIG_ENDIAN'],
    ['reserved flag bit 4', imageHeader({ flags: 0b11010n }), undefined, 'UNKNOWN_FLAGS'],
    ['reserved flag bit 63', imageHeader({ flags: 1n << 63n }), undefined, 'UNKNOWN_FLAGS'],
    ['text_offset 2 MiB', imageHeader({ textOffset: 0x200000n }), undefined, 'BAD_TEXT_OFFSET'],
    ['text_offset not 4 KiB aligned', imageHeader({ textOffset: 0x80001n }), undefined, 'BAD_TEXT_OFFSET'],
    ['text_offset huge', imageHeader({ textOffset: 1n << 63n }), undefined, 'BAD_TEXT_OFFSET'],
    ['image_size above 2^53', imageHeader({ imageSize: 1n << 60n }), undefined, 'BAD_IMAGE_SIZE'],
    ['file longer than image_size', imageHeader({ imageSize: 0x1000n }), { fileSize: 0x1001 }, 'IMAGE_SIZE_TOO_SMALL'],
  ] as const)('refuses %s', (_n, bytes, opts, expected) => {
    expect(code(bytes, opts)).toBe(expected);
  });

  it('allows reserved flags on request', () => {
    expect(parseArm64ImageHeader(imageHeader({ flags: 1n << 40n }), { allowUnknownFlags: true }).flags).toBe(1n << 40n);
  });

  it('reads the header inside a larger buffer at an offset', () => {
    const big = new Uint8Array(200);
    big.set(imageHeader({ imageSize: 0x5000n }), 100);
    expect(parseArm64ImageHeader(big.subarray(100)).imageSize).toBe(0x5000);
  });

  it('never crashes on random bytes: a header or an ImageLoadError (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), fc.option(fc.nat(), { nil: undefined }), (bytes, fileSize) => {
        try {
          const h = parseArm64ImageHeader(bytes, fileSize === undefined ? {} : { fileSize });
          expect(bytes.length).toBeGreaterThanOrEqual(64);
          expect(h.textOffset % 4096).toBe(0);
          expect(h.textOffset).toBeLessThan(0x200000);
          expect(Number.isSafeInteger(h.imageSize)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(ImageLoadError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never crashes on mutated valid headers (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), (muts) => {
        const h = imageHeader({ magic: 0x644d5241 });
        for (const [i, b] of muts) h[i] = b;
        try {
          parseArm64ImageHeader(h);
        } catch (e) {
          expect(e).toBeInstanceOf(ImageLoadError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('detectCompression', () => {
  it('recognises gzip and refuses other compressors', () => {
    expect(detectCompression(Uint8Array.of(0x1f, 0x8b, 8))).toBe('gzip');
    expect(detectCompression(imageHeader())).toBe('none');
    expect(detectCompression(new Uint8Array(0))).toBe('none');
    for (const head of [
      [0x28, 0xb5, 0x2f, 0xfd],
      [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
      [0x02, 0x21, 0x4c, 0x18],
      [0x42, 0x5a, 0x68],
      [0x4d, 0x5a, 0, 0, 0x7a, 0x69, 0x6d, 0x67],
    ]) {
      expect(() => detectCompression(Uint8Array.from(head))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_COMPRESSION' }));
    }
  });
});
