/**
 * `@gunyah-ts/sys`: the syscall layer of gunyah-ts. Every syscall the toolkit makes goes through
 * one small native addon (or an injected binding: a fake or an emulator), wrapped here with typed
 * errors. Also home of the request-number encoder and the Gunyah hypercall ABI (data only).
 *
 * @packageDocumentation
 */
export type { BindingModule, IoctlArg, PointerField, SysConstants } from './binding.js';
export { ErrnoError, errnoName, errnoValue } from './errno.js';
export {
  BindingLoadError,
  BUILD_BINDING_PATH,
  PREBUILD_BINDING_PATH,
  getBinding,
  loadNativeBinding,
  nativeBindingAvailable,
  setBinding,
  type LoadAttempt,
} from './load.js';
export {
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
  open,
  pageSize,
  poll,
  pread,
  pwrite,
  read,
  sysConstants,
  write,
} from './syscalls.js';
export {
  GUNYAH_MMIO_EXIT_LAYOUT,
  MMIO_EXIT_LAYOUT_WORDS,
  MMIO_SINK_MAX_CONDITIONS,
  MMIO_SINK_WORDS,
  absorbMmioWrite,
  encodeMmioExitLayout,
  encodeMmioSink,
  prepareMmioSink,
  runMmioSinkLoop,
  runWithMmioSink,
  type MmioExitLayout,
  type MmioSink,
  type MmioSinkCondition,
  type MmioSinkFlags,
  type PreparedMmioSink,
} from './mmio-sink.js';
export { IOC_DIR, decodeIoc, io, ioc, ior, iow, iowr, type IocDir, type IocFields } from './ioc.js';
export * from './uapi/index.js';
export * from './hypercall/index.js';
