import { Worker } from 'node:worker_threads';
import { nativeBindingAvailable, pageSize, pread } from '@gunyah-ts/sys';
import { describe, expect, it } from 'vitest';
import { pattern } from '../helpers/fixtures.js';
import { guestAddress } from '../../src/address.js';
import { MemfdBacking } from '../../src/backing.js';
import { GuestMemoryError } from '../../src/errors.js';
import { GuestMemory } from '../../src/memory.js';

const native = nativeBindingAvailable();
if (!native) console.warn('skipping memfd tests: build the addon with `npm run build:native -w @gunyah-ts/sys`');

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof GuestMemoryError) return e.code;
    throw e;
  }
  return undefined;
}

describe.skipIf(!native)('memfd-backed guest memory', () => {
  it('maps each region at its own offset of one memfd, visible through the fd', () => {
    const page = pageSize();
    const mem = GuestMemory.createMemfd([
      { start: 0x8000_0000n, size: 16 * page },
      { start: 0x8000_0000n + BigInt(16 * page), size: 4 * page, mode: 'lent', label: 'dtb' },
    ]);
    try {
      const [a, b] = mem.regions;
      expect(a?.fd).toBe(b?.fd);
      expect(a?.fileOffset).toBe(0);
      expect(b?.fileOffset).toBe(16 * page);
      expect(typeof a?.hostAddress).toBe('bigint');
      expect(Number(a!.hostAddress! % BigInt(page))).toBe(0);
      const data = pattern(new Uint8Array(2 * page), 2);
      // Written across the region boundary, read back through pread on the memfd.
      mem.writeAll(guestAddress(0x8000_0000n + BigInt(15 * page)), data);
      const back = new Uint8Array(2 * page);
      expect(pread(a!.fd!, back, 15 * page)).toBe(2 * page);
      expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
      expect(mem.describe()).toEqual([
        { start: 0x8000_0000n, size: 16 * page, mode: 'shared', fd: a!.fd, fileOffset: 0 },
        { start: 0x8000_0000n + BigInt(16 * page), size: 4 * page, mode: 'lent', fd: a!.fd, fileOffset: 16 * page, label: 'dtb' },
      ]);
    } finally {
      mem.close();
    }
  });

  it('refuses sizes that are not page multiples', () => {
    expect(code(() => GuestMemory.createMemfd([{ start: 0, size: 100 }]))).toBe('INVALID_REGION');
    expect(code(() => GuestMemory.createMemfd([]))).toBe('EMPTY_MEMORY');
    expect(code(() => MemfdBacking.create(0))).toBe('INVALID_REGION');
    expect(code(() => MemfdBacking.fromFd(-1, { size: pageSize() }))).toBe('BACKING_FAILED');
    expect(code(() => MemfdBacking.fromFd(0, { size: pageSize(), fileOffset: 1 }))).toBe('INVALID_REGION');
    // Overlap is still checked, and the memfd is closed again.
    expect(code(() => GuestMemory.createMemfd([{ start: 0, size: 2 * pageSize() }, { start: pageSize(), size: pageSize() }]))).toBe('OVERLAPPING_REGIONS');
  });

  it('unmaps lent regions on revoke and maps them again with contents kept', () => {
    const page = pageSize();
    const mem = GuestMemory.createMemfd([{ start: 0, size: 4 * page, mode: 'lent' }, { start: 4 * page, size: 4 * page }]);
    try {
      mem.writeU64(guestAddress(8), 0x1122334455667788n);
      const stale = mem.hostView(guestAddress(0), 16);
      mem.revokeHostAccess({ unmap: true });
      const r = mem.regions[0]!;
      expect(r.hostAddress).toBeUndefined();
      expect(r.backing.bytes).toBeUndefined();
      // The old view was detached by munmap: it reads as empty instead of faulting.
      expect(stale.length).toBe(0);
      expect(code(() => mem.readU64(guestAddress(8)))).toBe('HOST_ACCESS_DENIED');
      mem.writeU8(guestAddress(4 * page), 1); // shared region still fine
      mem.restoreHostAccess();
      expect(typeof r.hostAddress).toBe('bigint');
      expect(mem.readU64(guestAddress(8))).toBe(0x1122334455667788n);
    } finally {
      mem.close();
    }
    expect(code(() => mem.readU8(guestAddress(0)))).toBe('BACKING_UNMAPPED');
    expect(code(() => mem.regions[0]!.backing.remap())).toBe('BACKING_UNMAPPED');
  });

  it('a standalone MemfdBacking owns its fd', () => {
    const b = MemfdBacking.create(2 * pageSize(), { name: 'standalone' });
    const mem = new GuestMemory([{ start: 0x1000, backing: b }]);
    mem.writeU32(guestAddress(0x1000), 0xabcdef01);
    const out = new Uint8Array(4);
    pread(b.fd, out, 0);
    expect(new DataView(out.buffer).getUint32(0, true)).toBe(0xabcdef01);
    mem.close();
    expect(b.closed).toBe(true);
    expect(() => pread(b.fd, out, 0)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('a worker maps the same memory from fd and offset', async () => {
    const page = pageSize();
    const mem = GuestMemory.createMemfd([{ start: 0x4000_0000n, size: 8 * page }, { start: 0x5000_0000n, size: 8 * page }]);
    try {
      mem.writeU32(guestAddress(0x5000_0000n + 12n), 0x600dcafe);
      const desc = mem.describe();
      // The worker uses only @gunyah-ts/sys: it re-mmaps the memfd at the region's file offset.
      const src = `
        const { parentPort, workerData } = require('node:worker_threads');
        import('@gunyah-ts/sys').then((sys) => {
          const d = workerData[1];
          const ab = sys.mmap(d.fd, d.size, undefined, undefined, d.fileOffset);
          const v = new DataView(ab);
          const seen = v.getUint32(12, true);
          v.setUint32(16, 0xfeedf00d, true);
          sys.munmap(ab);
          parentPort.postMessage(seen);
        }).catch((e) => parentPort.postMessage(String(e)));`;
      const seen = await new Promise((resolve, reject) => {
        const w = new Worker(src, { eval: true, workerData: desc });
        w.once('message', resolve);
        w.once('error', reject);
      });
      expect(seen).toBe(0x600dcafe);
      expect(mem.readU32(guestAddress(0x5000_0000n + 16n))).toBe(0xfeedf00d);
      // The same descriptors build a second, non-owning memory in this thread.
      const view = GuestMemory.fromDescriptors(desc);
      expect(view.readU32(guestAddress(0x5000_0000n + 12n))).toBe(0x600dcafe);
      view.close();
      expect(mem.readU32(guestAddress(0x5000_0000n + 12n))).toBe(0x600dcafe);
    } finally {
      mem.close();
    }
  });
});
