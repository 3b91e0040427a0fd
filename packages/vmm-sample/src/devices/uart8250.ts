/**
 * A 16550A-compatible UART (what Linux's `8250` driver and `earlycon=uart8250,mmio,…` expect), as a
 * register model: the device knows only register reads and writes; output goes to a sink, input is
 * queued with {@link Uart8250.enqueue}, interrupts are signalled through a `trigger` callback.
 *
 * Transmission is instant: the transmit holding register is always empty again after a write, so
 * LSR always reports THRE | TEMT and a THR-empty interrupt follows every write when enabled.
 *
 * State lives in an `Int32Array`: private to the instance, or (shared mode) in a
 * `SharedArrayBuffer` from {@link Uart8250.createSharedState} that several instances in different
 * threads use as one device (the main thread enqueues input; vCPU workers answer register
 * accesses). In shared mode every operation holds a small spinlock in the buffer, so register
 * accesses from two vCPUs and input from the main thread are atomic; guest output is batched in the
 * buffer and written out in order by whichever instance flushes it.
 *
 * @module
 */
import type { MmioSink } from '@gunyah-ts/sys';
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

/** Bytes of guest output a shared state batches before it is written out. */
export const UART_OUT_BUFFER = 4096;

// Shared-state layout: Int32 words, then the RX ring (one byte per word), then the output bytes.
const W = {
  LOCK: 0,
  IER: 1,
  LCR: 2,
  MCR: 3,
  MSR: 4,
  SCR: 5,
  DLL: 6,
  DLM: 7,
  FLAGS: 8,
  RX_HEAD: 9,
  RX_COUNT: 10,
  TX_BYTES: 11,
  RX_BYTES: 12,
  RX_DROPPED: 13,
  INTERRUPTS: 14,
  /** Bumped (and notified) when the RX FIFO drains or output starts to wait: wakes the main thread. */
  EVENTS: 15,
  OUT_LEN: 16,
  MAGIC: 17,
  /** Held while a batch is written out (after it left the buffer under LOCK): keeps batches in order. */
  WLOCK: 18,
  RX: 20,
} as const;
const HEADER_WORDS = W.RX + UART_FIFO_SIZE;
const OUT_OFFSET = HEADER_WORDS * 4;
const STATE_BYTES = OUT_OFFSET + UART_OUT_BUFFER;
const STATE_MAGIC = 0x5541_5254; // 'UART'
const F_FIFO = 1;
const F_OVERRUN = 2;
const F_THR_PENDING = 4;

/** Codes of {@link UartError}. */
export type UartErrorCode = 'BAD_SHARED_STATE';

/** A shared UART state that is not one from {@link Uart8250.createSharedState}. */
export class UartError extends Error {
  /** Always `'UartError'`. */
  override readonly name = 'UartError';
  /** What went wrong. */
  readonly code: UartErrorCode;
  /**
   * @param code - what went wrong
   * @param message - details
   */
  constructor(code: UartErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

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

/** Options of a UART whose state is its own ({@link Uart8250Options}). */
export interface UartLocalOptions {
  /** Receives every byte the guest transmits. */
  readonly output: (byte: number) => void;
  /** Called when an interrupt condition becomes pending (edge semantics, e.g. an irqfd write). */
  readonly trigger?: () => void;
}

/** Options of a UART over a shared state ({@link Uart8250Options}). */
export interface UartSharedOptions {
  /** The state, from {@link Uart8250.createSharedState} (the same buffer in every instance). */
  readonly shared: SharedArrayBuffer;
  /**
   * Writes a batch of guest output, synchronously (e.g. `fs.writeSync` to the console fd). Called
   * with the lock held, so batches from all instances come out in the guest's order.
   */
  readonly write: (bytes: Uint8Array) => void;
  /** Called when an interrupt condition becomes pending (edge semantics, e.g. an irqfd write). */
  readonly trigger?: () => void;
}

/** Construction options of {@link Uart8250}: a private state, or a shared one. */
export type Uart8250Options = UartLocalOptions | UartSharedOptions;

// Node 20 has Atomics.waitAsync; the es2023 lib typings do not.
const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string };
  }
).waitAsync;

const OUTPUT_FLUSH_MS = 10;

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
  readonly #s: Int32Array;
  readonly #out: Uint8Array | undefined;
  readonly #shared: boolean;
  readonly #output: ((byte: number) => void) | undefined;
  readonly #write: ((bytes: Uint8Array) => void) | undefined;
  readonly #trigger: () => void;
  #onRxSpace: (() => void) | undefined = undefined;
  #watching = false;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * A fresh shared state (registers at their reset values, FIFOs empty) for
   * {@link UartSharedOptions.shared}.
   */
  static createSharedState(): SharedArrayBuffer {
    const sab = new SharedArrayBuffer(STATE_BYTES);
    Uart8250.#reset(new Int32Array(sab));
    return sab;
  }

  static #reset(s: Int32Array): void {
    s[W.LCR] = 0x03; // 8N1
    s[W.MCR] = 0x08; // OUT2
    s[W.MSR] = MSR_DEFAULT;
    s[W.DLL] = 0x0c; // 9600 baud at 1.8432 MHz
    s[W.MAGIC] = STATE_MAGIC;
  }

  /**
   * @param options - output sink and interrupt callback, or a shared state with its writer
   * @throws {UartError} BAD_SHARED_STATE when `shared` is not from {@link Uart8250.createSharedState}
   */
  constructor(options: Uart8250Options) {
    this.#trigger = options.trigger ?? (() => {});
    if ('shared' in options) {
      const sab: unknown = options.shared;
      if (!(sab instanceof SharedArrayBuffer) || sab.byteLength !== STATE_BYTES || new Int32Array(sab)[W.MAGIC] !== STATE_MAGIC) {
        throw new UartError('BAD_SHARED_STATE', 'the shared UART state must come from Uart8250.createSharedState()');
      }
      this.#s = new Int32Array(sab);
      this.#out = new Uint8Array(sab, OUT_OFFSET, UART_OUT_BUFFER);
      this.#shared = true;
      this.#output = undefined;
      this.#write = options.write;
    } else {
      this.#s = new Int32Array(HEADER_WORDS);
      Uart8250.#reset(this.#s);
      this.#out = undefined;
      this.#shared = false;
      this.#output = options.output;
      this.#write = undefined;
    }
  }

  /** Whether the state is shared ({@link UartSharedOptions}). */
  get shared(): boolean {
    return this.#shared;
  }

  /**
   * Shared mode: the transmit holding register as an MMIO write sink (`MmioSink` of
   * `@gunyah-ts/sys`), for a native run loop to serve guest output without calling {@link write}.
   * It absorbs exactly the THR writes whose effect is appending to the batched output and nothing
   * else: divisor latch off, no loopback, THR-empty interrupt off (so no interrupt is due), and a
   * batch already started and not about to fill (the first byte of a batch wakes the flusher, the
   * last one is written out: both stay with {@link write}). It then does what {@link write} does —
   * appends the byte, counts it, marks THR pending — under the same lock. Undefined for a private
   * state.
   *
   * @param base - guest-physical address of the UART's first register
   */
  txSink(base: bigint): MmioSink | undefined {
    if (!this.#shared || this.#out === undefined) return undefined;
    return {
      addr: base + BigInt(RBR_THR_DLL),
      state: this.#s,
      bytes: this.#out,
      lockWord: W.LOCK,
      lenWord: W.OUT_LEN,
      minLen: 1,
      capacity: UART_OUT_BUFFER,
      countWord: W.TX_BYTES,
      flags: { word: W.FLAGS, bits: F_THR_PENDING },
      conditions: [
        { word: W.LCR, mask: LCR_DLAB, value: 0 },
        { word: W.MCR, mask: MCR_LOOP, value: 0 },
        { word: W.IER, mask: IER_THRE, value: 0 },
      ],
    };
  }

  // A futex-style mutex: 0 free, 1 held, 2 held with (possible) sleepers. Only an unlock that finds
  // 2 pays for `Atomics.notify`, so the uncontended path (every MMIO exit) is two atomic operations.
  #lock(word: number = W.LOCK): void {
    if (!this.#shared) return;
    const s = this.#s;
    if (Atomics.compareExchange(s, word, 0, 1) === 0) return;
    // critical sections are a few register updates: spin briefly before sleeping
    for (let i = 0; i < 100; i++) {
      if (Atomics.load(s, word) === 0 && Atomics.compareExchange(s, word, 0, 1) === 0) return;
    }
    // mark the lock contended and sleep until an unlock wakes us (1 ms cap: never stuck for long)
    while (Atomics.exchange(s, word, 2) !== 0) Atomics.wait(s, word, 2, 1);
  }

  #unlock(word: number = W.LOCK): void {
    if (!this.#shared) return;
    if (Atomics.exchange(this.#s, word, 0) === 2) Atomics.notify(this.#s, word, 1);
  }

  #signal(): void {
    if (!this.#shared) return;
    Atomics.add(this.#s, W.EVENTS, 1);
    Atomics.notify(this.#s, W.EVENTS);
  }

  /** Counters since creation (of the shared state, in shared mode). */
  get stats(): UartStats {
    const s = this.#s;
    return { txBytes: Atomics.load(s, W.TX_BYTES), rxBytes: Atomics.load(s, W.RX_BYTES), rxDropped: Atomics.load(s, W.RX_DROPPED), interrupts: Atomics.load(s, W.INTERRUPTS) };
  }

  /** Free space in the receive FIFO. */
  get rxSpace(): number {
    return UART_FIFO_SIZE - Atomics.load(this.#s, W.RX_COUNT);
  }

  #rxPush(b: number): void {
    const s = this.#s;
    const count = s[W.RX_COUNT] as number;
    s[W.RX + (((s[W.RX_HEAD] as number) + count) % UART_FIFO_SIZE)] = b;
    Atomics.store(s, W.RX_COUNT, count + 1);
  }

  #rxShift(): number | undefined {
    const s = this.#s;
    const count = s[W.RX_COUNT] as number;
    if (count === 0) return undefined;
    const head = s[W.RX_HEAD] as number;
    const b = s[W.RX + head] as number;
    s[W.RX_HEAD] = (head + 1) % UART_FIFO_SIZE;
    Atomics.store(s, W.RX_COUNT, count - 1);
    return b;
  }

  /**
   * Queue input for the guest; returns how many bytes fit into the receive FIFO (the rest are the
   * caller's to retry later, e.g. when {@link Uart8250.onRxSpace} fires).
   */
  enqueue(bytes: Uint8Array): number {
    this.#lock();
    try {
      const s = this.#s;
      const n = Math.min(bytes.length, UART_FIFO_SIZE - (s[W.RX_COUNT] as number));
      if (n === 0) return 0;
      const wasEmpty = s[W.RX_COUNT] === 0;
      for (let i = 0; i < n; i++) this.#rxPush(bytes[i] as number);
      if (wasEmpty && (s[W.IER] as number) & IER_RDA) this.#raise();
      return n;
    } finally {
      this.#unlock();
    }
  }

  /**
   * Set by the owner to learn when the guest drains the receive FIFO (to feed queued input). In
   * shared mode, setting it on the main thread's instance also starts watching the shared state:
   * drains by other threads' instances call it, and their batched output is flushed within a few
   * milliseconds; setting `undefined` stops the watch.
   */
  get onRxSpace(): (() => void) | undefined {
    return this.#onRxSpace;
  }

  /**
   * Sets the drain callback (see the getter).
   *
   * @param fn - the callback, or `undefined` to stop (and, in shared mode, end the watch)
   */
  set onRxSpace(fn: (() => void) | undefined) {
    this.#onRxSpace = fn;
    if (!this.#shared) return;
    if (fn !== undefined) this.#watch();
    else this.#signal(); // wakes the watch loop, which sees no callback and ends
  }

  #watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    const s = this.#s;
    const loop = (seen: number): void => {
      if (this.#onRxSpace === undefined) {
        this.#watching = false;
        return;
      }
      const w = waitAsync(s, W.EVENTS, seen);
      const next = (): void => {
        const now = Atomics.load(s, W.EVENTS);
        if (this.#onRxSpace !== undefined) {
          if (Atomics.load(s, W.RX_COUNT) === 0) this.#onRxSpace();
          if (Atomics.load(s, W.OUT_LEN) > 0 && this.#flushTimer === undefined) {
            this.#flushTimer = setTimeout(() => {
              this.#flushTimer = undefined;
              this.flushOutput();
            }, OUTPUT_FLUSH_MS);
            this.#flushTimer.unref();
          }
        }
        loop(now);
      };
      if (w.async) void (w.value as Promise<string>).then(next);
      else next();
    };
    loop(Atomics.load(s, W.EVENTS));
  }

  /** Shared mode: write out the batched guest output now (no-op with a private state). */
  flushOutput(): void {
    if (!this.#shared || Atomics.load(this.#s, W.OUT_LEN) === 0) return;
    this.#lock();
    let batch: Uint8Array | undefined;
    try {
      batch = this.#takeOutput();
    } finally {
      this.#unlock();
    }
    this.#writeOut(batch);
  }

  /** Under LOCK: takes the batched output and the writer lock (released by {@link #writeOut}). */
  #takeOutput(): Uint8Array | undefined {
    const n = this.#s[W.OUT_LEN] as number;
    if (n === 0 || this.#out === undefined) return undefined;
    const batch = this.#out.slice(0, n);
    Atomics.store(this.#s, W.OUT_LEN, 0);
    // Taken before LOCK is released: batches are written in the order they left the buffer.
    this.#lock(W.WLOCK);
    return batch;
  }

  /** After LOCK is released: writes a batch from {@link #takeOutput}, then releases the writer lock. */
  #writeOut(batch: Uint8Array | undefined): void {
    if (batch === undefined) return;
    try {
      this.#write?.(batch);
    } finally {
      this.#unlock(W.WLOCK);
    }
  }

  /** Under LOCK: one output byte. Returns a full batch to write out after unlocking. */
  #emit(byte: number): Uint8Array | undefined {
    Atomics.add(this.#s, W.TX_BYTES, 1);
    if (!this.#shared) {
      this.#output?.(byte);
      return undefined;
    }
    const s = this.#s;
    const n = s[W.OUT_LEN] as number;
    (this.#out as Uint8Array)[n] = byte;
    Atomics.store(s, W.OUT_LEN, n + 1);
    if (n + 1 === UART_OUT_BUFFER) return this.#takeOutput();
    if (n === 0) this.#signal(); // output started to wait: the main thread flushes it soon
    return undefined;
  }

  #raise(): void {
    Atomics.add(this.#s, W.INTERRUPTS, 1);
    this.#trigger();
  }

  #iir(): number {
    const s = this.#s;
    const ier = s[W.IER] as number;
    const flags = s[W.FLAGS] as number;
    const fifo = flags & F_FIFO ? IIR_FIFO_ENABLED : 0;
    if (ier & IER_RLS && flags & F_OVERRUN) return IIR_RLS | fifo;
    if (ier & IER_RDA && (s[W.RX_COUNT] as number) > 0) return IIR_RDA | fifo;
    if (ier & IER_THRE && flags & F_THR_PENDING) return IIR_THRE | fifo;
    if (ier & IER_MS && (s[W.MSR] as number) & 0x0f) return IIR_MS | fifo;
    return IIR_NONE | fifo;
  }

  #loopMsr(): number {
    // In loopback, the modem inputs follow the outputs: CTS←RTS, DSR←DTR, RI←OUT1, DCD←OUT2.
    const m = this.#s[W.MCR] as number;
    return ((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4);
  }

  #flag(bit: number, on: boolean): void {
    const s = this.#s;
    s[W.FLAGS] = on ? (s[W.FLAGS] as number) | bit : (s[W.FLAGS] as number) & ~bit;
  }

  /** Register read (only byte accesses are meaningful; wider reads return the byte, zero-extended). */
  read(offset: number, _size: number): bigint {
    let drained = false;
    this.#lock();
    let v: number;
    try {
      const s = this.#s;
      const dlab = ((s[W.LCR] as number) & LCR_DLAB) !== 0;
      switch (offset) {
        case RBR_THR_DLL: {
          if (dlab) {
            v = s[W.DLL] as number;
            break;
          }
          const b = this.#rxShift();
          if (b === undefined) {
            v = 0;
            break;
          }
          Atomics.add(s, W.RX_BYTES, 1);
          if (s[W.RX_COUNT] === 0) drained = true;
          v = b;
          break;
        }
        case IER_DLM:
          v = (dlab ? s[W.DLM] : s[W.IER]) as number;
          break;
        case IIR_FCR: {
          v = this.#iir();
          // Reading IIR while it reports THR empty acknowledges that interrupt.
          if ((v & 0x0f) === IIR_THRE) this.#flag(F_THR_PENDING, false);
          break;
        }
        case LCR:
          v = s[W.LCR] as number;
          break;
        case MCR:
          v = s[W.MCR] as number;
          break;
        case LSR: {
          const flags = s[W.FLAGS] as number;
          v = LSR_THRE | LSR_TEMT;
          if ((s[W.RX_COUNT] as number) > 0) v |= LSR_DR;
          if (flags & F_OVERRUN) v |= LSR_OE;
          this.#flag(F_OVERRUN, false);
          break;
        }
        case MSR: {
          v = (s[W.MCR] as number) & MCR_LOOP ? this.#loopMsr() : (s[W.MSR] as number);
          s[W.MSR] = (s[W.MSR] as number) & 0xf0; // reading clears the delta bits
          break;
        }
        case SCR:
          v = s[W.SCR] as number;
          break;
        default:
          v = 0;
      }
      if (drained) this.#signal();
    } finally {
      this.#unlock();
    }
    if (drained) this.#onRxSpace?.();
    return BigInt(v);
  }

  /** Register write (the low byte of `value` is used). */
  write(offset: number, _size: number, value: bigint): void {
    const v = Number(value & 0xffn);
    let batch: Uint8Array | undefined;
    this.#lock();
    try {
      const s = this.#s;
      const dlab = ((s[W.LCR] as number) & LCR_DLAB) !== 0;
      switch (offset) {
        case RBR_THR_DLL: {
          if (dlab) {
            s[W.DLL] = v;
            return;
          }
          const mcr = s[W.MCR] as number;
          if (mcr & MCR_LOOP) {
            if ((s[W.RX_COUNT] as number) < UART_FIFO_SIZE) this.#rxPush(v);
            else this.#flag(F_OVERRUN, true);
          } else {
            batch = this.#emit(v);
          }
          this.#flag(F_THR_PENDING, true);
          const ier = s[W.IER] as number;
          if (ier & IER_THRE || (mcr & MCR_LOOP && ier & IER_RDA)) this.#raise();
          return;
        }
        case IER_DLM:
          if (dlab) {
            s[W.DLM] = v;
            return;
          }
          {
            const before = s[W.IER] as number;
            s[W.IER] = v & 0x0f;
            // Enabling the THR-empty interrupt while THR is empty (always) makes it pending at once.
            if (v & IER_THRE && !(before & IER_THRE)) this.#flag(F_THR_PENDING, true);
            if ((this.#iir() & 0x0f) !== IIR_NONE) this.#raise();
          }
          return;
        case IIR_FCR:
          this.#flag(F_FIFO, (v & FCR_ENABLE) !== 0);
          if (v & FCR_CLEAR_RX) {
            s[W.RX_HEAD] = 0;
            Atomics.store(s, W.RX_COUNT, 0);
          }
          return;
        case LCR:
          s[W.LCR] = v;
          return;
        case MCR:
          s[W.MCR] = v & 0x1f;
          return;
        case SCR:
          s[W.SCR] = v;
          return;
        default:
          // LSR and MSR are read-only; writes are ignored like on the real part.
          return;
      }
    } finally {
      this.#unlock();
      this.#writeOut(batch);
    }
  }
}
