/**
 * `@gunyah-ts/vm-memory/loader`: the arm64 Linux boot payload. Parses and validates `Image` headers
 * (raw or gzip), plans where kernel, initrd and DTB go (boot-protocol and Gunyah rules), loads them
 * into a `GuestMemory` without staging whole files, and builds validated kernel command lines.
 *
 * @packageDocumentation
 */
export { ARM64_CMDLINE_CAPACITY, Cmdline } from './cmdline.js';
export { CmdlineError, ImageLoadError, LayoutError, type CmdlineErrorCode, type ImageLoadErrorCode, type LayoutErrorCode } from './errors.js';
export {
  ARM64_IMAGE_HEADER_SIZE,
  ARM64_IMAGE_MAGIC,
  ARM64_KERNEL_ALIGNMENT,
  ARM64_LEGACY_TEXT_OFFSET,
  detectCompression,
  parseArm64ImageHeader,
  type Arm64ImageHeader,
  type ImageCompression,
  type KernelPageSize,
  type ParseImageOptions,
} from './image.js';
export {
  DEFAULT_DTB_RESERVED_SIZE,
  DEFAULT_GUEST_BASE,
  DEFAULT_MEM_SIZE,
  MAX_DTB_SIZE,
  planLayout,
  type KernelLayoutInfo,
  type LayoutOptions,
  type LayoutPlan,
  type PlacedRange,
} from './layout.js';
export {
  inspectKernel,
  loadInitrd,
  loadKernel,
  loadLinux,
  writeDtb,
  type ImageSource,
  type KernelInfo,
  type LoadedKernel,
  type LoadedRange,
  type LoadLinuxOptions,
  type LoadLinuxResult,
} from './load.js';
