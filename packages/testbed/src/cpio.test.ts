import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CpioWriter, newcHeader } from './cpio.js';
import { TestbedError } from './errors.js';

const dir = mkdtempSync(join(tmpdir(), 'testbed-cpio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmp = (): string => join(dir, `a${n++}.cpio`);

interface Entry { name: string; mode: number; size: number; rdev: [number, number]; data: Buffer; ino: number; nlink: number }

/** Independent newc reader for the tests: checks magic, alignment and the trailer. */
function readNewc(buf: Buffer): Entry[] {
  const out: Entry[] = [];
  let off = 0;
  for (;;) {
    expect(off % 4).toBe(0);
    expect(buf.toString('latin1', off, off + 6)).toBe('070701');
    const f = (i: number): number => parseInt(buf.toString('latin1', off + 6 + i * 8, off + 14 + i * 8), 16);
    const namesize = f(11);
    const size = f(6);
    const name = buf.toString('utf8', off + 110, off + 110 + namesize - 1);
    expect(buf[off + 110 + namesize - 1]).toBe(0);
    let p = off + 110 + namesize;
    p = (p + 3) & ~3;
    const data = buf.subarray(p, p + size);
    p = (p + size + 3) & ~3;
    if (name === 'TRAILER!!!') {
      expect(p).toBe(buf.length);
      return out;
    }
    out.push({ name, mode: f(1), size, rdev: [f(9), f(10)], data: Buffer.from(data), ino: f(0), nlink: f(4) });
    expect(f(2)).toBe(0); // uid root
    expect(f(3)).toBe(0); // gid root
    off = p;
  }
}

describe('newcHeader', () => {
  it('is 110 characters: magic and 13 eight-digit hex fields', () => {
    const h = newcHeader({ ino: 1, mode: 0o100644, nlink: 1, filesize: 0x1234, rdevmajor: 5, rdevminor: 1, namesize: 5 });
    expect(h).toHaveLength(110);
    expect(h).toBe('070701' + '00000001' + '000081a4' + '00000000' + '00000000' + '00000001' + '00000000' + '00001234'
      + '00000000' + '00000000' + '00000005' + '00000001' + '00000005' + '00000000');
  });
});

describe('CpioWriter', () => {
  it('writes directories, files, symlinks and device nodes with parents first', () => {
    const path = tmp();
    const src = join(dir, 'src.bin');
    writeFileSync(src, Buffer.alloc(5000, 7));
    const w = new CpioWriter(path);
    w.file('/etc/testbed/modules', 'a\nb\n');
    w.fileFrom('bin/busybox', src, 0o755);
    w.symlink('bin/sh', 'busybox');
    w.charDevice('dev/console', 5, 1);
    w.dir('proc');
    const size = w.finish();
    const buf = readFileSync(path);
    expect(size).toBe(buf.length);
    const entries = readNewc(buf);
    expect(entries.map((e) => e.name)).toEqual(['etc', 'etc/testbed', 'etc/testbed/modules', 'bin', 'bin/busybox', 'bin/sh', 'dev', 'dev/console', 'proc']);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('etc')?.mode).toBe(0o040755);
    expect(byName.get('etc/testbed/modules')?.data.toString()).toBe('a\nb\n');
    expect(byName.get('bin/busybox')?.mode).toBe(0o100755);
    expect(byName.get('bin/busybox')?.data.equals(Buffer.alloc(5000, 7))).toBe(true);
    expect(byName.get('bin/sh')?.mode).toBe(0o120777);
    expect(byName.get('bin/sh')?.data.toString()).toBe('busybox');
    expect(byName.get('dev/console')?.mode).toBe(0o020600);
    expect(byName.get('dev/console')?.rdev).toEqual([5, 1]);
    expect(new Set(entries.map((e) => e.ino)).size).toBe(entries.length);
  });

  it('is read back by GNU cpio when installed', () => {
    const path = tmp();
    const w = new CpioWriter(path);
    w.file('init', '#!/bin/sh\n', 0o755);
    w.symlink('bin/sh', 'busybox');
    w.finish();
    const r = spawnSync('cpio', ['-it', '--quiet'], { input: readFileSync(path), encoding: 'utf8' });
    if (r.error !== undefined) return; // cpio not installed: the reader above still checks the format
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['init', 'bin', 'bin/sh']);
  });

  it.each(['', '/', 'a/../b', './x', 'a//b', 'x\0y'])('rejects the path %j with BAD_CPIO', (bad) => {
    const w = new CpioWriter(tmp());
    expect(() => w.file(bad, 'x')).toThrowError(expect.objectContaining({ code: 'BAD_CPIO' }));
    w.finish();
  });

  it('rejects duplicates and writes after finish', () => {
    const w = new CpioWriter(tmp());
    w.file('a', 'x');
    expect(() => w.file('a', 'y')).toThrow(TestbedError);
    expect(() => w.dir('a')).toThrowError(expect.objectContaining({ code: 'BAD_CPIO' }));
    w.dir('d');
    w.dir('d'); // the same directory twice is fine
    expect(() => w.file('d', 'z')).toThrowError(expect.objectContaining({ code: 'BAD_CPIO' }));
    w.finish();
    expect(() => w.file('b', 'x')).toThrowError(expect.objectContaining({ code: 'BAD_CPIO' }));
  });

  it('property: any set of files round-trips with 4-byte alignment', () => {
    const seg = fc.stringMatching(/^[a-z0-9_-]{1,8}$/);
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(fc.array(seg, { minLength: 1, maxLength: 3 }), fc.uint8Array({ maxLength: 40 })), { selector: ([p]) => p.join('/'), maxLength: 12 }), (files) => {
        // a path that is a prefix directory of another cannot also be a file
        const paths = files.map(([p]) => p.join('/'));
        fc.pre(!paths.some((a) => paths.some((b) => b.startsWith(`${a}/`))));
        const path = tmp();
        const w = new CpioWriter(path);
        for (const [p, data] of files) w.file(p.join('/'), data);
        w.finish();
        const entries = readNewc(readFileSync(path));
        for (const [p, data] of files) {
          const e = entries.find((x) => x.name === p.join('/'));
          expect(e?.data.equals(Buffer.from(data))).toBe(true);
        }
        rmSync(path);
      }),
      { numRuns: 100 },
    );
  });
});
