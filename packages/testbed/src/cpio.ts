import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { TestbedError } from './errors.js';

// newc ("070701") cpio layout, as read by the Linux initramfs unpacker: a 110-byte ASCII header of
// the magic and 13 eight-digit hex fields (ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
// devminor, rdevmajor, rdevminor, namesize, check), the NUL-terminated name, padding to 4 bytes, the
// data, padding to 4 bytes. The archive ends with an entry named "TRAILER!!!".

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const MAX_FIELD = 0xffffffff;

/** Builds the 110-byte newc header text for one entry. Exported for tests. @internal */
export function newcHeader(fields: {
  ino: number; mode: number; nlink: number; filesize: number; rdevmajor: number; rdevminor: number; namesize: number;
}): string {
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  return '070701' + [fields.ino, fields.mode, 0, 0, fields.nlink, 0, fields.filesize, 0, 0,
    fields.rdevmajor, fields.rdevminor, fields.namesize, 0].map(hex).join('');
}

/**
 * Streams a newc cpio archive to a file. Entries are owned by root, mtime 0 (reproducible), and
 * parent directories are created automatically (mode 0755) before their children.
 */
export class CpioWriter {
  readonly #fd: number;
  #ino = 1;
  #offset = 0;
  #finished = false;
  readonly #dirs = new Set<string>(['']);
  readonly #names = new Set<string>();

  constructor(path: string) {
    this.#fd = openSync(path, 'w', 0o644);
  }

  /** Adds a directory (and its missing parents). */
  dir(path: string, mode = 0o755): void {
    const name = this.#checkName(path);
    if (this.#dirs.has(name)) return;
    this.#parents(name);
    this.#entry(name, S_IFDIR | (mode & 0o7777), 2, new Uint8Array(0));
    this.#dirs.add(name);
  }

  /** Adds a regular file with the given content. */
  file(path: string, data: Uint8Array | string, mode = 0o644): void {
    const name = this.#checkName(path);
    this.#parents(name);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.#entry(name, S_IFREG | (mode & 0o7777), 1, bytes);
  }

  /** Adds a regular file copied from `source` on the build machine (streamed, not loaded whole). */
  fileFrom(path: string, source: string, mode = 0o644): void {
    const name = this.#checkName(path);
    this.#parents(name);
    const src = openSync(source, 'r');
    try {
      const size = fstatSync(src).size;
      this.#header(name, S_IFREG | (mode & 0o7777), 1, size);
      const buf = Buffer.allocUnsafe(1 << 20);
      let done = 0;
      while (done < size) {
        const n = readSync(src, buf, 0, Math.min(buf.length, size - done), done);
        if (n === 0) throw new TestbedError('BAD_CPIO', `${source} shrank while being archived`);
        this.#write(buf.subarray(0, n));
        done += n;
      }
      this.#pad();
    } finally {
      closeSync(src);
    }
  }

  /** Adds a symbolic link `path` → `target`. */
  symlink(path: string, target: string): void {
    const name = this.#checkName(path);
    this.#parents(name);
    this.#entry(name, S_IFLNK | 0o777, 1, new TextEncoder().encode(target));
  }

  /** Adds a character device node. */
  charDevice(path: string, major: number, minor: number, mode = 0o600): void {
    const name = this.#checkName(path);
    this.#parents(name);
    this.#header(name, S_IFCHR | (mode & 0o7777), 1, 0, major, minor);
  }

  /** Writes the trailer and closes the file. Returns the archive size in bytes. */
  finish(): number {
    if (!this.#finished) {
      this.#header('TRAILER!!!', 0, 1, 0, 0, 0, true);
      this.#finished = true;
      closeSync(this.#fd);
    }
    return this.#offset;
  }

  #checkName(path: string): string {
    const name = path.replace(/^\/+/, '').replace(/\/+$/, '');
    if (name === '' || name.split('/').some((p) => p === '' || p === '.' || p === '..') || name.includes('\0')) {
      throw new TestbedError('BAD_CPIO', `invalid archive path "${path}"`);
    }
    if (this.#finished) throw new TestbedError('BAD_CPIO', 'archive already finished');
    return name;
  }

  #parents(name: string): void {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) this.dir(parts.slice(0, i).join('/'));
    if (this.#names.has(name)) throw new TestbedError('BAD_CPIO', `duplicate archive path "${name}"`);
    this.#names.add(name);
  }

  #entry(name: string, mode: number, nlink: number, data: Uint8Array): void {
    this.#header(name, mode, nlink, data.length);
    this.#write(data);
    this.#pad();
  }

  #header(name: string, mode: number, nlink: number, size: number, rmaj = 0, rmin = 0, trailer = false): void {
    if (size > MAX_FIELD) throw new TestbedError('BAD_CPIO', `${name}: ${size} bytes is too large for newc cpio`);
    const nameBytes = new TextEncoder().encode(name + '\0');
    const ino = trailer ? 0 : this.#ino++;
    this.#write(new TextEncoder().encode(newcHeader({ ino, mode, nlink, filesize: size, rdevmajor: rmaj, rdevminor: rmin, namesize: nameBytes.length })));
    this.#write(nameBytes);
    this.#pad();
  }

  #write(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.#fd, bytes, done, bytes.length - done);
    this.#offset += bytes.length;
  }

  #pad(): void {
    const rem = this.#offset % 4;
    if (rem !== 0) this.#write(new Uint8Array(4 - rem));
  }
}
