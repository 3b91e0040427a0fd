/**
 * The binding a vCPU worker loads (`VcpuRunner({ workerBinding: emu.workerBinding })`): the
 * native addon, except that `VCPU_MMAP_SIZE` and `VCPU_RUN` on an emulated vCPU fd (a memfd named
 * `gunyah-emu-vcpu`) are answered by the emulator's translation to `KVM_RUN` (design decision 2).
 *
 * @module
 */
import { fstatSync } from 'node:fs';
import { GUNYAH_IOCTLS, type IoctlArg } from '@gunyah-ts/sys';
import { kvmVcpuPort } from './executor.js';
import { VCPU_MEMFD_NAME, VM_PAGE_MEMFD_NAME, fdTarget, isMemfdNamed } from './host.js';
import { PRIVATE_OFFSET, VM_PAGE_SIZE, VM_PAGE_STATUS, hasVcpuMagic } from './pages.js';
import { ErrnoError, errnoValue, getBinding, type BindingModule } from './sys.js';
import { runEmulatedVcpu, type KvmVcpuPort, type RunServices, type SinkArgs } from './translate.js';

/** What one fd number was last seen to be: the file's identity (`st_dev`, `st_ino`). */
interface FileId {
  readonly dev: number;
  readonly ino: number;
}

/** A validated emulated vCPU fd: its page and what its page points at, each validated once. */
interface VcpuEntry {
  readonly id: FileId;
  readonly buffer: ArrayBuffer;
  readonly view: DataView;
  /** The VM page behind `vmPageFd` (the mapping keeps that memfd alive: always this vCPU's VM). */
  vm: { readonly fd: number; readonly buffer: ArrayBuffer; readonly view: DataView } | undefined;
  /** The KVM vCPU behind `kvmFd`, validated by its `/proc/self/fd` target once. */
  kvm: { readonly fd: number; readonly port: KvmVcpuPort } | undefined;
  /** Runs left before the file identity is checked again while everything looks healthy. */
  budget: number;
}

/** How many `VCPU_RUN`s of a healthy, running vCPU may pass between two identity checks. */
const IDENTITY_CHECK_EVERY = 64;
const FLAG_STOPPED = 1 | 2 | 4; // removed | unusable | terminal (private area flags byte)

/**
 * The cheap in-memory check of a cached vCPU: its page still carries the magic, no flag says it
 * stopped, its VM page (validated before) says RUNNING and its KVM vCPU is known.
 */
function healthy(e: VcpuEntry): boolean {
  return (
    hasVcpuMagic(e.view) &&
    (e.view.getUint8(PRIVATE_OFFSET + 7) & FLAG_STOPPED) === 0 &&
    e.vm !== undefined &&
    e.vm.view.getUint8(6) === VM_PAGE_STATUS.RUNNING &&
    e.kvm !== undefined
  );
}

/** The identity of the file behind `fd`, or undefined when `fd` is not open. */
function fileId(fd: number): FileId | undefined {
  try {
    const st = fstatSync(fd);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

const sameFile = (a: FileId, b: FileId): boolean => a.dev === b.dev && a.ino === b.ino;

function enodev(): never {
  throw new ErrnoError(errnoValue('ENODEV') ?? 19, 'ioctl', 'GUNYAH_VCPU_RUN');
}

/**
 * Wraps `native` so that emulated vCPU fds run through the emulator's `VCPU_RUN` translation.
 *
 * Caching (the hot path of every MMIO exit): an fd is recognised (`/proc/self/fd` target) once and
 * remembered with the identity of its file (`st_dev`/`st_ino` from `fstat`). A vCPU fd whose
 * identity changed (closed and reused) is recognised again from scratch and its old mappings
 * dropped. The identity is checked on `VCPU_MMAP_SIZE`, whenever a cheap in-memory check of the
 * cached vCPU fails (page magic, removed/unusable/terminal flags, its VM page not RUNNING, no KVM
 * vCPU yet) and otherwise every 64th `VCPU_RUN`: between two checks a closed and reused fd can only
 * go on running the vCPU page this worker mapped (as the caller's own run-page mapping does),
 * never touch the file that now has the number. What the vCPU page points at is validated once per vCPU: the VM page fd (its mapping
 * keeps that memfd alive, so it stays this vCPU's VM page even if the number is reused later) and
 * the KVM vCPU fd (validated again whenever the page names another fd; the emulator closes KVM fds
 * only after marking the VM stopped, and the translation never runs a stopped VM).
 *
 * @param native - the binding to wrap; default `getBinding()`.
 */
export function wrapWorkerBinding(native: BindingModule = getBinding()): BindingModule {
  const vcpus = new Map<number, VcpuEntry>();
  /** fds recognised as not being emulated vCPUs (identity at that time). */
  const others = new Map<number, FileId>();
  const siblings = new Map<number, { target: string; port: KvmVcpuPort }>();
  const c = native.constants();
  const ps = native.pageSize();
  const vmPageBytes = Math.max(ps, Math.ceil(VM_PAGE_SIZE / ps) * ps);
  let thread: bigint | undefined;
  let current: VcpuEntry | undefined;
  const unmap = (b: ArrayBuffer): void => {
    try {
      native.munmap(b);
    } catch {
      /* already gone */
    }
  };
  const drop = (fd: number): void => {
    const e = vcpus.get(fd);
    if (e === undefined) return;
    vcpus.delete(fd);
    unmap(e.buffer);
    if (e.vm !== undefined) unmap(e.vm.buffer);
  };
  const kvmPort = (fd: number, size: number): KvmVcpuPort => {
    const target = fdTarget(fd);
    if (target === undefined || !target.startsWith('anon_inode:kvm-vcpu')) enodev();
    return kvmVcpuPort(native, fd, size);
  };
  const services: RunServices = {
    kvm: (fd, size) => {
      const e = current;
      if (e !== undefined && e.kvm?.fd === fd) return e.kvm.port;
      if (e !== undefined && fd === e.view.getInt32(PRIVATE_OFFSET + 16, true)) {
        // this vCPU's own KVM fd (private area, kvmFd field): validated once
        const port = kvmPort(fd, size);
        e.kvm = { fd, port };
        return port;
      }
      // a sibling (stopSiblings, rare): validated by its target on every use
      const target = fdTarget(fd);
      const cached = siblings.get(fd);
      if (cached !== undefined && cached.target === target) return cached.port;
      const port = kvmPort(fd, size);
      siblings.set(fd, { target: target ?? '', port });
      return port;
    },
    vmPage: (fd) => {
      const e = current;
      if (e?.vm !== undefined && e.vm.fd === fd) return e.vm.view;
      if (!isMemfdNamed(fdTarget(fd), VM_PAGE_MEMFD_NAME)) enodev();
      const buffer = native.mmap(fd, vmPageBytes, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
      const vm = { fd, buffer, view: new DataView(buffer) };
      if (e !== undefined) {
        if (e.vm !== undefined) unmap(e.vm.buffer);
        e.vm = vm;
      }
      return vm.view;
    },
    currentThread: () => (thread ??= native.currentThread()),
    kick: (t) => native.kick(t),
  };
  /** The emulated vCPU behind `fd`, or undefined when `fd` is something else. */
  const vcpuOf = (fd: number): VcpuEntry | undefined => {
    const id = fileId(fd);
    const known = vcpus.get(fd);
    if (known !== undefined) {
      if (id !== undefined && sameFile(known.id, id)) return known;
      drop(fd); // closed, and the number reused (or not open any more)
    }
    if (id === undefined) return undefined;
    const other = others.get(fd);
    if (other !== undefined && sameFile(other, id)) return undefined;
    if (!isMemfdNamed(fdTarget(fd), VCPU_MEMFD_NAME)) {
      others.set(fd, id);
      return undefined;
    }
    others.delete(fd);
    const buffer = native.mmap(fd, ps, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, 0);
    const e: VcpuEntry = { id, buffer, view: new DataView(buffer), vm: undefined, kvm: undefined, budget: IDENTITY_CHECK_EVERY };
    vcpus.set(fd, e);
    return e;
  };
  /** `VCPU_RUN`/`VCPU_MMAP_SIZE` on an emulated vCPU fd; undefined when `fd` is not one. */
  const emulated = (fd: number, request: number, sink: SinkArgs | undefined): number | undefined => {
    // hot path: a healthy running vCPU seen before skips the identity check, up to a budget
    const cached = request === GUNYAH_IOCTLS.VCPU_RUN.request ? vcpus.get(fd) : undefined;
    const e = cached !== undefined && --cached.budget > 0 && healthy(cached) ? cached : vcpuOf(fd);
    if (e === undefined) return undefined;
    if (e !== cached || e.budget <= 0) e.budget = IDENTITY_CHECK_EVERY;
    if (request === GUNYAH_IOCTLS.VCPU_MMAP_SIZE.request) return native.pageSize();
    if (!hasVcpuMagic(e.view)) throw new ErrnoError(errnoValue('ENOTTY') ?? 25, 'ioctl', 'GUNYAH_VCPU_RUN');
    current = e;
    try {
      return runEmulatedVcpu(e.view, services, sink);
    } finally {
      current = undefined;
    }
  };
  const ioctl = (fd: number, request: number, arg?: IoctlArg): number => {
    if (request === GUNYAH_IOCTLS.VCPU_RUN.request || request === GUNYAH_IOCTLS.VCPU_MMAP_SIZE.request) {
      const r = emulated(fd, request, undefined);
      if (r !== undefined) return r;
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
  const nativeSink = native.runMmioSink?.bind(native);
  if (nativeSink !== undefined) {
    // An emulated vCPU: VCPU_RUN translated as above, its KVM_RUNs through the addon's sink loop
    // (`layout` describes the caller's Gunyah run page, which the translation writes).
    out.runMmioSink = (fd: number, request: number, page: ArrayBuffer | ArrayBufferView, layout: Int32Array, desc: Int32Array, state: Int32Array, bytes: Uint8Array): number => {
      if (request === GUNYAH_IOCTLS.VCPU_RUN.request) {
        const r = emulated(fd, request, { descriptor: desc, state, bytes });
        if (r !== undefined) return r;
      }
      return nativeSink(fd, request, page, layout, desc, state, bytes);
    };
  }
  return out as unknown as BindingModule;
}

/**
 * Entry point for `VcpuRunner`'s worker mode: the worker imports this module and calls
 * `createBinding()`.
 */
export function createBinding(): BindingModule {
  return wrapWorkerBinding();
}
