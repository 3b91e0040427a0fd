/**
 * `@gunyah-ts/vm-memory`: guest-physical addresses that cannot be confused with offsets, guest memory
 * validated on construction (sorted, non-overlapping regions), bounds-checked accesses that may span
 * adjacent regions, `ArrayBuffer` and memfd backings, and the shared-versus-lent host-access rule of
 * Gunyah. The arm64 Linux loader lives in the `./loader` subpath.
 *
 * @packageDocumentation
 */
export {
  MAX_GUEST_ADDRESS,
  addressAdd,
  addressDiff,
  alignDown,
  alignUp,
  checkedAdd,
  checkedSub,
  formatAddress,
  guestAddress,
  isAligned,
  type GuestAddress,
} from './address.js';
export { BufferBacking, MemfdBacking, type BackingKind, type GuestMemoryBacking, type MemfdBackingOptions, type MemfdMapOptions } from './backing.js';
export { GuestMemoryError, type GuestMemoryErrorCode, type GuestMemoryErrorDetails } from './errors.js';
export {
  GuestMemory,
  type ByteCodec,
  type ByteSink,
  type GuestMemoryOptions,
  type GuestRegionInit,
  type MemfdMemoryOptions,
  type RegionDescriptor,
  type RevokeOptions,
} from './memory.js';
export { GuestMemoryRegion, type HostAccess, type RegionMode } from './region.js';

/**
 * Version of this package's public API surface.
 */
export const VERSION = '0.1.0';
