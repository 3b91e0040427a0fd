/**
 * `@gunyah-ts/sys/fake`: an in-memory fake `/dev/gunyah` that runs purely in JavaScript. It is a
 * `BindingModule`, so every layer above `@gunyah-ts/sys` can run against it unchanged, and it
 * enforces the per-variant ordering, validation rules and errnos of spec/gunyah-uapi.md §4–§6.
 * The rule table ({@link GUNYAH_RULES}) and the VM state machine ({@link DriverModel}) are exported
 * for emulators.
 *
 * @packageDocumentation
 */
export { FakeGunyah, createFakeGunyah, formatCall, type FakeCallRecord, type FakeGunyahOptions } from './fake-gunyah.js';
export {
  DriverModel,
  VcpuModel,
  type DriverHost,
  type GuestEvent,
  type GuestExitEvent,
  type GuestMmioEvent,
  type GuestPageFaultEvent,
  type GuestSignalEvent,
  type PendingMmio,
  type GuestMemBinding,
  type GuestMemFile,
  type IoeventfdEntry,
  type IrqfdEntry,
  type MmioCompletion,
  type ModelExitInfo,
  type RmStartError,
  type StartRecord,
  type UserRegion,
  type VmModelStatus,
} from './driver-model.js';
export { GUNYAH_RULES, rulesFor, type DriverErrno, type DtbRule, type GunyahDriverRules } from './rules.js';
export { AddressSpace, MemFile, isDetached } from './memory.js';
