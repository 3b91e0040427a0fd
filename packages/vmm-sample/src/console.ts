/**
 * The guest console: stdin → the UART's receive FIFO (with back-pressure), the UART's output →
 * stdout, raw mode when stdin is a terminal (restored on every exit path), and QEMU's escape keys:
 * Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A h prints help.
 *
 * @module
 */
import type { Readable, Writable } from 'node:stream';

/** The escape key: Ctrl-A. */
export const ESCAPE_BYTE = 0x01;

/** What {@link EscapeFilter.feed} found in the input. */
export type EscapeEvent =
  | {
      /** Bytes for the guest. */
      readonly kind: 'data';
      /** The bytes. */
      readonly bytes: Uint8Array;
    }
  | {
      /** Ctrl-A x: quit the VMM. */
      readonly kind: 'quit';
    }
  | {
      /** Ctrl-A h: show the escape keys. */
      readonly kind: 'help';
    };

/** Help text for Ctrl-A h. */
export const ESCAPE_HELP = '\r\nC-a x    quit the VMM\r\nC-a C-a  send C-a to the guest\r\nC-a h    this help\r\n';

/**
 * Splits console input into guest bytes and escape commands. Stateful across chunks: a Ctrl-A at
 * the end of one chunk pairs with the first byte of the next. Unknown escape keys are dropped.
 *
 * @example
 * ```ts
 * const f = new EscapeFilter();
 * f.feed(Uint8Array.of(0x6c, 0x73, 0x01, 0x78)); // [{ kind: 'data', bytes: 'ls' }, { kind: 'quit' }]
 * ```
 */
export class EscapeFilter {
  #pending = false;

  /** Process one chunk of input. */
  feed(chunk: Uint8Array): EscapeEvent[] {
    const out: EscapeEvent[] = [];
    let data: number[] = [];
    const flush = (): void => {
      if (data.length > 0) out.push({ kind: 'data', bytes: Uint8Array.from(data) });
      data = [];
    };
    for (const b of chunk) {
      if (this.#pending) {
        this.#pending = false;
        if (b === ESCAPE_BYTE) data.push(ESCAPE_BYTE);
        else if (b === 0x78 || b === 0x58) {
          flush();
          out.push({ kind: 'quit' });
        } else if (b === 0x68 || b === 0x48 || b === 0x3f) {
          flush();
          out.push({ kind: 'help' });
        }
        continue;
      }
      if (b === ESCAPE_BYTE) this.#pending = true;
      else data.push(b);
    }
    flush();
    return out;
  }
}

/** The part of the UART the console talks to. */
export interface ConsoleUart {
  /** Queue input; returns how many bytes fit. */
  enqueue(bytes: Uint8Array): number;
  /** Called when the guest drains the receive FIFO. */
  onRxSpace: (() => void) | undefined;
  /** Writes out output the UART batches itself (a shared UART served by vCPU workers). */
  flushOutput?(): void;
}

/** A stdin-like stream, maybe a terminal. */
export type ConsoleInput = Readable & {
  /** Set on terminals. */
  readonly isTTY?: boolean;
  /** Terminals: switch raw mode. */
  setRawMode?: (raw: boolean) => unknown;
};

/** Options of {@link Console}. */
export interface ConsoleOptions {
  /** Where console input comes from (`undefined`: no input). */
  readonly input: ConsoleInput | undefined;
  /** Where guest output goes. */
  readonly output: Writable;
  /** Called on Ctrl-A x. */
  readonly onQuit: () => void;
  /** Recognise the Ctrl-A escapes (default true). */
  readonly escapes?: boolean;
  /** Most input bytes held while the guest is not reading (default 64 KiB); the input is paused above it. */
  readonly highWater?: number;
}

const OUT_CHUNK = 4096;
const FLUSH_DELAY_MS = 5;

/**
 * Connects a UART to the host's terminal. Output bytes are batched (one `write` per burst, not per
 * byte); input is held in a bounded queue and fed to the UART as its FIFO drains.
 */
export class Console {
  readonly #opts: ConsoleOptions;
  readonly #filter = new EscapeFilter();
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  #uart: ConsoleUart | undefined;
  #out = new Uint8Array(OUT_CHUNK);
  #outLen = 0;
  #flushScheduled = false;
  #raw = false;
  #paused = false;
  #closed = false;
  readonly #onData = (chunk: Buffer | string): void => this.#input(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  readonly #restore = (): void => this.#restoreTty();

  /** @param options - streams and callbacks */
  constructor(options: ConsoleOptions) {
    this.#opts = options;
  }

  /** Whether stdin was switched to raw mode. */
  get raw(): boolean {
    return this.#raw;
  }

  /** Input bytes waiting for the guest. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Start forwarding input to `uart` (raw mode if the input is a terminal). Attaching again (a VM
   * rebuilt by `--reboot`) moves the input to the new UART.
   */
  attach(uart: ConsoleUart): void {
    if (this.#uart !== undefined && this.#uart !== uart) this.#uart.onRxSpace = undefined;
    const first = this.#uart === undefined;
    this.#uart = uart;
    uart.onRxSpace = () => queueMicrotask(() => this.#feed());
    const input = this.#opts.input;
    if (input === undefined || !first || this.#closed) return;
    if (input.isTTY === true && typeof input.setRawMode === 'function') {
      input.setRawMode(true);
      this.#raw = true;
      process.once('exit', this.#restore);
    }
    input.on('data', this.#onData);
    input.resume();
  }

  /** One byte of guest output (the UART's output sink). */
  writeByte(byte: number): void {
    if (this.#closed) return;
    this.#out[this.#outLen++] = byte;
    if (this.#outLen === OUT_CHUNK) this.flush();
    else if (!this.#flushScheduled) {
      // Coalesce: one write per burst of exits (each exit is its own event-loop turn), a few
      // milliseconds at most behind the guest, which nobody typing can see.
      this.#flushScheduled = true;
      setTimeout(() => this.flush(), FLUSH_DELAY_MS).unref();
    }
  }

  /** Write out buffered guest output now. */
  flush(): void {
    this.#uart?.flushOutput?.();
    this.#flushScheduled = false;
    if (this.#outLen === 0) return;
    this.#opts.output.write(this.#out.slice(0, this.#outLen));
    this.#outLen = 0;
  }

  /** Write text from the VMM itself (help, notices) to the console. */
  notice(text: string): void {
    this.flush();
    this.#opts.output.write(text);
  }

  #input(chunk: Uint8Array): void {
    if (this.#closed) return;
    const events = this.#opts.escapes === false ? [{ kind: 'data', bytes: chunk } as const] : this.#filter.feed(chunk);
    for (const e of events) {
      if (e.kind === 'quit') {
        this.#opts.onQuit();
        return;
      }
      if (e.kind === 'help') this.notice(ESCAPE_HELP);
      else {
        this.#queue.push(e.bytes);
        this.#queued += e.bytes.length;
      }
    }
    this.#feed();
    const high = this.#opts.highWater ?? 64 * 1024;
    if (this.#queued > high && !this.#paused) {
      this.#paused = true;
      this.#opts.input?.pause();
    }
  }

  #feed(): void {
    const uart = this.#uart;
    if (uart === undefined || this.#closed) return;
    while (this.#queue.length > 0) {
      const head = this.#queue[0] as Uint8Array;
      const n = uart.enqueue(head);
      this.#queued -= n;
      if (n < head.length) {
        this.#queue[0] = head.subarray(n);
        break;
      }
      this.#queue.shift();
    }
    if (this.#paused && this.#queued <= (this.#opts.highWater ?? 64 * 1024) / 2) {
      this.#paused = false;
      this.#opts.input?.resume();
    }
  }

  #restoreTty(): void {
    if (!this.#raw) return;
    this.#raw = false;
    try {
      this.#opts.input?.setRawMode?.(false);
    } catch {
      // the terminal may be gone
    }
  }

  /** Flush output, stop reading input, restore the terminal. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    const input = this.#opts.input;
    if (input !== undefined) {
      input.off('data', this.#onData);
      input.pause();
    }
    this.#restoreTty();
    process.off('exit', this.#restore);
    if (this.#uart !== undefined) this.#uart.onRxSpace = undefined;
  }
}
