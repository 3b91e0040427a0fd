/**
 * `@gunyah-ts/devicetree`: a flattened-devicetree (DTB) writer and parser, a DTS printer,
 * overlay application as libfdt does it, and the devicetree a Gunyah VMM hands to the Resource
 * Manager (generator and validator).
 * @packageDocumentation
 */

/** Version of this package's public API surface. */
export const VERSION = '0.1.0';

export {
  FdtError,
  FdtParseError,
  FdtPropertyError,
  OverlayError,
  GunyahDtConfigError,
  type FdtErrorCode,
  type FdtParseErrorCode,
  type FdtPropertyErrorCode,
  type OverlayErrorCode,
  type GunyahDtConfigErrorCode,
} from './errors.js';
export { FDT_MAGIC, FDT_VERSION, FDT_LAST_COMP_VERSION, FDT_HEADER_SIZE, FDT_V16_HEADER_SIZE } from './format.js';
export { FdtWriter, type FdtWriterOptions, type FdtNodeHandle, type MemReservation } from './writer.js';
export { FdtProperty, FdtNode, DeviceTree, type FdtNodeEntry } from './tree.js';
export { parseDtb, readHeader, type ParseOptions, type FdtHeader } from './parser.js';
export { serializeDtb, type SerializeOptions } from './serialize.js';
export { toDts, formatValue, type DtsOptions } from './dts.js';
export { applyOverlay, buildOverlay, type OverlayFragment } from './overlay.js';
export {
  buildGunyahVmDt,
  GUNYAH_MAX_VCPUS,
  GUNYAH_GIC_SPIS,
  GICR_FRAME_SIZE,
  GICD_SIZE,
  GIC_PHANDLE,
  type GunyahVmDtConfig,
  type GunyahMemoryConfig,
  type GunyahGicConfig,
  type GunyahTimerConfig,
  type GunyahPsciConfig,
  type GunyahUartConfig,
  type GunyahInitrd,
  type GunyahChosenConfig,
  type ResolvedGunyahUart,
  type VirtioMmioDevice,
  type GunyahDoorbell,
  type ResolvedGunyahVmDtConfig,
  type GunyahVmDt,
} from './gunyah.js';
export {
  validateGunyahVmDt,
  validateGunyahVmDtb,
  GUNYAH_MAX_DTB_SIZE,
  type GunyahDtRule,
  type GunyahDtViolation,
} from './validate.js';
export {
  readGunyahVmConfig,
  buildRmGuestOverlay,
  applyRmGuestOverlay,
  RmDtError,
  type RmDtErrorCode,
  type GunyahVmConfigInfo,
  type GunyahVdeviceInfo,
  type GunyahCpuInfo,
  type RmMemoryRange,
  type RmGuestOverlayOptions,
} from './rm.js';
export { runCli, type CliIo } from './cli.js';
