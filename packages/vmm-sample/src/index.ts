/**
 * `@gunyah-ts/vmm-sample`: the reference VMM of gunyah-ts and the building blocks it is made of —
 * an MMIO bus, a 16550A UART console, and command-line parsing helpers.
 *
 * @packageDocumentation
 */
export { BusError, MmioBus, type BusErrorCode, type BusHit, type BusRange, type MmioAccess, type MmioDevice, type MmioResult } from './bus.js';
export { UART_FIFO_SIZE, Uart8250, type Uart8250Options, type UartStats } from './devices/uart8250.js';
export { formatSize, parseAddress, parseSize } from './size.js';
