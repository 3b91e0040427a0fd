import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { GuestAddress } from '../address.js';
import { GuestMemoryError } from '../errors.js';
import type { GuestMemory } from '../memory.js';
import { ImageLoadError, LayoutError } from './errors.js';
import { ARM64_IMAGE_HEADER_SIZE, detectCompression, parseArm64ImageHeader, type Arm64ImageHeader, type ImageCompression, type ParseImageOptions } from './image.js';
import { planLayout, type LayoutOptions, type LayoutPlan } from './layout.js';

/** A kernel, initrd or DTB: a file path or the bytes themselves. */
export type ImageSource = string | Uint8Array;

/** What {@link inspectKernel} found. */
export interface KernelInfo {
  /** The validated header. */
  readonly header: Arm64ImageHeader;
  /** How the file is stored. */
  readonly compression: ImageCompression;
  /** Bytes of the source as given (compressed size for gzip). */
  readonly sourceSize: number;
  /**
   * Size of the raw `Image`: exact for uncompressed sources and for legacy gzip images (which are
   * inflated once to measure), otherwise `undefined` (the header's `image_size` bounds it).
   */
  readonly imageFileSize: number | undefined;
}

/** Limit on inflated output when measuring a legacy gzip kernel (no `image_size` to bound it). */
const LEGACY_INFLATE_LIMIT = 1 << 30;
const GZIP_CHUNK = 1 << 20;

function ioError(what: string, e: unknown): ImageLoadError {
  return new ImageLoadError('IO_ERROR', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

function readHead(path: string, n: number): { head: Uint8Array; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError(`opening ${path}`, e);
  }
  try {
    const size = fstatSync(fd).size;
    const head = new Uint8Array(Math.min(n, size));
    let got = 0;
    while (got < head.length) {
      const k = readSync(fd, head, got, head.length - got, got);
      if (k === 0) break;
      got += k;
    }
    return { head: head.subarray(0, got), size };
  } catch (e) {
    throw ioError(`reading ${path}`, e);
  } finally {
    closeSync(fd);
  }
}

function fileSize(path: string): number {
  try {
    const fd = openSync(path, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw ioError(`stat ${path}`, e);
  }
}

function gunzipStream(source: ImageSource): Readable {
  const gz = createGunzip({ chunkSize: GZIP_CHUNK });
  const input = typeof source === 'string' ? createReadStream(source) : Readable.from([source]);
  input.on('error', (e: Error) => gz.destroy(e));
  gz.on('close', () => input.destroy());
  input.pipe(gz);
  return gz;
}

function inflateError(e: unknown): Error {
  if (e instanceof ImageLoadError || e instanceof GuestMemoryError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) return new ImageLoadError('BAD_COMPRESSION', `corrupt gzip data: ${(e as Error).message}`, { cause: e });
  return ioError('reading the kernel', e);
}

/**
 * Stream-inflate `source`, handing each chunk to `sink` until it returns `false`. Returns the bytes
 * inflated. The inflater is stopped when `sink` declines or `limit` is passed.
 */
async function inflate(source: ImageSource, limit: number, sink: (chunk: Uint8Array, offset: number) => boolean): Promise<number> {
  const gz = gunzipStream(source);
  let total = 0;
  try {
    for await (const chunk of gz as AsyncIterable<Uint8Array>) {
      if (chunk.byteLength > limit - total) {
        throw new ImageLoadError('TOO_LARGE', `the gzip kernel inflates to more than ${limit} bytes`);
      }
      const more = sink(chunk, total);
      total += chunk.byteLength;
      if (!more) break;
    }
  } catch (e) {
    throw inflateError(e);
  } finally {
    gz.destroy();
  }
  return total;
}

/**
 * Read and validate a kernel's header without loading it: raw `Image` files are read for their first
 * 64 bytes; gzip files are inflated just far enough (legacy gzip images, whose header gives no size,
 * are inflated to the end to measure them, up to 1 GiB).
 *
 * @example
 * ```ts
 * const info = await inspectKernel('/boot/vmlinuz-6.1.0-arm64');
 * const plan = planLayout({ memSize, kernel: info.header, kernelFileSize: info.imageFileSize });
 * ```
 * @throws {ImageLoadError} IO_ERROR, UNSUPPORTED_COMPRESSION, BAD_COMPRESSION, TOO_LARGE, and the
 *   header codes of {@link parseArm64ImageHeader}
 */
export async function inspectKernel(source: ImageSource, options: Omit<ParseImageOptions, 'fileSize'> = {}): Promise<KernelInfo> {
  const { head, size } = typeof source === 'string' ? readHead(source, ARM64_IMAGE_HEADER_SIZE) : { head: source.subarray(0, ARM64_IMAGE_HEADER_SIZE), size: source.byteLength };
  const compression = detectCompression(head);
  if (compression === 'none') {
    const header = parseArm64ImageHeader(head, { ...options, fileSize: size });
    return { header, compression, sourceSize: size, imageFileSize: size };
  }
  const first = new Uint8Array(ARM64_IMAGE_HEADER_SIZE);
  let have = 0;
  await inflate(source, Number.MAX_SAFE_INTEGER, (chunk) => {
    const n = Math.min(chunk.byteLength, first.length - have);
    first.set(chunk.subarray(0, n), have);
    have += n;
    return have < first.length;
  });
  const header = parseArm64ImageHeader(first.subarray(0, have), options);
  let imageFileSize: number | undefined;
  if (header.legacy) {
    imageFileSize = await inflate(source, LEGACY_INFLATE_LIMIT, () => true);
  }
  return { header, compression, sourceSize: size, imageFileSize };
}

/** What a load step wrote. */
export interface LoadedRange {
  /** First guest address written. */
  readonly address: GuestAddress;
  /** Bytes written. */
  readonly size: number;
}

/** What {@link loadKernel} wrote. */
export interface LoadedKernel extends LoadedRange {
  /** How the source was stored (gzip sources are inflated into guest memory). */
  readonly compression: ImageCompression;
}

function memoryError(what: string, e: unknown, limit: number): unknown {
  if (e instanceof GuestMemoryError && e.code === 'SOURCE_TOO_LARGE') {
    return new ImageLoadError('TOO_LARGE', `${what} is larger than the ${limit} bytes planned for it`, { cause: e });
  }
  if (e instanceof GuestMemoryError && e.code === 'IO_ERROR') return ioError(`reading ${what}`, e.cause);
  return e;
}

/**
 * Copy the kernel into guest memory at `plan.kernel.loadAddress`, inflating gzip sources on the fly
 * (output bounded by the planned size, so a gzip bomb fails with `TOO_LARGE` instead of exhausting
 * memory). The header is read back from guest memory and must match the one planned with.
 *
 * @throws {ImageLoadError} TOO_LARGE, BAD_COMPRESSION, UNSUPPORTED_COMPRESSION, IMAGE_CHANGED,
 *   IO_ERROR, and the header codes of {@link parseArm64ImageHeader}
 * @throws {GuestMemoryError} when the planned range is not host-accessible guest memory
 */
export async function loadKernel(memory: GuestMemory, plan: LayoutPlan, source: ImageSource): Promise<LoadedKernel> {
  const addr = plan.kernel.loadAddress;
  const limit = plan.kernel.size;
  const head = typeof source === 'string' ? readHead(source, 8).head : source.subarray(0, 8);
  const compression = detectCompression(head);
  let size: number;
  if (compression === 'gzip') {
    if (!memory.containsRange(addr, limit)) {
      throw new GuestMemoryError('OUT_OF_RANGE', `kernel range [0x${addr.toString(16)}, +0x${limit.toString(16)}) is not guest memory`, { address: addr, length: limit });
    }
    size = await inflate(source, limit, (chunk, offset) => {
      memory.writeAll((addr + BigInt(offset)) as GuestAddress, chunk);
      return true;
    });
  } else if (typeof source === 'string') {
    try {
      size = memory.loadFile(source, addr, limit);
    } catch (e) {
      throw memoryError('the kernel', e, limit);
    }
  } else {
    if (source.byteLength > limit) throw new ImageLoadError('TOO_LARGE', `the kernel (${source.byteLength} bytes) is larger than the ${limit} bytes planned for it`);
    memory.writeAll(addr, source);
    size = source.byteLength;
  }
  const header = parseArm64ImageHeader(memory.readBytes(addr, Math.min(size, ARM64_IMAGE_HEADER_SIZE)), { fileSize: size, allowUnknownFlags: true });
  if (header.textOffset !== plan.kernel.textOffset || (header.imageSize !== 0 && header.imageSize > plan.kernel.size)) {
    throw new ImageLoadError('IMAGE_CHANGED', 'the kernel loaded differs from the one the layout was planned for');
  }
  return { address: addr, size, compression };
}

/**
 * Copy the initrd into guest memory at `plan.initrd.address` (straight from the file into guest
 * memory). The file must not be larger than planned.
 *
 * @throws {ImageLoadError} TOO_LARGE, IO_ERROR
 * @throws {LayoutError} INVALID_OPTION when the plan has no initrd
 * @throws {GuestMemoryError} when the planned range is not host-accessible guest memory
 */
export function loadInitrd(memory: GuestMemory, plan: LayoutPlan, source: ImageSource): LoadedRange {
  const r = plan.initrd;
  if (r === undefined) throw new LayoutError('INVALID_OPTION', 'the layout plan has no initrd');
  if (typeof source === 'string') {
    try {
      return { address: r.address, size: memory.loadFile(source, r.address, r.size) };
    } catch (e) {
      throw memoryError('the initrd', e, r.size);
    }
  }
  if (source.byteLength > r.size) throw new ImageLoadError('TOO_LARGE', `the initrd (${source.byteLength} bytes) is larger than the ${r.size} bytes planned for it`);
  memory.writeAll(r.address, source);
  return { address: r.address, size: source.byteLength };
}

const FDT_MAGIC = 0xd00dfeed;

/**
 * Write a flattened devicetree into the planned DTB window; the rest of the window is zeroed (room
 * for the Resource Manager's overlay). Checks the FDT magic and that `totalsize` matches the bytes.
 *
 * @throws {ImageLoadError} BAD_DTB when the bytes are not an FDT
 * @throws {LayoutError} DTB_TOO_LARGE when the DTB is larger than the window
 * @throws {GuestMemoryError} when the window is not host-accessible guest memory
 */
export function writeDtb(memory: GuestMemory, plan: LayoutPlan, dtb: Uint8Array): LoadedRange {
  if (dtb.byteLength < 8) throw new ImageLoadError('BAD_DTB', `a DTB has a 40-byte header; got ${dtb.byteLength} bytes`);
  const v = new DataView(dtb.buffer, dtb.byteOffset, dtb.byteLength);
  if (v.getUint32(0, false) !== FDT_MAGIC) throw new ImageLoadError('BAD_DTB', 'the DTB does not start with the FDT magic 0xd00dfeed');
  const total = v.getUint32(4, false);
  if (total !== dtb.byteLength) throw new ImageLoadError('BAD_DTB', `the DTB header says totalsize ${total}, but ${dtb.byteLength} bytes were given`);
  if (dtb.byteLength > plan.dtb.size) {
    throw new LayoutError('DTB_TOO_LARGE', `the DTB (${dtb.byteLength} bytes) does not fit the ${plan.dtb.size}-byte window planned for it`);
  }
  memory.fill(plan.dtb.address, plan.dtb.size, 0);
  memory.writeAll(plan.dtb.address, dtb);
  return { address: plan.dtb.address, size: dtb.byteLength };
}

/** Input of {@link loadLinux}. */
export interface LoadLinuxOptions extends Omit<LayoutOptions, 'kernel' | 'kernelFileSize' | 'initrdSize' | 'dtbSize'> {
  /** The kernel `Image` (raw or gzip). */
  readonly kernel: ImageSource;
  /** The initrd, if any. */
  readonly initrd?: ImageSource;
  /**
   * The DTB, or a function building it from the plan (the DTB usually names the initrd range and
   * the memory size, so it is built once the layout is known).
   */
  readonly dtb: Uint8Array | ((plan: LayoutPlan) => Uint8Array);
}

/** What {@link loadLinux} did. */
export interface LoadLinuxResult {
  /** The layout used. */
  readonly plan: LayoutPlan;
  /** The kernel's header. */
  readonly header: Arm64ImageHeader;
  /** The kernel as written. */
  readonly kernel: LoadedKernel;
  /** The initrd as written. */
  readonly initrd: LoadedRange | undefined;
  /** The DTB as written. */
  readonly dtb: LoadedRange;
}

/**
 * Inspect the kernel, plan the layout, and load kernel, initrd and DTB into `memory`: the whole
 * "load Image, initrd, DTB" step of the boot order. `memory` must cover the planned RAM range.
 *
 * @example
 * ```ts
 * const mem = GuestMemory.createMemfd([{ start: DEFAULT_GUEST_BASE, size: 256 << 20 }]);
 * const { plan } = await loadLinux(mem, { memSize: 256 << 20, kernel: 'Image', initrd: 'initrd.img',
 *   dtb: (plan) => buildDtb(plan) });
 * ```
 * @throws {ImageLoadError} as {@link inspectKernel}, {@link loadKernel}, {@link loadInitrd}, {@link writeDtb}
 * @throws {LayoutError} as {@link planLayout}; DOES_NOT_FIT when `memory` does not cover the RAM range
 * @throws {GuestMemoryError} when guest memory refuses an access
 */
export async function loadLinux(memory: GuestMemory, options: LoadLinuxOptions): Promise<LoadLinuxResult> {
  const info = await inspectKernel(options.kernel);
  const initrdSize = options.initrd === undefined ? 0 : typeof options.initrd === 'string' ? fileSize(options.initrd) : options.initrd.byteLength;
  const { kernel: _k, initrd: _i, dtb: _d, ...layout } = options;
  const plan = planLayout({
    ...layout,
    kernel: info.header,
    ...(info.imageFileSize !== undefined ? { kernelFileSize: info.imageFileSize } : {}),
    initrdSize,
    ...(typeof options.dtb === 'function' ? {} : { dtbSize: options.dtb.byteLength }),
  });
  if (!memory.containsRange(plan.memory.address, plan.memory.size)) {
    throw new LayoutError('DOES_NOT_FIT', `guest memory does not cover the planned RAM [0x${plan.memory.address.toString(16)}, 0x${plan.memory.end.toString(16)})`);
  }
  const kernel = await loadKernel(memory, plan, options.kernel);
  const initrd = options.initrd === undefined || plan.initrd === undefined ? undefined : loadInitrd(memory, plan, options.initrd);
  const dtbBytes = typeof options.dtb === 'function' ? options.dtb(plan) : options.dtb;
  const dtb = writeDtb(memory, plan, dtbBytes);
  return { plan, header: info.header, kernel, initrd, dtb };
}
