/**
 * Why a kernel image (or initrd, or DTB) could not be parsed or loaded:
 *
 * - `TRUNCATED`: fewer than 64 bytes, so no complete arm64 `Image` header.
 * - `BAD_MAGIC`: the header lacks the `ARM\x64` magic at offset 0x38 (not an arm64 `Image`).
 * - `BIG_ENDIAN`: flags bit 0 says big-endian; only little-endian kernels are supported.
 * - `UNKNOWN_FLAGS`: flags bits 4–63 (reserved) are set.
 * - `BAD_TEXT_OFFSET`: `text_offset` is not a multiple of 4 KiB below 2 MiB.
 * - `BAD_IMAGE_SIZE`: `image_size` is not a safe integer.
 * - `IMAGE_SIZE_TOO_SMALL`: the file is longer than the `image_size` it declares.
 * - `UNSUPPORTED_COMPRESSION`: a compression other than gzip (zstd, xz, lz4, bzip2, EFI zboot).
 * - `BAD_COMPRESSION`: corrupt gzip data.
 * - `TOO_LARGE`: the file (or its decompressed form) does not fit the space planned for it.
 * - `IMAGE_CHANGED`: the header read back from guest memory differs from the one planned with.
 * - `BAD_DTB`: the DTB does not start with the FDT magic or its `totalsize` is wrong.
 * - `IO_ERROR`: the file could not be read (the original error is the `cause`).
 */
export type ImageLoadErrorCode =
  | 'TRUNCATED'
  | 'BAD_MAGIC'
  | 'BIG_ENDIAN'
  | 'UNKNOWN_FLAGS'
  | 'BAD_TEXT_OFFSET'
  | 'BAD_IMAGE_SIZE'
  | 'IMAGE_SIZE_TOO_SMALL'
  | 'UNSUPPORTED_COMPRESSION'
  | 'BAD_COMPRESSION'
  | 'TOO_LARGE'
  | 'IMAGE_CHANGED'
  | 'BAD_DTB'
  | 'IO_ERROR';

/**
 * A kernel, initrd or DTB could not be parsed or loaded. Compare {@link ImageLoadError.code}.
 */
export class ImageLoadError extends Error {
  /** Always `'ImageLoadError'`. */
  override readonly name = 'ImageLoadError';
  /** What went wrong. */
  readonly code: ImageLoadErrorCode;

  /**
   * @param code - what went wrong
   * @param message - a sentence for people
   * @param options - `cause`
   */
  constructor(code: ImageLoadErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Why a memory layout could not be planned:
 *
 * - `INVALID_OPTION`: a size or offset that is not a non-negative safe integer, or a missing value.
 * - `MISALIGNED`: the base or kernel offset is not 2 MiB aligned, or a size/offset not page aligned.
 * - `DOES_NOT_FIT`: the kernel, initrd or DTB does not fit in memory.
 * - `OVERLAP`: two of kernel, initrd and DTB overlap.
 * - `DTB_TOO_LARGE`: the DTB (or its reserved size) is above 2 MiB, or the DTB is larger than the
 *   space reserved for it.
 * - `DTB_CROSSES_2MIB`: the DTB's reserved window crosses a 2 MiB boundary.
 * - `INITRD_WINDOW`: kernel and initrd do not fit one 1 GiB-aligned 32 GiB window.
 */
export type LayoutErrorCode = 'INVALID_OPTION' | 'MISALIGNED' | 'DOES_NOT_FIT' | 'OVERLAP' | 'DTB_TOO_LARGE' | 'DTB_CROSSES_2MIB' | 'INITRD_WINDOW';

/**
 * A memory layout could not be planned. The message names the objects and addresses involved, so a
 * CLI can print it as is.
 */
export class LayoutError extends Error {
  /** Always `'LayoutError'`. */
  override readonly name = 'LayoutError';
  /** What went wrong. */
  readonly code: LayoutErrorCode;

  /**
   * @param code - what went wrong
   * @param message - a sentence for people
   */
  constructor(code: LayoutErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Why a kernel command line was refused:
 *
 * - `INVALID_CHARACTER`: a character outside printable ASCII (0x20–0x7e).
 * - `EMPTY_KEY`: an empty parameter name.
 * - `INVALID_KEY`: a parameter name containing a space, `=` or `"`.
 * - `INVALID_VALUE`: a value containing `"` (values with spaces are quoted for you), or an empty value list.
 * - `TOO_LARGE`: the command line would exceed its capacity.
 * - `INVALID_CAPACITY`: a capacity that is not a positive safe integer.
 */
export type CmdlineErrorCode = 'INVALID_CHARACTER' | 'EMPTY_KEY' | 'INVALID_KEY' | 'INVALID_VALUE' | 'TOO_LARGE' | 'INVALID_CAPACITY';

/** A kernel command line was refused. Compare {@link CmdlineError.code}. */
export class CmdlineError extends Error {
  /** Always `'CmdlineError'`. */
  override readonly name = 'CmdlineError';
  /** What went wrong. */
  readonly code: CmdlineErrorCode;

  /**
   * @param code - what went wrong
   * @param message - a sentence for people
   */
  constructor(code: CmdlineErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
