/**
 * The contract between the TypeScript layers and whatever performs the syscalls: the native addon
 * by default, the in-memory fake (`@gunyah-ts/sys/fake`) in unit tests, or an emulator.
 *
 * Conventions every implementation follows:
 * - file descriptors are plain integers; a negative or unknown fd fails with `EBADF`;
 * - a failing syscall throws an object with a positive `errno` and a `syscall` name (the wrappers in
 *   this package turn it into an {@link ErrnoError}); argument misuse throws `TypeError`/`RangeError`;
 * - 64-bit quantities are accepted as `number` (safe integers) or `bigint`.
 *
 * @module
 */

/** A value passed as an ioctl argument: an integer, or a buffer whose address is passed. */
export type IoctlArg = number | bigint | ArrayBufferView | ArrayBuffer | undefined;

/** One pointer to patch into an ioctl argument struct: see {@link BindingModule.ioctlWithPtrs}. */
export interface PointerField {
  /** Byte offset in the outer buffer where the pointer (a native-endian u64) is written. */
  readonly offset: number;
  /** The buffer whose host address is written. It stays referenced for the whole call. */
  readonly buffer: ArrayBufferView | ArrayBuffer;
}

/** The C library constants the syscall layer passes through, as the running platform defines them. */
export interface SysConstants {
  /** `open(2)` read-only. */
  readonly O_RDONLY: number;
  /** `open(2)` write-only. */
  readonly O_WRONLY: number;
  /** `open(2)` read-write. */
  readonly O_RDWR: number;
  /** `open(2)` close-on-exec (always added by the addon). */
  readonly O_CLOEXEC: number;
  /** `open(2)` non-blocking. */
  readonly O_NONBLOCK: number;
  /** `mmap(2)` no access. */
  readonly PROT_NONE: number;
  /** `mmap(2)` readable. */
  readonly PROT_READ: number;
  /** `mmap(2)` writable. */
  readonly PROT_WRITE: number;
  /** `mmap(2)` executable. */
  readonly PROT_EXEC: number;
  /** `mmap(2)` shared mapping. */
  readonly MAP_SHARED: number;
  /** `mmap(2)` private mapping. */
  readonly MAP_PRIVATE: number;
  /** `mmap(2)` anonymous mapping. */
  readonly MAP_ANONYMOUS: number;
  /** `mmap(2)` do not reserve swap. */
  readonly MAP_NORESERVE: number;
  /** `memfd_create(2)` close-on-exec. */
  readonly MFD_CLOEXEC: number;
  /** `memfd_create(2)` allow sealing. */
  readonly MFD_ALLOW_SEALING: number;
  /** `eventfd(2)` close-on-exec (always added by the addon). */
  readonly EFD_CLOEXEC: number;
  /** `eventfd(2)` non-blocking. */
  readonly EFD_NONBLOCK: number;
  /** `eventfd(2)` semaphore semantics. */
  readonly EFD_SEMAPHORE: number;
  /** `poll(2)` readable. */
  readonly POLLIN: number;
  /** `poll(2)` writable. */
  readonly POLLOUT: number;
  /** `poll(2)` error. */
  readonly POLLERR: number;
  /** `poll(2)` hang-up. */
  readonly POLLHUP: number;
}

/**
 * The syscall surface. The native addon implements it; so does the fake and any emulator.
 * Methods are synchronous and may block (`ioctl` of `VCPU_RUN`, `poll`): call those on worker threads.
 */
export interface BindingModule {
  /** `open(path, flags | O_CLOEXEC, mode)`; returns the fd. */
  open(path: string, flags: number, mode?: number): number;
  /** `close(fd)`. */
  close(fd: number): void;
  /** `ioctl(fd, request, arg)`; a buffer argument passes its address. Returns the non-negative result. */
  ioctl(fd: number, request: number, arg?: IoctlArg): number;
  /**
   * `ioctl(fd, request, buf)` after writing the host address of each `ptrs[i].buffer` into `buf` at
   * `ptrs[i].offset` (native-endian u64); every buffer stays alive for the call.
   */
  ioctlWithPtrs(fd: number, request: number, buf: ArrayBufferView | ArrayBuffer, ptrs: readonly PointerField[]): number;
  /** `mmap(NULL, length, prot, flags, fd, offset)` as an ArrayBuffer over the mapping. */
  mmap(fd: number, length: number | bigint, prot: number, flags: number, offset: number | bigint): ArrayBuffer;
  /** Detach the ArrayBuffer returned by `mmap`, then `munmap` it. */
  munmap(buffer: ArrayBuffer): void;
  /** Host virtual address of a buffer's first byte. */
  addressOf(buffer: ArrayBufferView | ArrayBuffer): bigint;
  /** `memfd_create(name, flags)`; returns the fd. */
  memfdCreate(name: string, flags: number): number;
  /** `ftruncate(fd, length)`. */
  ftruncate(fd: number, length: number | bigint): void;
  /** `read(fd, buffer)`; returns the byte count. */
  read(fd: number, buffer: ArrayBufferView | ArrayBuffer): number;
  /** `write(fd, buffer)`; returns the byte count. */
  write(fd: number, buffer: ArrayBufferView | ArrayBuffer): number;
  /** `pread(fd, buffer, position)`; returns the byte count. */
  pread(fd: number, buffer: ArrayBufferView | ArrayBuffer, position: number | bigint): number;
  /** `pwrite(fd, buffer, position)`; returns the byte count. */
  pwrite(fd: number, buffer: ArrayBufferView | ArrayBuffer, position: number | bigint): number;
  /** `eventfd(initval, flags | EFD_CLOEXEC)`; returns the fd. */
  eventfd(initval: number, flags: number): number;
  /** `poll` on one fd; returns `revents`, 0 on timeout. */
  poll(fd: number, events: number, timeoutMs: number): number;
  /** `sysconf(_SC_PAGESIZE)`. */
  pageSize(): number;
  /** The real-time signal used to kick blocked threads (installing its no-op handler once). */
  kickSignal(): number;
  /** A token for the calling thread, with the kick signal unblocked in it. */
  currentThread(): bigint;
  /** Interrupt a blocking syscall in the thread named by `thread` (it returns `EINTR`). */
  kick(thread: bigint): void;
  /** Platform values of the flags above. */
  constants(): SysConstants;
  /**
   * Optional (the addon has it; fakes need not): run the vCPU behind `fd` with `ioctl(fd, request,
   * 0)` until an exit the MMIO write sink described by `sink` does not absorb, absorbing the others
   * without returning (rules: `mmio-sink.ts`; build the arguments with `prepareMmioSink`).
   *
   * @param fd - the vCPU fd
   * @param request - its run ioctl (`GUNYAH_VCPU_RUN`, or `KVM_RUN` in the emulator)
   * @param page - the run page mapping
   * @param layout - `encodeMmioExitLayout` of where `page` keeps an MMIO exit
   * @param sink - `encodeMmioSink` of the sink
   * @param state - the sink's words (over a `SharedArrayBuffer`)
   * @param bytes - the sink's buffer (over a `SharedArrayBuffer`)
   * @returns the result of the last ioctl, whose exit is in `page` for the caller
   */
  runMmioSink?(fd: number, request: number, page: ArrayBuffer | ArrayBufferView, layout: Int32Array, sink: Int32Array, state: Int32Array, bytes: Uint8Array): number;
}
