// The worker binding's per-fd cache: a closed and reused fd number is never run with the old file's state.
import { describe, expect, it } from 'vitest';
import { EXIT_REASON, GUNYAH_IOCTLS, VCPU_RUN_OFFSETS, getBinding, nativeBindingAvailable, type BindingModule } from '@gunyah-ts/sys';
import { VCPU_MEMFD_NAME, VM_PAGE_MEMFD_NAME } from './host.js';
import { encodeVcpuPrivate, initVmPage, markVmStopped, VM_PAGE_SIZE, type VcpuPrivate } from './pages.js';
import { wrapWorkerBinding } from './worker-binding.js';

const RUN = GUNYAH_IOCTLS.VCPU_RUN.request;
const MMAP_SIZE = GUNYAH_IOCTLS.VCPU_MMAP_SIZE.request;
const base: VcpuPrivate = { variant: 'B', cPlus: false, removed: false, unusable: false, terminal: false, vcpuId: 0, slot: 0, kvmFd: -1, vmPageFd: 0, kvmRunSize: 0, pending: undefined };

/** A memfd of one page (or `size`), with its contents written by `fill` through a temporary mapping. */
function memfd(n: BindingModule, name: string, fill?: (v: DataView) => void, size = n.pageSize()): number {
  const c = n.constants();
  const fd = n.memfdCreate(name, c.MFD_CLOEXEC);
  n.ftruncate(fd, size);
  if (fill !== undefined) {
    const b = n.mmap(fd, size, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
    fill(new DataView(b));
    n.munmap(b);
  }
  return fd;
}

const errno = (f: () => unknown): number | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as { errno?: number }).errno;
  }
};

describe.skipIf(!nativeBindingAvailable())('worker binding cache (real memfds)', () => {
  it('a vCPU fd closed and reused by another file goes to the addon; reused by another vCPU runs the new page', () => {
    const n = getBinding();
    const w = wrapWorkerBinding(n);
    const ps = n.pageSize();
    const a = memfd(n, VCPU_MEMFD_NAME, (v) => encodeVcpuPrivate(v, { ...base, removed: true }));
    expect(w.ioctl(a, MMAP_SIZE)).toBe(ps);
    expect(errno(() => w.ioctl(a, RUN))).toBe(19); // removed: ENODEV (and now cached)
    n.close(a);
    const other = memfd(n, 'something-else');
    try {
      if (other === a) {
        // same number, another file: the addon answers (a memfd has no such ioctl), never the old page
        expect(errno(() => w.ioctl(other, RUN))).toBe(25);
      }
    } finally {
      n.close(other);
    }
    // same number again, a vCPU page without magic: the new page is read (ENOTTY), not the cached one (ENODEV)
    const b = memfd(n, VCPU_MEMFD_NAME);
    try {
      if (b === a) expect(errno(() => w.ioctl(b, RUN))).toBe(25);
    } finally {
      n.close(b);
    }
    // a closed fd: not a vCPU any more (the addon reports EBADF)
    expect(errno(() => w.ioctl(a, RUN))).toBe(9);
  });

  it('an fd first seen as another file and then reused by a vCPU page is recognised', () => {
    const n = getBinding();
    const w = wrapWorkerBinding(n);
    const other = memfd(n, 'something-else');
    expect(errno(() => w.ioctl(other, MMAP_SIZE))).toBe(25);
    n.close(other);
    const v = memfd(n, VCPU_MEMFD_NAME);
    try {
      if (v === other) expect(w.ioctl(v, MMAP_SIZE)).toBe(n.pageSize());
    } finally {
      n.close(v);
    }
  });

  it('keeps the VM page of a vCPU once validated, even when its fd number is reused', () => {
    const n = getBinding();
    const w = wrapWorkerBinding(n);
    const c = n.constants();
    const ps = n.pageSize();
    const vmBytes = Math.max(ps, Math.ceil(VM_PAGE_SIZE / ps) * ps);
    const vmp = memfd(
      n,
      VM_PAGE_MEMFD_NAME,
      (v) => {
        initVmPage(v);
        markVmStopped(v, 2, 1);
      },
      vmBytes,
    );
    const vcpu = memfd(n, VCPU_MEMFD_NAME, (v) => encodeVcpuPrivate(v, { ...base, vmPageFd: vmp }));
    const page = n.mmap(vcpu, ps, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
    try {
      const view = new DataView(page);
      expect(w.ioctl(vcpu, RUN)).toBe(0);
      expect(view.getUint32(VCPU_RUN_OFFSETS.exit_reason, true)).toBe(EXIT_REASON.STATUS);
      // the number now names a file that is not a VM page: the vCPU still reports its own VM
      n.close(vmp);
      const intruder = memfd(n, 'something-else');
      try {
        view.setUint32(VCPU_RUN_OFFSETS.exit_reason, 0, true);
        // terminal after the first STATUS: clear it to force the VM page to be consulted again
        view.setUint8(2048 + 7, view.getUint8(2048 + 7) & ~4);
        expect(w.ioctl(vcpu, RUN)).toBe(0);
        expect(view.getUint32(VCPU_RUN_OFFSETS.exit_reason, true)).toBe(EXIT_REASON.STATUS);
      } finally {
        n.close(intruder);
      }
      // a fresh wrapper (nothing cached) refuses the closed VM page fd
      view.setUint8(2048 + 7, view.getUint8(2048 + 7) & ~4);
      expect(errno(() => wrapWorkerBinding(n).ioctl(vcpu, RUN))).toBe(19);
    } finally {
      n.munmap(page);
      n.close(vcpu);
    }
  });
});
