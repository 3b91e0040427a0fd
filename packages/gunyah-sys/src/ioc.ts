/**
 * Linux `_IOC` request-number encoding as used on arm64 (and every architecture with the generic
 * layout): bits 0–7 number, 8–15 type, 16–29 size, 30–31 direction.
 * See spec/gunyah-uapi.md §2.
 *
 * @module
 */

/** Direction bits of an ioctl request number. */
export const IOC_DIR = {
  /** No data transfer (`_IO`). */
  NONE: 0,
  /** Userspace writes, kernel reads (`_IOW`). */
  WRITE: 1,
  /** Kernel writes, userspace reads (`_IOR`). */
  READ: 2,
  /** Both (`_IOWR`). */
  READ_WRITE: 3,
} as const;

/** One of the {@link IOC_DIR} values. */
export type IocDir = (typeof IOC_DIR)[keyof typeof IOC_DIR];

const NRBITS = 8;
const TYPEBITS = 8;
const SIZEBITS = 14;
const NRSHIFT = 0;
const TYPESHIFT = NRSHIFT + NRBITS;
const SIZESHIFT = TYPESHIFT + TYPEBITS;
const DIRSHIFT = SIZESHIFT + SIZEBITS;

function charCode(type: string | number): number {
  const t = typeof type === 'string' ? (type.length === 1 ? type.charCodeAt(0) : NaN) : type;
  if (!Number.isInteger(t) || t < 0 || t > 0xff) throw new RangeError(`ioctl type must be one byte, got ${String(type)}`);
  return t;
}

/**
 * Encode a request number (`_IOC(dir, type, nr, size)`). `type` is the magic character (`'G'`) or
 * its code. Returns an unsigned 32-bit number.
 *
 * @throws RangeError when a field does not fit its bits
 */
export function ioc(dir: IocDir, type: string | number, nr: number, size: number): number {
  if (!Number.isInteger(nr) || nr < 0 || nr > 0xff) throw new RangeError(`ioctl nr must be one byte, got ${nr}`);
  if (!Number.isInteger(size) || size < 0 || size >= 1 << SIZEBITS) throw new RangeError(`ioctl size must fit 14 bits, got ${size}`);
  if (!Number.isInteger(dir) || dir < 0 || dir > 3) throw new RangeError(`ioctl dir must be 0..3, got ${dir}`);
  return ((dir << DIRSHIFT) | (size << SIZESHIFT) | (charCode(type) << TYPESHIFT) | (nr << NRSHIFT)) >>> 0;
}

/** `_IO(type, nr)`: no argument data. */
export function io(type: string | number, nr: number): number {
  return ioc(IOC_DIR.NONE, type, nr, 0);
}

/** `_IOW(type, nr, size)`: the kernel reads `size` bytes from the argument. */
export function iow(type: string | number, nr: number, size: number): number {
  return ioc(IOC_DIR.WRITE, type, nr, size);
}

/** `_IOR(type, nr, size)`: the kernel writes `size` bytes to the argument. */
export function ior(type: string | number, nr: number, size: number): number {
  return ioc(IOC_DIR.READ, type, nr, size);
}

/** `_IOWR(type, nr, size)`: both directions. */
export function iowr(type: string | number, nr: number, size: number): number {
  return ioc(IOC_DIR.READ_WRITE, type, nr, size);
}

/** The fields of a request number. */
export interface IocFields {
  /** Direction bits. */
  readonly dir: IocDir;
  /** Type (magic) byte. */
  readonly type: number;
  /** Number within the type. */
  readonly nr: number;
  /** Argument size in bytes. */
  readonly size: number;
}

/** Split a request number into its fields (the inverse of {@link ioc}). */
export function decodeIoc(request: number): IocFields {
  if (!Number.isInteger(request) || request < 0 || request > 0xffffffff) throw new RangeError(`request must be a u32, got ${request}`);
  return {
    dir: ((request >>> DIRSHIFT) & 3) as IocDir,
    type: (request >>> TYPESHIFT) & 0xff,
    nr: (request >>> NRSHIFT) & 0xff,
    size: (request >>> SIZESHIFT) & ((1 << SIZEBITS) - 1),
  };
}
