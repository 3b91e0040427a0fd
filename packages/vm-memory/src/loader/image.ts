import { ImageLoadError } from './errors.js';

// spec/gunyah-vm-devicetree.md §7.1: the 64-byte little-endian arm64 Image header.
/** Size of the arm64 `Image` header in bytes. */
export const ARM64_IMAGE_HEADER_SIZE = 64;
/** The header magic at offset 0x38, `"ARM\x64"` read as a little-endian u32. */
export const ARM64_IMAGE_MAGIC = 0x644d5241;
/** The `text_offset` to assume for images whose `image_size` is 0 (kernels before 3.17). */
export const ARM64_LEGACY_TEXT_OFFSET = 0x80000;
/** The alignment of the base an `Image` is loaded above (`base + text_offset`). */
export const ARM64_KERNEL_ALIGNMENT = 0x20_0000;

const FLAG_BE = 1n;
const FLAG_PAGE_SHIFT = 1n;
const FLAG_PLACEMENT = 1n << 3n;
const FLAGS_KNOWN = 0xfn;

/** Page size a kernel declares in its header flags (bits 2:1); `0` when unspecified. */
export type KernelPageSize = 0 | 4096 | 16384 | 65536;

/** The decoded, validated header of an arm64 Linux `Image`. */
export interface Arm64ImageHeader {
  /** First instruction word (executable; branches to the kernel start). */
  readonly code0: number;
  /** Second instruction word. */
  readonly code1: number;
  /**
   * Offset of the kernel above its 2 MiB-aligned load base: the header's `text_offset`, or
   * {@link ARM64_LEGACY_TEXT_OFFSET} for a legacy image.
   */
  readonly textOffset: number;
  /** The header's `text_offset` field as written. */
  readonly rawTextOffset: bigint;
  /**
   * Bytes from the load address the kernel needs free, BSS included (`image_size`); 0 for a legacy
   * image, whose needs are only known from its file size.
   */
  readonly imageSize: number;
  /** The raw flags field. */
  readonly flags: bigint;
  /** Kernel page size from the flags. */
  readonly kernelPageSize: KernelPageSize;
  /** Flags bit 3: `near-dram-base` (0) or `anywhere` (1, within the 48-bit physical space). */
  readonly placement: 'near-dram-base' | 'anywhere';
  /** Whether `image_size` is 0 (a kernel older than 3.17): `text_offset` is then taken as 0x80000. */
  readonly legacy: boolean;
  /** The `res5` word: offset of the PE header of an EFI-stub kernel (0 when none). */
  readonly peHeaderOffset: number;
}

/** Options for {@link parseArm64ImageHeader}. */
export interface ParseImageOptions {
  /** The (decompressed) file size, when known: checked against `image_size`. */
  readonly fileSize?: number;
  /** Accept headers with reserved flag bits set (default false: they are refused). */
  readonly allowUnknownFlags?: boolean;
}

/**
 * Decode and validate an arm64 `Image` header (spec/gunyah-vm-devicetree.md §7.1). Checks, in order:
 * length, magic, big-endian flag, reserved flag bits, `text_offset` (a multiple of 4 KiB below 2 MiB;
 * our choice, covering mainline's 0, the legacy 0x80000 and randomised offsets), `image_size`
 * (a safe integer, and at least `fileSize` when given).
 *
 * @example
 * ```ts
 * const h = parseArm64ImageHeader(firstBytes, { fileSize: stat.size });
 * h.textOffset; // 0 for current kernels
 * ```
 * @throws {ImageLoadError} TRUNCATED, BAD_MAGIC, BIG_ENDIAN, UNKNOWN_FLAGS, BAD_TEXT_OFFSET,
 *   BAD_IMAGE_SIZE, IMAGE_SIZE_TOO_SMALL
 */
export function parseArm64ImageHeader(bytes: Uint8Array, options: ParseImageOptions = {}): Arm64ImageHeader {
  if (bytes.byteLength < ARM64_IMAGE_HEADER_SIZE) {
    throw new ImageLoadError('TRUNCATED', `an arm64 Image header is 64 bytes; got ${bytes.byteLength}`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, ARM64_IMAGE_HEADER_SIZE);
  const magic = v.getUint32(56, true);
  if (magic !== ARM64_IMAGE_MAGIC) {
    throw new ImageLoadError('BAD_MAGIC', `not an arm64 Image: magic at 0x38 is 0x${magic.toString(16).padStart(8, '0')}, expected 0x644d5241`);
  }
  const flags = v.getBigUint64(24, true);
  if ((flags & FLAG_BE) !== 0n) throw new ImageLoadError('BIG_ENDIAN', 'the Image is a big-endian kernel; only little-endian is supported');
  if ((flags & ~FLAGS_KNOWN) !== 0n && options.allowUnknownFlags !== true) {
    throw new ImageLoadError('UNKNOWN_FLAGS', `Image flags 0x${flags.toString(16)} set reserved bits 4–63`);
  }
  const rawTextOffset = v.getBigUint64(8, true);
  const rawImageSize = v.getBigUint64(16, true);
  const legacy = rawImageSize === 0n;
  if (!legacy && (rawTextOffset >= BigInt(ARM64_KERNEL_ALIGNMENT) || rawTextOffset % 4096n !== 0n)) {
    throw new ImageLoadError('BAD_TEXT_OFFSET', `text_offset 0x${rawTextOffset.toString(16)} is not a multiple of 4 KiB below 2 MiB`);
  }
  if (rawImageSize > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ImageLoadError('BAD_IMAGE_SIZE', `image_size 0x${rawImageSize.toString(16)} is not a usable size`);
  }
  const imageSize = Number(rawImageSize);
  if (!legacy && options.fileSize !== undefined && options.fileSize > imageSize) {
    throw new ImageLoadError('IMAGE_SIZE_TOO_SMALL', `the Image file holds ${options.fileSize} bytes but its header declares image_size ${imageSize}`);
  }
  const pageBits = Number((flags >> FLAG_PAGE_SHIFT) & 3n);
  const kernelPageSize = ([0, 4096, 16384, 65536] as const)[pageBits] ?? 0;
  return {
    code0: v.getUint32(0, true),
    code1: v.getUint32(4, true),
    textOffset: legacy ? ARM64_LEGACY_TEXT_OFFSET : Number(rawTextOffset),
    rawTextOffset,
    imageSize,
    flags,
    kernelPageSize,
    placement: (flags & FLAG_PLACEMENT) !== 0n ? 'anywhere' : 'near-dram-base',
    legacy,
    peHeaderOffset: v.getUint32(60, true),
  };
}

/** How a kernel file is stored. */
export type ImageCompression = 'none' | 'gzip';

/**
 * Recognise the container of a kernel file from its first bytes: `gzip` (1f 8b), `none` (anything
 * else that may be a raw `Image`).
 *
 * @throws {ImageLoadError} UNSUPPORTED_COMPRESSION for zstd, xz, lz4, bzip2 and EFI zboot images
 */
export function detectCompression(head: Uint8Array): ImageCompression {
  const b = (i: number): number => head[i] ?? -1;
  if (b(0) === 0x1f && b(1) === 0x8b) return 'gzip';
  const unsupported = (name: string): never => {
    throw new ImageLoadError('UNSUPPORTED_COMPRESSION', `the kernel is ${name}-compressed; only raw and gzip Images are supported`);
  };
  if (b(0) === 0x28 && b(1) === 0xb5 && b(2) === 0x2f && b(3) === 0xfd) unsupported('zstd');
  if (b(0) === 0xfd && b(1) === 0x37 && b(2) === 0x7a && b(3) === 0x58 && b(4) === 0x5a && b(5) === 0x00) unsupported('xz');
  if (b(0) === 0x02 && b(1) === 0x21 && b(2) === 0x4c && b(3) === 0x18) unsupported('lz4');
  if (b(0) === 0x42 && b(1) === 0x5a && b(2) === 0x68) unsupported('bzip2');
  // EFI zboot: a PE image ("MZ") whose bytes 4..7 read "zimg".
  if (b(0) === 0x4d && b(1) === 0x5a && b(4) === 0x7a && b(5) === 0x69 && b(6) === 0x6d && b(7) === 0x67) unsupported('EFI zboot');
  return 'none';
}
