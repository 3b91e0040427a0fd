import type { IoctlArg, PointerField, SysConstants } from './binding.js';
import { ErrnoError } from './errno.js';
import { getBinding } from './load.js';

function wrap<T>(op: string | undefined, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw ErrnoError.from(e, op);
  }
}

/**
 * The platform's values of the `open`/`mmap`/`memfd`/`eventfd`/`poll` flags.
 *
 * @example
 * ```ts
 * const { PROT_READ, PROT_WRITE, MAP_SHARED } = sysConstants();
 * ```
 */
export function sysConstants(): SysConstants {
  return getBinding().constants();
}

/**
 * Open a file (always with `O_CLOEXEC`); returns its fd.
 *
 * @param flags - defaults to `O_RDWR`
 * @throws {ErrnoError} ENOENT, EACCES, … as `open(2)`
 */
export function open(path: string, flags?: number, mode?: number): number {
  const b = getBinding();
  return wrap(undefined, () => b.open(path, flags ?? b.constants().O_RDWR, mode));
}

/**
 * Close a file descriptor.
 *
 * @throws {ErrnoError} EBADF
 */
export function close(fd: number): void {
  wrap(undefined, () => getBinding().close(fd));
}

/**
 * `ioctl(fd, request, arg)`. An integer argument is passed by value; a buffer passes its address (the
 * kernel may write into it). Returns the ioctl's non-negative result. `op` names the operation in
 * the thrown error.
 *
 * @throws {ErrnoError} the ioctl's errno, with `op` set
 */
export function ioctl(fd: number, request: number, arg?: IoctlArg, op?: string): number {
  return wrap(op, () => getBinding().ioctl(fd, request, arg));
}

/**
 * `ioctl` with a struct that holds pointers to other buffers: the address of each
 * `ptrs[i].buffer` is written (native-endian u64) into `buf` at `ptrs[i].offset`, and all of them
 * stay referenced for the duration of the call.
 *
 * @example
 * ```ts
 * // gunyah_fn_desc { u32 type; u32 arg_size; u64 arg } with arg pointing at a vCPU argument struct
 * const desc = new Uint8Array(16); const arg = new Uint8Array(4);
 * ioctlWithPtrs(vmFd, request, desc, [{ offset: 8, buffer: arg }]);
 * ```
 * @throws {ErrnoError} the ioctl's errno, with `op` set
 */
export function ioctlWithPtrs(
  fd: number,
  request: number,
  buf: ArrayBufferView | ArrayBuffer,
  ptrs: readonly PointerField[],
  op?: string,
): number {
  return wrap(op, () => getBinding().ioctlWithPtrs(fd, request, buf, ptrs));
}

/**
 * Map `length` bytes of `fd` at `offset`. The returned ArrayBuffer views the mapping directly; it is
 * unmapped when garbage-collected or by {@link munmap}.
 *
 * @param prot - defaults to `PROT_READ | PROT_WRITE`
 * @param flags - defaults to `MAP_SHARED`
 * @throws {ErrnoError} EBADF, EINVAL, ENOMEM, … as `mmap(2)`
 */
export function mmap(fd: number, length: number | bigint, prot?: number, flags?: number, offset: number | bigint = 0): ArrayBuffer {
  const b = getBinding();
  const c = b.constants();
  return wrap(undefined, () => b.mmap(fd, length, prot ?? c.PROT_READ | c.PROT_WRITE, flags ?? c.MAP_SHARED, offset));
}

/**
 * Unmap a buffer returned by {@link mmap}. The ArrayBuffer is detached first, so any later access
 * through it sees a zero-length buffer (reads give `undefined`, `DataView` accessors throw a
 * `TypeError`) instead of touching unmapped memory.
 *
 * @throws {ErrnoError} EINVAL when the buffer is not a live mapping made by this thread
 */
export function munmap(buffer: ArrayBuffer): void {
  wrap(undefined, () => getBinding().munmap(buffer));
}

/** Host virtual address of a buffer's first byte (for `userspace_addr` fields). */
export function addressOf(buffer: ArrayBufferView | ArrayBuffer): bigint {
  return wrap(undefined, () => getBinding().addressOf(buffer));
}

/**
 * Create an anonymous memory file; returns its fd.
 *
 * @param flags - defaults to `MFD_CLOEXEC`
 * @throws {ErrnoError} EINVAL, EMFILE, …
 */
export function memfdCreate(name: string, flags?: number): number {
  const b = getBinding();
  return wrap(undefined, () => b.memfdCreate(name, flags ?? b.constants().MFD_CLOEXEC));
}

/**
 * Set a file's size.
 *
 * @throws {ErrnoError} EBADF, EINVAL, …
 */
export function ftruncate(fd: number, length: number | bigint): void {
  wrap(undefined, () => getBinding().ftruncate(fd, length));
}

/**
 * `read(fd, buffer)`; returns the byte count (0 at end of file).
 *
 * @throws {ErrnoError} EBADF, EAGAIN (non-blocking), EINTR (kicked), …
 */
export function read(fd: number, buffer: ArrayBufferView | ArrayBuffer): number {
  return wrap(undefined, () => getBinding().read(fd, buffer));
}

/**
 * `write(fd, buffer)`; returns the byte count.
 *
 * @throws {ErrnoError} EBADF, EAGAIN, …
 */
export function write(fd: number, buffer: ArrayBufferView | ArrayBuffer): number {
  return wrap(undefined, () => getBinding().write(fd, buffer));
}

/**
 * `pread(fd, buffer, position)`; returns the byte count.
 *
 * @throws {ErrnoError} EBADF, ESPIPE, …
 */
export function pread(fd: number, buffer: ArrayBufferView | ArrayBuffer, position: number | bigint): number {
  return wrap(undefined, () => getBinding().pread(fd, buffer, position));
}

/**
 * `pwrite(fd, buffer, position)`; returns the byte count.
 *
 * @throws {ErrnoError} EBADF, ESPIPE, …
 */
export function pwrite(fd: number, buffer: ArrayBufferView | ArrayBuffer, position: number | bigint): number {
  return wrap(undefined, () => getBinding().pwrite(fd, buffer, position));
}

/**
 * Create an eventfd (always close-on-exec); returns its fd.
 *
 * @param flags - `EFD_NONBLOCK`, `EFD_SEMAPHORE`; default 0
 * @throws {ErrnoError} EMFILE, …
 */
export function eventfd(initval = 0, flags = 0): number {
  return wrap(undefined, () => getBinding().eventfd(initval, flags));
}

/**
 * Read an eventfd's counter (resetting it, or decrementing by one in semaphore mode).
 *
 * @throws {ErrnoError} EAGAIN when non-blocking and zero; EINTR when kicked
 */
export function eventfdRead(fd: number): bigint {
  const v = new BigUint64Array(1);
  const n = read(fd, v);
  if (n !== 8) throw new ErrnoError(5 /* EIO */, 'read', 'eventfdRead');
  return v[0] ?? 0n;
}

/**
 * Add `value` (1 … 2^64 − 2) to an eventfd's counter.
 *
 * @throws {ErrnoError} EAGAIN when the counter would overflow on a non-blocking fd; EINVAL for 2^64 − 1
 */
export function eventfdWrite(fd: number, value: bigint | number = 1n): void {
  const n = write(fd, new BigUint64Array([BigInt(value)]));
  if (n !== 8) throw new ErrnoError(5 /* EIO */, 'write', 'eventfdWrite');
}

/**
 * Wait until `fd` has one of `events` (`POLLIN`…) or `timeoutMs` passes (−1: forever). Returns the
 * `revents`, 0 on timeout. Blocks the calling thread: use it on workers.
 *
 * @throws {ErrnoError} EINTR when kicked
 */
export function poll(fd: number, events: number, timeoutMs: number): number {
  return wrap(undefined, () => getBinding().poll(fd, events, timeoutMs));
}

/**
 * The system page size in bytes (4 KiB, 16 KiB and 64 KiB kernels exist: never assume 4096).
 */
export function pageSize(): number {
  return getBinding().pageSize();
}

/**
 * The real-time signal number used to kick threads out of blocking syscalls. Its handler does nothing
 * and is installed without `SA_RESTART`, so an interrupted syscall fails with `EINTR`.
 */
export function kickSignal(): number {
  return wrap(undefined, () => getBinding().kickSignal());
}

/**
 * A token naming the calling thread, for {@link kick}. Call it on the thread that will block (a
 * worker): it also unblocks the kick signal there. Send the token to the thread that will kick.
 */
export function currentThread(): bigint {
  return wrap(undefined, () => getBinding().currentThread());
}

/**
 * Interrupt a blocking syscall (`VCPU_RUN`, `read`, `poll`) in the thread named by `thread`: it fails
 * with `EINTR`. A kick sent while the thread is not blocked is lost; for `VCPU_RUN`, set the run
 * page's `immediate_exit` first so the next entry returns at once.
 *
 * @throws {ErrnoError} ESRCH when the thread has exited
 */
export function kick(thread: bigint): void {
  wrap(undefined, () => getBinding().kick(thread));
}
