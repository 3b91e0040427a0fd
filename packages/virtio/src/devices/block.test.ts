import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { GuestMemory } from '@gunyah-ts/vm-memory';
import fc from 'fast-check';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DATA, RAM_BASE, RAM_SIZE, ga, makeMemory, probe, type DriverQueue } from '../../test/helpers/driver.js';
import { VIRTIO_F, VIRTIO_MMIO, VIRTQ_DESC_F, featureBit } from '../constants.js';
import { VirtioError } from '../errors.js';
import { VirtioMmioTransport } from '../transport.js';
import { SECTOR_SIZE, VIRTIO_BLK_F, VIRTIO_BLK_S, VIRTIO_BLK_T, VirtioBlock, type VirtioBlockOptions } from './block.js';

const { WRITE } = VIRTQ_DESC_F;
const SECTORS = 64;
let dir: string;
let path: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'virtio-blk-'));
  path = join(dir, 'disk.img');
  const img = new Uint8Array(SECTORS * SECTOR_SIZE + 100); // a partial tail sector is not exposed
  for (let i = 0; i < img.length; i++) img[i] = (i * 7 + (i >> 9)) & 0xff;
  writeFileSync(path, img);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const HDR = DATA;
const BUF = DATA + 0x1000n;
const STATUS = DATA + 0x800n;

function setup(opts: VirtioBlockOptions = {}) {
  const mem = makeMemory();
  const blk = VirtioBlock.open(path, opts);
  const errors: { code: string }[] = [];
  const t = new VirtioMmioTransport(blk, { memory: mem, trigger: () => {}, onError: (e) => errors.push(e) });
  const [q] = probe(t, mem) as [DriverQueue];
  /** Submit one request; returns status byte and used length. */
  const request = (type: number, sector: bigint, data: { len: number; write?: boolean; split?: number } | undefined, statusLen = 1) => {
    mem.writeU32(ga(HDR), type);
    mem.writeU32(ga(HDR + 4n), 0);
    mem.writeU64(ga(HDR + 8n), sector);
    mem.writeU8(ga(STATUS), 0xee);
    const descs: { addr: bigint; len: number; flags?: number }[] = [{ addr: HDR, len: 16 }];
    if (data) {
      const flags = data.write ? 0 : WRITE;
      const split = data.split ?? data.len;
      descs.push({ addr: BUF, len: split, flags });
      if (split < data.len) descs.push({ addr: BUF + BigInt(split) + 0x100n, len: data.len - split, flags });
    }
    descs.push({ addr: STATUS, len: statusLen, flags: WRITE });
    q.push(q.chain(0, descs));
    t.write(VIRTIO_MMIO.QUEUE_NOTIFY, 4, 0n);
    const used = q.takeUsed();
    expect(used).toHaveLength(1);
    return { status: mem.readU8(ga(STATUS + BigInt(statusLen - 1))), len: used[0]!.len };
  };
  return { mem, blk, t, q, request, errors };
}

const fileBytes = (off: number, len: number): Uint8Array => new Uint8Array(readFileSync(path).subarray(off, off + len));

describe('VirtioBlock', () => {
  it('exposes capacity, seg_max, blk_size and features', () => {
    const { blk, t } = setup();
    expect(blk.capacity).toBe(BigInt(SECTORS));
    expect(t.read(0x100, 8)).toBe(BigInt(SECTORS));
    expect(t.read(0x10c, 4)).toBe(254n);
    expect(t.read(0x114, 4)).toBe(512n);
    expect(blk.features & featureBit(VIRTIO_BLK_F.FLUSH)).not.toBe(0n);
    expect(blk.features & featureBit(VIRTIO_BLK_F.RO)).toBe(0n);
    blk.close();
    blk.close();
  });

  it('reads sectors straight into guest buffers, across segments', () => {
    const { mem, request, blk } = setup();
    const r = request(VIRTIO_BLK_T.IN, 3n, { len: 2048, split: 700 });
    expect(r).toEqual({ status: VIRTIO_BLK_S.OK, len: 2049 });
    const got = new Uint8Array(2048);
    got.set(mem.readBytes(ga(BUF), 700), 0);
    got.set(mem.readBytes(ga(BUF + 700n + 0x100n), 1348), 700);
    expect(got).toEqual(fileBytes(3 * 512, 2048));
    expect(blk.stats).toMatchObject({ reads: 1, bytesRead: 2048 });
  });

  it('writes sectors and FLUSH calls fsync on the file', () => {
    const syncs: number[] = [];
    const { mem, request, blk } = setup({
      sync: (fd) => {
        syncs.push(fd);
        fsyncSync(fd);
      },
    });
    const data = Uint8Array.from({ length: 1024 }, (_, i) => 255 - (i & 0xff));
    mem.writeAll(ga(BUF), data);
    expect(request(VIRTIO_BLK_T.OUT, 10n, { len: 1024, write: true })).toEqual({ status: VIRTIO_BLK_S.OK, len: 1 });
    expect(syncs).toEqual([]); // no fsync per write
    expect(request(VIRTIO_BLK_T.FLUSH, 0n, undefined)).toEqual({ status: VIRTIO_BLK_S.OK, len: 1 });
    expect(syncs).toEqual([blk.fd]);
    expect(blk.stats).toMatchObject({ writes: 1, bytesWritten: 1024, flushes: 1 });
    // the data is in the file as another open file description sees it
    const fd = openSync(path, 'r');
    const b = Buffer.alloc(1024);
    readSync(fd, b, 0, 1024, 10 * 512);
    closeSync(fd);
    expect(new Uint8Array(b)).toEqual(data);
  });

  it('answers IOERR when fsync fails', () => {
    const { request } = setup({
      sync: () => {
        throw Object.assign(new Error('EIO'), { code: 'EIO' });
      },
    });
    expect(request(VIRTIO_BLK_T.FLUSH, 0n, undefined).status).toBe(VIRTIO_BLK_S.IOERR);
  });

  it('answers GET_ID with the serial, NUL padded', () => {
    const { mem, request } = setup({ serial: 'disk-0' });
    const r = request(VIRTIO_BLK_T.GET_ID, 0n, { len: 20 });
    expect(r).toEqual({ status: VIRTIO_BLK_S.OK, len: 21 });
    const id = mem.readBytes(ga(BUF), 20);
    expect(new TextDecoder().decode(id.subarray(0, 6))).toBe('disk-0');
    expect([...id.subarray(6)]).toEqual(Array(14).fill(0));
  });

  it('accepts a 20-byte serial (no terminator) and refuses bad serials', () => {
    const { mem, request } = setup({ serial: 'ABCDEFGHIJKLMNOPQRST' });
    request(VIRTIO_BLK_T.GET_ID, 0n, { len: 20 });
    expect(new TextDecoder().decode(mem.readBytes(ga(BUF), 20))).toBe('ABCDEFGHIJKLMNOPQRST');
    expect(() => VirtioBlock.open(path, { serial: 'x'.repeat(21) })).toThrow(VirtioError);
    expect(() => VirtioBlock.open(path, { serial: 'é' })).toThrow(VirtioError);
    expect(() => VirtioBlock.open(path, { queueSize: 3 })).toThrow(VirtioError);
  });

  it('reads and writes the last sector; one past capacity is IOERR', () => {
    const { request, mem } = setup();
    expect(request(VIRTIO_BLK_T.IN, BigInt(SECTORS - 1), { len: 512 }).status).toBe(VIRTIO_BLK_S.OK);
    expect(mem.readBytes(ga(BUF), 512)).toEqual(fileBytes((SECTORS - 1) * 512, 512));
    expect(request(VIRTIO_BLK_T.IN, BigInt(SECTORS), { len: 512 }).status).toBe(VIRTIO_BLK_S.IOERR);
    expect(request(VIRTIO_BLK_T.IN, BigInt(SECTORS - 1), { len: 1024 }).status).toBe(VIRTIO_BLK_S.IOERR);
    expect(request(VIRTIO_BLK_T.OUT, BigInt(SECTORS), { len: 512, write: true }).status).toBe(VIRTIO_BLK_S.IOERR);
    expect(request(VIRTIO_BLK_T.IN, 0xffff_ffff_ffff_ffffn, { len: 512 }).status).toBe(VIRTIO_BLK_S.IOERR);
    expect(request(VIRTIO_BLK_T.IN, 1n << 53n, { len: 512 }).status).toBe(VIRTIO_BLK_S.IOERR);
    // the 100-byte tail past the last whole sector is untouched
    expect(readFileSync(path).length).toBe(SECTORS * 512 + 100);
  });

  it('answers IOERR for lengths that are not whole sectors', () => {
    const { request, blk } = setup();
    const before = readFileSync(path);
    expect(request(VIRTIO_BLK_T.IN, 0n, { len: 511 }).status).toBe(VIRTIO_BLK_S.IOERR);
    expect(request(VIRTIO_BLK_T.OUT, 0n, { len: 513, write: true }).status).toBe(VIRTIO_BLK_S.IOERR);
    expect(readFileSync(path)).toEqual(before);
    expect(blk.stats.errors).toBe(2);
  });

  it('answers UNSUPP for unknown types and IOERR for a short header', () => {
    const { request, mem, q, t } = setup();
    expect(request(99, 0n, undefined).status).toBe(VIRTIO_BLK_S.UNSUPP);
    expect(request(VIRTIO_BLK_T.GET_ID + 3, 0n, undefined).status).toBe(VIRTIO_BLK_S.UNSUPP);
    q.push(
      q.chain(0, [
        { addr: HDR, len: 8 },
        { addr: STATUS, len: 1, flags: WRITE },
      ]),
    );
    t.notify(0);
    expect(q.takeUsed()).toEqual([{ id: 0, len: 1 }]);
    expect(mem.readU8(ga(STATUS))).toBe(VIRTIO_BLK_S.IOERR);
  });

  it('marks the device broken for a request without a status byte', () => {
    const { q, t, errors } = setup();
    q.push(q.chain(0, [{ addr: HDR, len: 16 }]));
    t.notify(0);
    expect(t.broken).toBe(true);
    expect(errors.map((e) => e.code)).toEqual(['BAD_REQUEST']);
  });

  describe('read-only', () => {
    it('offers F_RO, refuses writes with IOERR and leaves the file alone', () => {
      let syncs = 0;
      const { request, mem, blk } = setup({ readOnly: true, sync: () => void syncs++ });
      expect(blk.features & featureBit(VIRTIO_BLK_F.RO)).not.toBe(0n);
      const before = readFileSync(path);
      mem.fill(ga(BUF), 512, 0xaa);
      expect(request(VIRTIO_BLK_T.OUT, 0n, { len: 512, write: true }).status).toBe(VIRTIO_BLK_S.IOERR);
      expect(readFileSync(path)).toEqual(before);
      expect(request(VIRTIO_BLK_T.IN, 0n, { len: 512 }).status).toBe(VIRTIO_BLK_S.OK);
      expect(request(VIRTIO_BLK_T.FLUSH, 0n, undefined).status).toBe(VIRTIO_BLK_S.OK);
      expect(syncs).toBe(0);
    });
  });

  it('fails with FILE_ERROR for missing files and bad fds', () => {
    expect(() => VirtioBlock.open(join(dir, 'nope'))).toThrow(expect.objectContaining({ code: 'FILE_ERROR' }));
    expect(() => new VirtioBlock(-1)).toThrow(expect.objectContaining({ code: 'FILE_ERROR' }));
  });

  it('does not close an fd it does not own', () => {
    const fd = openSync(path, 'r+');
    const blk = new VirtioBlock(fd);
    blk.close();
    expect(() => closeSync(fd)).not.toThrow();
  });

  it('processes every available request in one notification', () => {
    const { mem, q, t, blk } = setup({ queueSize: 16 });
    for (let i = 0; i < 5; i++) {
      const hdr = DATA + BigInt(i * 32);
      mem.writeU32(ga(hdr), VIRTIO_BLK_T.IN);
      mem.writeU64(ga(hdr + 8n), BigInt(i));
      q.chain(i * 3, [
        { addr: hdr, len: 16 },
        { addr: BUF + BigInt(i * 512), len: 512, flags: WRITE },
        { addr: STATUS + BigInt(i), len: 1, flags: WRITE },
      ]);
    }
    // 3 descriptors per request in a 16-entry table: 5 requests fit
    for (let i = 0; i < 5; i++) q.push(i * 3);
    t.notify(0);
    expect(q.takeUsed().map((u) => u.len)).toEqual(Array(5).fill(513));
    expect(blk.stats.reads).toBe(5);
    for (let i = 0; i < 5; i++) expect(mem.readBytes(ga(BUF + BigInt(i * 512)), 512)).toEqual(fileBytes(i * 512, 512));
  });
  it('answers IOERR when the file shrank below the request', () => {
    const { request } = setup();
    truncateSync(path, 8 * 512);
    expect(request(VIRTIO_BLK_T.IN, 10n, { len: 512 }).status).toBe(VIRTIO_BLK_S.IOERR);
    expect(request(VIRTIO_BLK_T.IN, 7n, { len: 512 }).status).toBe(VIRTIO_BLK_S.OK);
  });

  it('serves a request described by an indirect table with EVENT_IDX', () => {
    const { mem, q, t, blk } = setup();
    expect(t.negotiatedFeatures & featureBit(VIRTIO_F.INDIRECT_DESC)).not.toBe(0n);
    expect(t.negotiatedFeatures & featureBit(VIRTIO_F.EVENT_IDX)).not.toBe(0n);
    const table = DATA + 0x4000n;
    mem.writeU32(ga(HDR), VIRTIO_BLK_T.IN);
    mem.writeU64(ga(HDR + 8n), 2n);
    q.setDesc(0, { addr: HDR, len: 16, flags: VIRTQ_DESC_F.NEXT, next: 1 }, table);
    q.setDesc(1, { addr: BUF, len: 512, flags: WRITE | VIRTQ_DESC_F.NEXT, next: 2 }, table);
    q.setDesc(2, { addr: STATUS, len: 1, flags: WRITE }, table);
    q.setDesc(7, { addr: table, len: 48, flags: VIRTQ_DESC_F.INDIRECT });
    q.setUsedEvent(0);
    q.push(7);
    t.notify(0);
    expect(q.takeUsed()).toEqual([{ id: 7, len: 513 }]);
    expect(mem.readU8(ga(STATUS))).toBe(VIRTIO_BLK_S.OK);
    expect(mem.readBytes(ga(BUF), 512)).toEqual(fileBytes(2 * 512, 512));
    expect(t.interruptStatus).toBe(1);
    expect(blk.stats.reads).toBe(1);
  });

  it('marks the device broken when its guest memory is revoked', () => {
    const mem = GuestMemory.fromBuffers([{ start: RAM_BASE, size: RAM_SIZE, mode: 'lent' }]);
    const blk = VirtioBlock.open(path);
    const t = new VirtioMmioTransport(blk, { memory: mem, trigger: () => {} });
    const [q] = probe(t, mem) as [DriverQueue];
    q.push(
      q.chain(0, [
        { addr: HDR, len: 16 },
        { addr: STATUS, len: 1, flags: WRITE },
      ]),
    );
    mem.revokeHostAccess();
    expect(() => t.notify(0)).not.toThrow();
    expect(t.broken).toBe(true);
    expect(t.lastError?.code).toBe('MEMORY');
    blk.close();
  });
  it('property: random request headers and lengths get a valid status and keep the file consistent', () => {
    const { mem, request } = setup();
    const size = readFileSync(path).length;
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(0, 1, 4, 8), fc.nat({ max: 0xffff_ffff })),
        fc.oneof(fc.bigInt({ min: 0n, max: BigInt(SECTORS + 2) }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
        fc.oneof(fc.constantFrom(0, 512, 1024, 4096), fc.integer({ min: 0, max: 4096 })),
        fc.boolean(),
        fc.integer({ min: 1, max: 4096 }),
        fc.integer({ min: 1, max: 3 }),
        (type, sector, len, write, split, statusLen) => {
          const data = Uint8Array.from({ length: len }, (_, i) => (i * 13 + Number(sector & 0xffn)) & 0xff);
          const cut = Math.min(split, len);
          if (write) {
            // the request helper places the second data segment 0x100 bytes after the first one ends
            mem.writeAll(ga(BUF), data.subarray(0, cut));
            mem.writeAll(ga(BUF + BigInt(cut) + 0x100n), data.subarray(cut));
          }
          const r = request(type, sector, len > 0 ? { len, write, split: cut } : undefined, statusLen);
          expect([VIRTIO_BLK_S.OK, VIRTIO_BLK_S.IOERR, VIRTIO_BLK_S.UNSUPP]).toContain(r.status);
          // the data length the device sees: IN = writable bytes before the status byte, OUT = readable after the header
          const devLen = type === VIRTIO_BLK_T.IN ? (write ? 0 : len) + statusLen - 1 : write ? len : 0;
          const inRange = devLen % 512 === 0 && sector <= BigInt(SECTORS) && Number(sector) * 512 + devLen <= SECTORS * 512;
          if (r.status === VIRTIO_BLK_S.OK && (type === VIRTIO_BLK_T.IN || type === VIRTIO_BLK_T.OUT)) {
            expect(inRange).toBe(true);
          }
          if (r.status === VIRTIO_BLK_S.OK && type === VIRTIO_BLK_T.IN && !write && statusLen === 1 && len > 0) {
            const got = new Uint8Array(len);
            got.set(mem.readBytes(ga(BUF), cut));
            got.set(mem.readBytes(ga(BUF + BigInt(cut) + 0x100n), len - cut), cut);
            expect(got).toEqual(fileBytes(Number(sector) * 512, len));
            expect(r.len).toBe(len + 1);
          }
          if (r.status === VIRTIO_BLK_S.OK && type === VIRTIO_BLK_T.OUT && write && len > 0) {
            expect(fileBytes(Number(sector) * 512, len)).toEqual(data);
          }
          expect(readFileSync(path).length).toBe(size);
        },
      ),
      { numRuns: 300 },
    );
  });
});
