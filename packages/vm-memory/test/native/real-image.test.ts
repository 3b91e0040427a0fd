import { createReadStream, createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { nativeBindingAvailable, pread } from '@gunyah-ts/sys';
import { afterAll, describe, expect, it } from 'vitest';
import { minimalDtb, pattern } from '../helpers/fixtures.js';
import { GuestMemory } from '../../src/memory.js';
import { inspectKernel, loadLinux } from '../../src/loader/load.js';
import { DEFAULT_GUEST_BASE } from '../../src/loader/layout.js';

/** A Debian arm64 kernel Image: $GUNYAH_DEBIAN_IMAGE, else the testbed cache. */
function findImage(): string | undefined {
  const env = process.env['GUNYAH_DEBIAN_IMAGE'];
  if (env !== undefined && env !== '' && existsSync(env)) return env;
  const cache = join(dirname(fileURLToPath(import.meta.url)), '../../../testbed/cache');
  const stack = existsSync(cache) ? [cache] : [];
  for (let depth = 0; stack.length > 0 && depth < 20000; depth++) {
    const d = stack.pop() as string;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile() && e.name.startsWith('vmlinuz-')) return p;
    }
  }
  return undefined;
}

const image = findImage();
const native = nativeBindingAvailable();
if (image === undefined) {
  console.warn('skipping real arm64 Image tests: set GUNYAH_DEBIAN_IMAGE to a Debian arm64 vmlinuz, or let the testbed cache one under packages/testbed/cache/');
} else if (!native) {
  console.warn('skipping real arm64 Image tests: the @gunyah-ts/sys addon is not built');
}

const MiB = 1 << 20;
const tmp = mkdtempSync(join(tmpdir(), 'vm-memory-real-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function preadAll(fd: number, offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = pread(fd, out.subarray(got), offset + got);
    if (n === 0) break;
    got += n;
  }
  return out.subarray(0, got);
}

describe.skipIf(image === undefined || !native)('a real Debian arm64 Image', () => {
  const path = image as string;

  it('has a valid header', async () => {
    const info = await inspectKernel(path);
    const size = statSync(path).size;
    expect(info.compression === 'none' || info.compression === 'gzip').toBe(true);
    expect(info.header.legacy).toBe(false);
    expect(info.header.imageSize).toBeGreaterThanOrEqual(info.imageFileSize ?? size);
    expect(info.header.textOffset).toBe(0);
  });

  for (const variant of ['as shipped', 'gzip'] as const) {
    it(`loads Image (${variant}) + initrd + DTB into memfd memory where the plan says, byte for byte`, async () => {
      let kernelPath = path;
      if (variant === 'gzip') {
        kernelPath = join(tmp, 'Image.gz');
        await pipeline(createReadStream(path), createGzip({ level: 1 }), createWriteStream(kernelPath));
      }
      const initrd = pattern(new Uint8Array(4 * MiB + 123), 77);
      writeFileSync(join(tmp, 'initrd'), initrd);
      const memSize = 256 * MiB;
      const mem = GuestMemory.createMemfd([{ start: DEFAULT_GUEST_BASE, size: memSize, label: 'ram' }]);
      try {
        const dtb = minimalDtb(0x800);
        const r = await loadLinux(mem, { memSize, kernel: kernelPath, initrd: join(tmp, 'initrd'), dtb: () => dtb });
        const { plan } = r;
        expect(plan.kernel.loadAddress).toBe(DEFAULT_GUEST_BASE);
        expect(plan.kernel.entry).toBe(DEFAULT_GUEST_BASE);
        expect(plan.entryAtBase).toBe(true);
        expect(plan.kernel.size).toBeGreaterThanOrEqual(r.header.imageSize);
        expect(plan.dtb.end).toBe(DEFAULT_GUEST_BASE + BigInt(memSize));
        expect(plan.initrd!.end <= plan.dtb.address).toBe(true);
        expect(plan.initrd!.address >= plan.kernel.end).toBe(true);
        // Read back through the memfd itself (not through the mapping used to write).
        const region = mem.regions[0]!;
        const fd = region.fd!;
        const off = (a: bigint): number => region.fileOffset! + Number(a - region.start);
        const raw = readFileSync(path);
        expect(r.kernel.size).toBe(raw.length);
        expect(preadAll(fd, off(plan.kernel.loadAddress), raw.length).equals(raw)).toBe(true);
        expect(preadAll(fd, off(plan.initrd!.address), initrd.length).equals(Buffer.from(initrd))).toBe(true);
        expect(preadAll(fd, off(plan.dtb.address), dtb.length).equals(Buffer.from(dtb))).toBe(true);
        // The page after the kernel file is untouched (BSS is the kernel's to clear).
        expect(mem.readBytes(plan.kernel.loadAddress + BigInt(raw.length) as never, 64).every((b) => b === 0)).toBe(true);
      } finally {
        mem.close();
      }
    }, 120_000);
  }
});
