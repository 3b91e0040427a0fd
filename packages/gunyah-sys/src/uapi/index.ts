/**
 * Raw bindings of the `/dev/gunyah` uapi: request numbers, constants per variant, struct codecs and
 * the vCPU run page. Re-exported by `@gunyah-ts/ioctls`, where most users import them from.
 *
 * @module
 */
export * from './constants.js';
export * from './errors.js';
export {
  AddressRange,
  AuthDesc,
  CreateMemArgs,
  FnDesc,
  FnIoeventfdArg,
  FnIrqfdArg,
  FnVcpuArg,
  MapCmaMemArgs,
  MapMemArgs,
  QtvmAuthArg,
  STRUCT_CODECS,
  UserspaceMemoryRegion,
  VmBootContext,
  VmDtbConfig,
  VmExitInfo,
  VmFirmwareConfig,
  bootContextReg,
  type EncodeInput,
  type GuestRange,
  type StructCodec,
} from './structs.js';
export * from './run-page.js';
