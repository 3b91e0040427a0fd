import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ErrnoError,
  addressOf,
  close,
  currentThread,
  eventfd,
  eventfdRead,
  eventfdWrite,
  ftruncate,
  ioctl,
  ioctlWithPtrs,
  kick,
  kickSignal,
  memfdCreate,
  mmap,
  munmap,
  nativeBindingAvailable,
  open,
  pageSize,
  poll,
  pread,
  pwrite,
  read,
  sysConstants,
  write,
} from '../../src/index.js';

const haveAddon = nativeBindingAvailable();
const skipMsg = 'native addon not built: run `npm run build:native -w @gunyah-ts/sys`';
const fixture = (n: string) => fileURLToPath(new URL(`./fixtures/${n}`, import.meta.url));

function expectErrno(fn: () => unknown, code: string, syscall?: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ${code}`).toBeInstanceOf(ErrnoError);
  const e = thrown as ErrnoError;
  expect(e.code).toBe(code);
  if (syscall) expect(e.syscall).toBe(syscall);
}

describe.skipIf(!haveAddon)(`native syscalls${haveAddon ? '' : ` (skipped: ${skipMsg})`}`, () => {
  const fds: number[] = [];
  afterEach(() => {
    for (const fd of fds.splice(0)) {
      try {
        close(fd);
      } catch {
        /* already closed by the test */
      }
    }
  });
  const track = (fd: number) => (fds.push(fd), fd);

  it('reports the system page size (a power of two of at least 4 KiB)', () => {
    const ps = pageSize();
    expect(ps).toBeGreaterThanOrEqual(4096);
    expect(ps & (ps - 1)).toBe(0);
  });

  it('memfd → mmap → write through the mapping → pread sees it, and pwrite shows in the mapping', () => {
    const ps = pageSize();
    const fd = track(memfdCreate('roundtrip'));
    ftruncate(fd, ps * 2);
    const ab = mmap(fd, ps * 2);
    expect(ab.byteLength).toBe(ps * 2);
    const view = new Uint8Array(ab);
    const pattern = Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff);
    view.set(pattern, ps - 150); // straddles the page boundary
    const back = new Uint8Array(300);
    expect(pread(fd, back, ps - 150)).toBe(300);
    expect(back).toEqual(pattern);
    expect(pwrite(fd, Uint8Array.of(0xde, 0xad), BigInt(ps * 2 - 2))).toBe(2);
    expect([view[ps * 2 - 2], view[ps * 2 - 1]]).toEqual([0xde, 0xad]);
    // Offset mappings see the same bytes.
    const second = mmap(fd, ps, undefined, undefined, ps);
    expect(new Uint8Array(second)[ps - 2]).toBe(0xde);
    munmap(second);
    munmap(ab);
  });

  it('addressOf gives distinct, page-aligned addresses for mappings and honours view offsets', () => {
    const ps = pageSize();
    const fd = track(memfdCreate('addr'));
    ftruncate(fd, ps);
    const ab = mmap(fd, ps);
    const base = addressOf(ab);
    expect(base % BigInt(ps)).toBe(0n);
    expect(addressOf(new Uint8Array(ab, 100, 8))).toBe(base + 100n);
    munmap(ab);
  });

  it('munmap detaches first: later access fails cleanly instead of touching unmapped memory', () => {
    const ps = pageSize();
    const fd = track(memfdCreate('detach'));
    ftruncate(fd, ps);
    const ab = mmap(fd, ps);
    const u8 = new Uint8Array(ab);
    const dv = new DataView(ab);
    u8[0] = 7;
    munmap(ab);
    expect(ab.byteLength).toBe(0);
    expect(u8.length).toBe(0);
    expect(u8[0]).toBeUndefined();
    expect(() => dv.getUint8(0)).toThrow(TypeError);
    expect(() => new Uint8Array(ab, 0, 1)).toThrow(TypeError);
    // A second munmap, or one of a buffer that is not a mapping, is EINVAL; passing the detached
    // buffer to a syscall is refused before reaching the kernel.
    expectErrno(() => munmap(ab), 'EINVAL', 'munmap');
    expectErrno(() => munmap(new ArrayBuffer(8)), 'EINVAL', 'munmap');
    expect(() => pread(fd, u8, 0)).toThrow(TypeError);
  });

  it('unmaps a mapping whose ArrayBuffer is garbage-collected', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', fixture('gc-unmap.mjs')], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    const { before, after } = JSON.parse(r.stdout.trim()) as { before: number; after: number };
    expect(before).toBeGreaterThan(0);
    expect(after).toBe(0);
  });

  it('eventfd counts: writes add, a read returns the sum and resets; semaphore mode decrements by one', () => {
    const c = sysConstants();
    const fd = track(eventfd(0, c.EFD_NONBLOCK));
    expectErrno(() => eventfdRead(fd), 'EAGAIN', 'read');
    eventfdWrite(fd, 3n);
    eventfdWrite(fd, 4);
    expect(eventfdRead(fd)).toBe(7n);
    expectErrno(() => eventfdRead(fd), 'EAGAIN');
    // 2^64-1 is not a valid increment.
    expectErrno(() => eventfdWrite(fd, 0xffffffffffffffffn), 'EINVAL', 'write');
    // Overflow of a non-blocking counter is EAGAIN.
    eventfdWrite(fd, 0xfffffffffffffffen);
    expectErrno(() => eventfdWrite(fd, 1n), 'EAGAIN');

    const sem = track(eventfd(2, c.EFD_NONBLOCK | c.EFD_SEMAPHORE));
    expect(eventfdRead(sem)).toBe(1n);
    expect(eventfdRead(sem)).toBe(1n);
    expectErrno(() => eventfdRead(sem), 'EAGAIN');
    // Reads need an 8-byte buffer.
    expectErrno(() => read(sem, new Uint8Array(4)), 'EINVAL');
    expect(poll(sem, c.POLLIN, 0)).toBe(0);
    eventfdWrite(sem, 1n);
    expect(poll(sem, c.POLLIN, 0) & c.POLLIN).toBe(c.POLLIN);
  });

  it('ioctl passes a buffer the kernel writes into (FIONREAD on a memfd)', () => {
    const FIONREAD = 0x541b;
    const fd = track(memfdCreate('fionread'));
    ftruncate(fd, 1234);
    const out = new Int32Array(1);
    expect(ioctl(fd, FIONREAD, out)).toBe(0);
    expect(out[0]).toBe(1234);
  });

  it('ioctlWithPtrs writes each inner buffer address into the outer struct before the call', () => {
    const outer = new Uint8Array(24);
    const a = new Uint8Array(4);
    const b = new Uint8Array(new ArrayBuffer(64), 16, 8);
    expectErrno(() => ioctlWithPtrs(-2, 0x40104704, outer, [{ offset: 8, buffer: a }, { offset: 16, buffer: b }], 'X'), 'EBADF', 'ioctl');
    const dv = new DataView(outer.buffer);
    expect(dv.getBigUint64(8, true)).toBe(addressOf(a));
    expect(dv.getBigUint64(16, true)).toBe(addressOf(b));
    expect(() => ioctlWithPtrs(-2, 1, outer, [{ offset: 17, buffer: a }])).toThrow(RangeError);
  });

  it('sweeps every fd-taking wrapper with an invalid fd: EBADF with the syscall named', () => {
    const bad = -2;
    const buf = new Uint8Array(8);
    const c = sysConstants();
    const cases: [string, () => unknown][] = [
      ['close', () => close(bad)],
      ['ioctl', () => ioctl(bad, 0x4703)],
      ['ioctl', () => ioctl(bad, 0x40204701, buf)],
      ['ioctl', () => ioctlWithPtrs(bad, 0x40104704, new Uint8Array(16), [{ offset: 8, buffer: buf }])],
      ['mmap', () => mmap(bad, pageSize(), undefined, c.MAP_SHARED)],
      ['ftruncate', () => ftruncate(bad, 0)],
      ['read', () => read(bad, buf)],
      ['write', () => write(bad, buf)],
      ['pread', () => pread(bad, buf, 0)],
      ['pwrite', () => pwrite(bad, buf, 0)],
      ['read', () => eventfdRead(bad)],
      ['write', () => eventfdWrite(bad, 1n)],
    ];
    for (const [syscall, fn] of cases) expectErrno(fn, 'EBADF', syscall);
    // poll reports an invalid fd in revents rather than failing.
    expect(poll(bad, c.POLLIN, 0)).toBe(0);
    expect(poll(1_000_000, c.POLLIN, 0) & 0x20 /* POLLNVAL */).toBe(0x20);
  });

  it('carries the operation name into the error', () => {
    try {
      ioctl(-2, 0x4703, undefined, 'GUNYAH_VM_START');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ErrnoError);
      expect((e as ErrnoError).op).toBe('GUNYAH_VM_START');
      expect((e as ErrnoError).message).toContain('GUNYAH_VM_START');
      expect((e as ErrnoError).errno).toBe(9);
    }
  });

  it('rejects malformed arguments with TypeError/RangeError, not a crash', () => {
    const anyOpen = open as (...a: unknown[]) => number;
    expect(() => anyOpen(42)).toThrow(TypeError);
    expect(() => anyOpen('/dev/null\0x')).toThrow(TypeError);
    expect(() => ioctl(1.5, 0)).toThrow(RangeError);
    expect(() => ioctl(0, 2 ** 33)).toThrow(RangeError);
    expect(() => ftruncate(0, -1)).toThrow(RangeError);
    expect(() => mmap(0, 0)).toThrow(RangeError);
    expect(() => kick(1 as unknown as bigint)).toThrow(TypeError);
  });

  it('opens real files and reports ENOENT for missing ones', () => {
    const fd = track(open('/dev/null', sysConstants().O_RDWR));
    expect(write(fd, new Uint8Array(5))).toBe(5);
    expectErrno(() => open('/nonexistent/gunyah'), 'ENOENT', 'open');
  });

  it('uses a real-time signal for kicks, never SIGUSR1', () => {
    const sig = kickSignal();
    expect(sig).toBeGreaterThanOrEqual(34);
    expect(sig).not.toBe(10);
  });

  for (const mode of ['read', 'poll'] as const) {
    it(`interrupts a worker blocked in ${mode}() with kick(): the call fails with EINTR`, async () => {
      const fd = track(eventfd(0, 0)); // blocking eventfd with a zero counter
      const worker = new Worker(fixture('kick-worker.mjs'), { workerData: { fd, mode } });
      try {
        const result = await new Promise<{ type: string; code?: string }>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('worker did not return after kicks')), 10_000);
          let ready = false;
          worker.on('message', (m: { type: string; thread?: bigint; code?: string }) => {
            if (m.type === 'ready' && m.thread !== undefined) {
              ready = true;
              const t = m.thread;
              // The worker may not be inside the syscall yet; kick until it answers (a kick that
              // lands before the call is simply lost, which is why VCPU_RUN also has immediate_exit).
              const again = () => {
                if (!ready) return;
                try {
                  kick(t);
                } catch {
                  /* thread already gone */
                }
                setTimeout(again, 50);
              };
              setTimeout(again, 50);
            } else {
              ready = false;
              clearTimeout(timer);
              resolve(m);
            }
          });
          worker.on('error', reject);
        });
        expect(result).toEqual({ type: 'error', code: 'EINTR' });
      } finally {
        await worker.terminate();
      }
    });
  }

  it('a worker blocked in read() returns normally when the eventfd is written (no kick)', async () => {
    const fd = track(eventfd(0, 0));
    const worker = new Worker(fixture('kick-worker.mjs'), { workerData: { fd, mode: 'read' } });
    try {
      const value = await new Promise<bigint>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timeout')), 10_000);
        worker.on('message', (m: { type: string; value?: bigint }) => {
          if (m.type === 'ready') setTimeout(() => eventfdWrite(fd, 5n), 50);
          else {
            clearTimeout(timer);
            if (m.type === 'returned' && m.value !== undefined) resolve(m.value);
            else reject(new Error(JSON.stringify(m)));
          }
        });
      });
      expect(value).toBe(5n);
    } finally {
      await worker.terminate();
    }
  });
});
