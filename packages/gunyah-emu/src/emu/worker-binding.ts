/**
 * The binding a vCPU worker loads (`VcpuRunner({ workerBinding: emu.workerBinding })`): the
 * native addon, except that `VCPU_MMAP_SIZE` and `VCPU_RUN` on an emulated vCPU fd (a memfd named
 * `gunyah-emu-vcpu`) are answered by the emulator's translation to `KVM_RUN` (design decision 2).
 *
 * @module
 */
import { GUNYAH_IOCTLS, type IoctlArg } from '@gunyah-ts/sys';
import { kvmVcpuPort } from './executor.js';
import { VCPU_MEMFD_NAME, VM_PAGE_MEMFD_NAME, fdTarget, isMemfdNamed } from './host.js';
import { VM_PAGE_SIZE, hasVcpuMagic } from './pages.js';
import { ErrnoError, errnoValue, getBinding, type BindingModule } from './sys.js';
import { runEmulatedVcpu, type KvmVcpuPort, type RunServices } from './translate.js';

interface Mapped {
  readonly target: string;
  readonly buffer: ArrayBuffer;
  readonly view: DataView;
}

/**
 * Wraps `native` so that emulated vCPU fds run through the emulator's `VCPU_RUN` translation.
 * Mappings of vCPU pages, VM pages and `kvm_run` are cached per fd and re-checked against
 * `/proc/self/fd` on every `VCPU_RUN`, so a reused fd number is never run with stale state.
 *
 * @param native - the binding to wrap; default `getBinding()`.
 */
export function wrapWorkerBinding(native: BindingModule = getBinding()): BindingModule {
  const pages = new Map<number, Mapped>();
  const kvm = new Map<number, { target: string; port: KvmVcpuPort }>();
  const c = native.constants();
  const ps = native.pageSize();
  const vmPageBytes = Math.max(ps, Math.ceil(VM_PAGE_SIZE / ps) * ps);
  const map = (fd: number, target: string, size: number): Mapped => {
    const cached = pages.get(fd);
    if (cached !== undefined && cached.target === target && cached.buffer.byteLength > 0) return cached;
    if (cached !== undefined) {
      try {
        native.munmap(cached.buffer);
      } catch {
        /* already gone */
      }
    }
    const buffer = native.mmap(fd, size, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
    const m = { target, buffer, view: new DataView(buffer) };
    pages.set(fd, m);
    return m;
  };
  const services: RunServices = {
    kvm: (fd, size) => {
      const target = fdTarget(fd);
      if (target === undefined || !target.startsWith('anon_inode:kvm-vcpu')) throw new ErrnoError(errnoValue('ENODEV') ?? 19, 'ioctl', 'GUNYAH_VCPU_RUN');
      const cached = kvm.get(fd);
      if (cached !== undefined && cached.target === target) return cached.port;
      const port = kvmVcpuPort(native, fd, size);
      kvm.set(fd, { target, port });
      return port;
    },
    vmPage: (fd) => {
      const target = fdTarget(fd);
      if (!isMemfdNamed(target, VM_PAGE_MEMFD_NAME)) throw new ErrnoError(errnoValue('ENODEV') ?? 19, 'ioctl', 'GUNYAH_VCPU_RUN');
      return map(fd, target as string, vmPageBytes).view;
    },
    currentThread: () => native.currentThread(),
    kick: (t) => native.kick(t),
  };
  const isVcpu = (fd: number): string | undefined => {
    const t = fdTarget(fd);
    return isMemfdNamed(t, VCPU_MEMFD_NAME) ? t : undefined;
  };
  const ioctl = (fd: number, request: number, arg?: IoctlArg): number => {
    if (request === GUNYAH_IOCTLS.VCPU_RUN.request || request === GUNYAH_IOCTLS.VCPU_MMAP_SIZE.request) {
      const target = isVcpu(fd);
      if (target !== undefined) {
        if (request === GUNYAH_IOCTLS.VCPU_MMAP_SIZE.request) return native.pageSize();
        const m = map(fd, target, ps);
        if (!hasVcpuMagic(m.view)) throw new ErrnoError(errnoValue('ENOTTY') ?? 25, 'ioctl', 'GUNYAH_VCPU_RUN');
        return runEmulatedVcpu(m.view, services);
      }
    }
    return native.ioctl(fd, request, arg);
  };
  // every other method is the native one (the addon's properties are read-only: copy, do not proxy)
  const out: Record<string, unknown> = {};
  const names = new Set<string>();
  for (let o: object | null = native; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const k of Object.getOwnPropertyNames(o)) if (k !== 'constructor') names.add(k);
  }
  for (const k of names) {
    const v = (native as unknown as Record<string, unknown>)[k];
    out[k] = typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(native) : v;
  }
  out.ioctl = ioctl;
  return out as unknown as BindingModule;
}

/**
 * Entry point for `VcpuRunner`'s worker mode: the worker imports this module and calls
 * `createBinding()`.
 */
export function createBinding(): BindingModule {
  return wrapWorkerBinding();
}
