/**
 * `@gunyah-ts/vmm-sample`: the reference VMM of gunyah-ts — `Vmm.create(config)` → `run()` boots an
 * arm64 Linux guest on Gunyah (or on KVM through `@gunyah-ts/emu`) — and the building blocks it is
 * made of: the VM plan, an MMIO bus, a 16550A UART console, backend selection and command-line
 * parsing.
 *
 * @packageDocumentation
 */
export { BusError, MmioBus, type BusErrorCode, type BusHit, type BusRange, type MmioAccess, type MmioDevice, type MmioResult } from './bus.js';
export {
  UART_FIFO_SIZE,
  UART_OUT_BUFFER,
  Uart8250,
  UartError,
  type UartErrorCode,
  type Uart8250Options,
  type UartLocalOptions,
  type UartSharedOptions,
  type UartStats,
} from './devices/uart8250.js';
export { formatSize, parseAddress, parseSize } from './size.js';
export {
  ConfigError,
  DEFAULTS,
  MAX_CPUS,
  USAGE,
  parseCommandLine,
  type AbiChoice,
  type BackendChoice,
  type CommandLine,
  type ConfigErrorCode,
  type Verbosity,
  type VmmConfig,
  MAX_DISKS,
  parseDiskSpec,
  type VirtioDiskConfig,
} from './config.js';
export {
  VIRTIO_FIRST_SPI,
  VIRTIO_MMIO_BASE,
  VirtioSet,
  checkDisks,
  describeVirtio,
  generatedVirtioWindows,
  placeGenerated,
  placeInUserDt,
  virtioRequests,
  type AttachedVirtio,
  type PlannedVirtioDevice,
  type VirtioAttachOptions,
  type VirtioDeviceKind,
  type VirtioRequest,
} from './virtio.js';
export { formatPlan, planVm, type MemoryRegistration, type PlanInputs, type PlannedUart, type Variant, type VmPlan } from './plan.js';
export { selectBackend, type Backend, type EmulatorAvailability, type EmulatorInstance, type EmulatorModule, type SelectBackendOptions } from './backend.js';
export { Console, ESCAPE_BYTE, ESCAPE_HELP, EscapeFilter, type ConsoleInput, type ConsoleOptions, type ConsoleUart, type EscapeEvent } from './console.js';
export {
  EXIT_STATUS,
  Vmm,
  VmmError,
  dryRunPlan,
  readInputs,
  type VmmDeps,
  type VmmErrorCode,
  type VmmExit,
  type VmmExitInfo,
  type VmmExitReason,
  type VmmInputs,
  type VmmStats,
} from './vmm.js';
export { describeError, runVmmCli, type ErrorReport, type VmmCliOptions } from './run-cli.js';
