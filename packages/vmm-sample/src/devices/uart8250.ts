/**
 * A 16550A-compatible UART (what Linux's `8250` driver and `earlycon=uart8250,mmio,…` expect), as a
 * register model: the device knows only register reads and writes; output goes to a sink, input is
 * queued with {@link Uart8250.enqueue}, interrupts are signalled through a `trigger` callback.
 *
 * Transmission is instant: the transmit holding register is always empty again after a write, so
 * LSR always reports THRE | TEMT and a THR-empty interrupt follows every write when enabled.
 *
 * @module
 */
import type { MmioDevice } from '../bus.js';

// Register offsets (DLAB = 0 unless noted).
const RBR_THR_DLL = 0;
const IER_DLM = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

const IER_RDA = 0x01; // received data available
const IER_THRE = 0x02; // transmit holding register empty
const IER_RLS = 0x04; // receiver line status
const IER_MS = 0x08; // modem status

const IIR_NONE = 0x01;
const IIR_RLS = 0x06;
const IIR_RDA = 0x04;
const IIR_THRE = 0x02;
const IIR_MS = 0x00;
const IIR_FIFO_ENABLED = 0xc0;

const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;

const LCR_DLAB = 0x80;

const MCR_LOOP = 0x10;

const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

const MSR_DEFAULT = 0xb0; // DCD | DSR | CTS asserted, no deltas

/** Receive FIFO depth of a 16550A. */
export const UART_FIFO_SIZE = 64;

/** Counters a UART keeps, e.g. for `--verbose` output or tests. */
export interface UartStats {
  /** Bytes the guest transmitted. */
  readonly txBytes: number;
  /** Bytes the guest received. */
  readonly rxBytes: number;
  /** Input bytes refused because the receive FIFO was full. */
  readonly rxDropped: number;
  /** Times the interrupt callback fired. */
  readonly interrupts: number;
}

/** Construction options of {@link Uart8250}. */
export interface Uart8250Options {
  /** Receives every byte the guest transmits. */
  readonly output: (byte: number) => void;
  /** Called when an interrupt condition becomes pending (edge semantics, e.g. an irqfd write). */
  readonly trigger?: () => void;
}

/**
 * The UART register model.
 *
 * @example
 * ```ts
 * const uart = new Uart8250({ output: (b) => process.stdout.write(Uint8Array.of(b)), trigger: () => eventfdWrite(irqfd) });
 * bus.register(0x3f8n, 8n, uart, 'uart');
 * uart.enqueue(new TextEncoder().encode('ls\n'));
 * ```
 */
export class Uart8250 implements MmioDevice {
  readonly #output: (byte: number) => void;
  readonly #trigger: () => void;
  #ier = 0;
  #lcr = 0x03; // 8N1
  #mcr = 0x08; // OUT2
  #msr = MSR_DEFAULT;
  #scr = 0;
  #dll = 0x0c; // 9600 baud at 1.8432 MHz
  #dlm = 0;
  #fifoEnabled = false;
  #overrun = false;
  #thrEmptyPending = false;
  readonly #rx: number[] = [];
  #stats = { txBytes: 0, rxBytes: 0, rxDropped: 0, interrupts: 0 };

  /** @param options - output sink and interrupt callback */
  constructor(options: Uart8250Options) {
    this.#output = options.output;
    this.#trigger = options.trigger ?? (() => {});
  }

  /** Counters since creation. */
  get stats(): UartStats {
    return { ...this.#stats };
  }

  /** Free space in the receive FIFO. */
  get rxSpace(): number {
    return UART_FIFO_SIZE - this.#rx.length;
  }

  /**
   * Queue input for the guest; returns how many bytes fit into the receive FIFO (the rest are the
   * caller's to retry later, e.g. when {@link Uart8250.onRxSpace} fires).
   */
  enqueue(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.rxSpace);
    if (n === 0) return 0;
    const wasEmpty = this.#rx.length === 0;
    for (let i = 0; i < n; i++) this.#rx.push(bytes[i] as number);
    if (wasEmpty && this.#ier & IER_RDA) this.#raise();
    return n;
  }

  /** Set by the owner to learn when the guest drains the receive FIFO (to feed queued input). */
  onRxSpace: (() => void) | undefined = undefined;

  #raise(): void {
    this.#stats.interrupts++;
    this.#trigger();
  }

  #iir(): number {
    const fifo = this.#fifoEnabled ? IIR_FIFO_ENABLED : 0;
    if (this.#ier & IER_RLS && this.#overrun) return IIR_RLS | fifo;
    if (this.#ier & IER_RDA && this.#rx.length > 0) return IIR_RDA | fifo;
    if (this.#ier & IER_THRE && this.#thrEmptyPending) return IIR_THRE | fifo;
    if (this.#ier & IER_MS && this.#msr & 0x0f) return IIR_MS | fifo;
    return IIR_NONE | fifo;
  }

  #loopMsr(): number {
    // In loopback, the modem inputs follow the outputs: CTS←RTS, DSR←DTR, RI←OUT1, DCD←OUT2.
    const m = this.#mcr;
    return ((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4);
  }

  /** Register read (only byte accesses are meaningful; wider reads return the byte, zero-extended). */
  read(offset: number, _size: number): bigint {
    const dlab = (this.#lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case RBR_THR_DLL: {
        if (dlab) return BigInt(this.#dll);
        const b = this.#rx.shift();
        if (b === undefined) return 0n;
        this.#stats.rxBytes++;
        if (this.#rx.length === 0 && this.onRxSpace) this.onRxSpace();
        return BigInt(b);
      }
      case IER_DLM:
        return BigInt(dlab ? this.#dlm : this.#ier);
      case IIR_FCR: {
        const iir = this.#iir();
        // Reading IIR while it reports THR empty acknowledges that interrupt.
        if ((iir & 0x0f) === IIR_THRE) this.#thrEmptyPending = false;
        return BigInt(iir);
      }
      case LCR:
        return BigInt(this.#lcr);
      case MCR:
        return BigInt(this.#mcr);
      case LSR: {
        let lsr = LSR_THRE | LSR_TEMT;
        if (this.#rx.length > 0) lsr |= LSR_DR;
        if (this.#overrun) lsr |= LSR_OE;
        this.#overrun = false;
        return BigInt(lsr);
      }
      case MSR: {
        const v = this.#mcr & MCR_LOOP ? this.#loopMsr() : this.#msr;
        this.#msr &= 0xf0; // reading clears the delta bits
        return BigInt(v);
      }
      case SCR:
        return BigInt(this.#scr);
      default:
        return 0n;
    }
  }

  /** Register write (the low byte of `value` is used). */
  write(offset: number, _size: number, value: bigint): void {
    const v = Number(value & 0xffn);
    const dlab = (this.#lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case RBR_THR_DLL:
        if (dlab) {
          this.#dll = v;
          return;
        }
        if (this.#mcr & MCR_LOOP) {
          if (this.#rx.length < UART_FIFO_SIZE) this.#rx.push(v);
          else this.#overrun = true;
        } else {
          this.#stats.txBytes++;
          this.#output(v);
        }
        this.#thrEmptyPending = true;
        if (this.#ier & IER_THRE || (this.#mcr & MCR_LOOP && this.#ier & IER_RDA)) this.#raise();
        return;
      case IER_DLM:
        if (dlab) {
          this.#dlm = v;
          return;
        }
        {
          const before = this.#ier;
          this.#ier = v & 0x0f;
          // Enabling the THR-empty interrupt while THR is empty (always) makes it pending at once.
          if (this.#ier & IER_THRE && !(before & IER_THRE)) this.#thrEmptyPending = true;
          if ((this.#iir() & 0x0f) !== IIR_NONE) this.#raise();
        }
        return;
      case IIR_FCR:
        this.#fifoEnabled = (v & FCR_ENABLE) !== 0;
        if (v & FCR_CLEAR_RX) this.#rx.length = 0;
        return;
      case LCR:
        this.#lcr = v;
        return;
      case MCR:
        this.#mcr = v & 0x1f;
        return;
      case SCR:
        this.#scr = v;
        return;
      default:
        // LSR and MSR are read-only; writes are ignored like on the real part.
        return;
    }
  }
}
