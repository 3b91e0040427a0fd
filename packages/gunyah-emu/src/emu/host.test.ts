// fd recognition, /proc maps coverage, the worker binding's routing (needs the native addon for real memfds).
import { describe, expect, it } from 'vitest';
import { GUNYAH_IOCTLS, getBinding, nativeBindingAvailable } from '@gunyah-ts/sys';
import { fdTarget, isMemfdNamed, isRangeMapped, VCPU_MEMFD_NAME, VM_PAGE_MEMFD_NAME } from './host.js';
import { encodeVcpuPrivate, initVmPage, VM_PAGE_SIZE } from './pages.js';
import { wrapWorkerBinding } from './worker-binding.js';
import { emulatorAvailable } from './available.js';

describe('fd and memory helpers', () => {
  it('isMemfdNamed matches the exact memfd name only', () => {
    expect(isMemfdNamed('/memfd:gunyah-emu-vcpu (deleted)', VCPU_MEMFD_NAME)).toBe(true);
    expect(isMemfdNamed('/memfd:gunyah-emu-vcpu', VCPU_MEMFD_NAME)).toBe(true);
    expect(isMemfdNamed('/memfd:gunyah-emu-vcpux (deleted)', VCPU_MEMFD_NAME)).toBe(false);
    expect(isMemfdNamed('/tmp/gunyah-emu-vcpu', VCPU_MEMFD_NAME)).toBe(false);
    expect(isMemfdNamed('anon_inode:[eventfd]', VCPU_MEMFD_NAME)).toBe(false);
    expect(isMemfdNamed(undefined, VCPU_MEMFD_NAME)).toBe(false);
  });

  it('isRangeMapped walks adjacent mappings and finds holes', () => {
    const maps = ['1000-3000 rw-p 0 0:0 0', '3000-5000 r--p 0 0:0 0', '8000-9000 rw-p 0 0:0 0', 'garbage'].join('\n');
    expect(isRangeMapped(0x1000n, 0x4000n, maps)).toBe(true);
    expect(isRangeMapped(0x2000n, 0x4000n, maps)).toBe(false);
    expect(isRangeMapped(0x8000n, 0x1000n, maps)).toBe(true);
    expect(isRangeMapped(0x8fffn, 2n, maps)).toBe(false);
    expect(fdTarget(-1)).toBeUndefined();
    expect(fdTarget(1.5)).toBeUndefined();
  });

  it('emulatorAvailable explains what is missing', () => {
    const a = emulatorAvailable({ kvmPath: '/nonexistent/kvm' });
    expect(a.ok).toBe(false);
    if (!a.ok) expect(a.reason).toMatch(process.arch === 'arm64' ? /ENOENT.*testbed/ : /needs arm64 Linux with KVM.*testbed/);
  });
});

describe.skipIf(!nativeBindingAvailable())('worker binding routing (real memfds)', () => {
  it('answers only emulated vCPU memfds; the rest goes to the addon', () => {
    const n = getBinding();
    const w = wrapWorkerBinding(n);
    const c = n.constants();
    const ps = n.pageSize();
    const vcpu = n.memfdCreate(VCPU_MEMFD_NAME, c.MFD_CLOEXEC);
    const other = n.memfdCreate('something-else', c.MFD_CLOEXEC);
    const vmp = n.memfdCreate(VM_PAGE_MEMFD_NAME, c.MFD_CLOEXEC);
    try {
      n.ftruncate(vcpu, ps);
      n.ftruncate(other, ps);
      n.ftruncate(vmp, Math.max(ps, VM_PAGE_SIZE));
      expect(w.ioctl(vcpu, GUNYAH_IOCTLS.VCPU_MMAP_SIZE.request)).toBe(ps);
      expect(() => w.ioctl(other, GUNYAH_IOCTLS.VCPU_MMAP_SIZE.request)).toThrow(); // a memfd has no such ioctl
      // no magic yet: not an emulated page
      expect(() => w.ioctl(vcpu, GUNYAH_IOCTLS.VCPU_RUN.request)).toThrow(expect.objectContaining({ errno: 25 }) as Error);
      const page = n.mmap(vcpu, ps, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
      const vmBuf = n.mmap(vmp, Math.max(ps, VM_PAGE_SIZE), c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
      initVmPage(new DataView(vmBuf));
      encodeVcpuPrivate(new DataView(page), { variant: 'B', cPlus: false, removed: false, unusable: false, terminal: false, vcpuId: 0, slot: 0, kvmFd: -1, vmPageFd: other, kvmRunSize: 0, pending: undefined });
      // the VM page fd is not a VM page memfd: ENODEV, never a stray mapping
      expect(() => w.ioctl(vcpu, GUNYAH_IOCTLS.VCPU_RUN.request)).toThrow(expect.objectContaining({ errno: 19 }) as Error);
      encodeVcpuPrivate(new DataView(page), { variant: 'B', cPlus: false, removed: false, unusable: false, terminal: false, vcpuId: 0, slot: 0, kvmFd: -1, vmPageFd: vmp, kvmRunSize: 0, pending: undefined });
      // VM not started: ENODEV (spec §6.3.1)
      expect(() => w.ioctl(vcpu, GUNYAH_IOCTLS.VCPU_RUN.request)).toThrow(expect.objectContaining({ errno: 19 }) as Error);
      // pass-through of everything else
      expect(w.pageSize()).toBe(ps);
      expect(w.constants()).toEqual(c);
      n.munmap(page);
      n.munmap(vmBuf);
    } finally {
      n.close(vcpu);
      n.close(other);
      n.close(vmp);
    }
  });
});
