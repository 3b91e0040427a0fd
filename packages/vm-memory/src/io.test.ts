import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { pattern } from '../test/helpers/fixtures.js';
import { guestAddress, type GuestAddress } from './address.js';
import { GuestMemoryError } from './errors.js';
import { GuestMemory } from './memory.js';

const dir = mkdtempSync(join(tmpdir(), 'vm-memory-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const A = (n: number | bigint): GuestAddress => guestAddress(n);

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof GuestMemoryError) return e.code;
    throw e;
  }
  return undefined;
}

function twoRegions(): GuestMemory {
  // Two adjacent regions so file loads cross a boundary.
  return GuestMemory.fromBuffers([
    { start: 0x10000, size: 0x3000 },
    { start: 0x13000, size: 0x5000 },
  ]);
}

describe('files', () => {
  it('loadFile copies a file across a region boundary byte for byte', () => {
    const data = pattern(new Uint8Array(0x6000), 3);
    const path = join(dir, 'blob');
    writeFileSync(path, data);
    const m = twoRegions();
    expect(m.loadFile(path, A(0x11000))).toBe(0x6000);
    expect(Buffer.from(m.readBytes(A(0x11000), 0x6000)).equals(Buffer.from(data))).toBe(true);
  });

  it('loadFile refuses a file that does not fit, before reading it', async () => {
    const path = join(dir, 'big');
    writeFileSync(path, new Uint8Array(0x2001).fill(0xee));
    const m = twoRegions();
    expect(await codeOf(() => m.loadFile(path, A(0x16000)))).toBe('SOURCE_TOO_LARGE');
    expect(m.readU8(A(0x16000))).toBe(0);
    expect(await codeOf(() => m.loadFile(path, A(0x10000), 0x2000))).toBe('SOURCE_TOO_LARGE');
    expect(m.loadFile(path, A(0x15fff))).toBe(0x2001);
    expect(await codeOf(() => m.loadFile(join(dir, 'missing'), A(0x10000)))).toBe('IO_ERROR');
    expect(await codeOf(() => m.loadFile(path, A(0x100)))).toBe('OUT_OF_RANGE');
  });

  it('loads an empty file as 0 bytes', () => {
    const path = join(dir, 'empty');
    writeFileSync(path, new Uint8Array(0));
    expect(twoRegions().loadFile(path, A(0x10000))).toBe(0);
  });

  it('writeFromFd stops at end of file; readToFd writes guest bytes out', () => {
    const data = pattern(new Uint8Array(0x1800), 9);
    const src = join(dir, 'src');
    writeFileSync(src, data);
    const m = twoRegions();
    const fd = openSync(src, 'r');
    try {
      expect(m.writeFromFd(fd, A(0x12800), 0x4000, 0)).toBe(0x1800);
      expect(m.writeFromFd(fd, A(0x12800), 0x10, 0x1800)).toBe(0);
    } finally {
      closeSync(fd);
    }
    const dst = join(dir, 'dst');
    const out = openSync(dst, 'w');
    try {
      expect(m.readToFd(A(0x12800), 0x1800, out, 0)).toBe(0x1800);
    } finally {
      closeSync(out);
    }
    expect(Buffer.from(readFileSync(dst)).equals(Buffer.from(data))).toBe(true);
    expect(() => m.readToFd(A(0x17000), 0x2000, 1)).toThrow(GuestMemoryError);
    expect(() => m.writeFromFd(-5, A(0x10000), 4)).toThrow(expect.objectContaining({ code: 'IO_ERROR' }));
  });
});

describe('streams', () => {
  it('writeFromStream copies chunks across regions and counts bytes', async () => {
    const data = pattern(new Uint8Array(0x5000), 5);
    const chunks = [data.subarray(0, 7), data.subarray(7, 0x2fff), data.subarray(0x2fff)];
    const m = twoRegions();
    expect(await m.writeFromStream(Readable.from(chunks), A(0x10800))).toBe(0x5000);
    expect(Buffer.from(m.readBytes(A(0x10800), 0x5000)).equals(Buffer.from(data))).toBe(true);
  });

  it('writeFromStream stops a stream that exceeds the limit', async () => {
    const m = twoRegions();
    let pulled = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        pulled++;
        yield new Uint8Array(0x1000).fill(1);
      }
    }
    expect(await codeOf(m.writeFromStream(endless(), A(0x10000), 0x2800))).toBe('SOURCE_TOO_LARGE');
    expect(pulled).toBe(3);
    expect(m.readU8(A(0x127ff))).toBe(1);
    expect(m.readU8(A(0x12800))).toBe(0);
    // Default limit: the contiguous memory from addr.
    expect(await codeOf(m.writeFromStream(endless(), A(0x17800)))).toBe('SOURCE_TOO_LARGE');
  });

  it('writeFromStream reports stream failures and text chunks as IO_ERROR', async () => {
    const m = twoRegions();
    const failing = new Readable({
      read() {
        this.destroy(new Error('boom'));
      },
    });
    expect(await codeOf(m.writeFromStream(failing, A(0x10000)))).toBe('IO_ERROR');
    expect(await codeOf(m.writeFromStream(Readable.from(['text']), A(0x10000)))).toBe('IO_ERROR');
  });

  it('readToStream honours backpressure and copies each chunk', async () => {
    const m = GuestMemory.fromBuffers([{ start: 0, size: 0x300000 }]);
    const data = pattern(new Uint8Array(0x280000), 11);
    m.writeAll(A(0), data);
    const got: Uint8Array[] = [];
    const sink = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        got.push(new Uint8Array(chunk));
        setImmediate(cb);
      },
    });
    expect(await m.readToStream(A(0), data.length, sink)).toBe(data.length);
    await new Promise<void>((r) => sink.end(r));
    expect(Buffer.concat(got).equals(Buffer.from(data))).toBe(true);
    expect(got.length).toBe(3);
  });

  it('readToStream fails when the sink errors', async () => {
    const m = GuestMemory.fromBuffers([{ start: 0, size: 0x300000 }]);
    const sink = new Writable({
      highWaterMark: 1,
      write(_c, _e, cb) {
        setImmediate(() => cb(new Error('disk full')));
      },
    });
    sink.on('error', () => {});
    expect(await codeOf(m.readToStream(A(0), 0x300000, sink))).toBe('IO_ERROR');
    expect(await codeOf(m.readToStream(A(0x2fffff), 2, sink))).toBe('OUT_OF_RANGE');
  });
});
