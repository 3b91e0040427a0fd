/**
 * The MMIO write sink: a byte-output register (a UART's transmit holding register) served inside
 * the native run loop, so a guest writing a stream of bytes to it costs one `VCPU_RUN` per byte and
 * no return to JavaScript (see {@link BindingModule.runMmioSink}).
 *
 * A sink is a byte buffer and a few 32-bit words in `SharedArrayBuffer`s that the device keeps in
 * JavaScript: a lock word (0 free, non-zero held; the futex-style mutex of `Atomics`), a length
 * word, and optional counter, flag and condition words. An MMIO exit is absorbed when all of this
 * holds, checked under the lock, which is only ever tried (a held lock hands the exit back):
 *
 * - it is a write of 1–8 bytes to exactly {@link MmioSink.addr};
 * - every condition `(state[word] & mask) === value` holds (e.g. "divisor latch off");
 * - the buffer holds at least {@link MmioSink.minLen} bytes and, after this one, still has room
 *   (the byte that would fill it is left to the caller, who flushes).
 *
 * Absorbing appends the written value's low byte at `bytes[len]`, stores `len + 1`, adds 1 to the
 * count word and ORs the flag bits into the flag word, then runs the vCPU again. Every other exit
 * (and one refused for any of the reasons above) is returned to the caller exactly as `VCPU_RUN`
 * left it. Errors of the run ioctl (`EINTR` from a kick or `immediate_exit`) are thrown as usual.
 *
 * {@link absorbMmioWrite} and {@link runMmioSinkLoop} are the same rules in TypeScript: the model
 * the addon is tested against, and the loop for bindings without the native one.
 *
 * @module
 */
import type { BindingModule } from './binding.js';
import { EXIT_REASON } from './uapi/constants.js';
import { VCPU_RUN_OFFSETS } from './uapi/run-page.js';

/** Where a run page keeps the fields of an MMIO exit (byte offsets; widths fixed: u32, u64, u8[8], u32, u8). */
export interface MmioExitLayout {
  /** u32 exit reason. */
  readonly exitReason: number;
  /** The exit reason value meaning "MMIO". */
  readonly mmioReason: number;
  /** u64 guest-physical address. */
  readonly physAddr: number;
  /** u8[8] data, little-endian. */
  readonly data: number;
  /** u32 access length in bytes. */
  readonly len: number;
  /** u8, non-zero for a write. */
  readonly isWrite: number;
}

/** The Gunyah vCPU run page's MMIO exit (spec/gunyah-uapi.md §3.14; the same in every variant). */
export const GUNYAH_MMIO_EXIT_LAYOUT: MmioExitLayout = Object.freeze({
  exitReason: VCPU_RUN_OFFSETS.exit_reason,
  mmioReason: EXIT_REASON.MMIO,
  physAddr: VCPU_RUN_OFFSETS.mmio_phys_addr,
  data: VCPU_RUN_OFFSETS.mmio_data,
  len: VCPU_RUN_OFFSETS.mmio_len,
  isWrite: VCPU_RUN_OFFSETS.mmio_is_write,
});

/** One condition of a sink: `(state[word] & mask) === value`. */
export interface MmioSinkCondition {
  /** Index of the word in {@link MmioSink.state}. */
  readonly word: number;
  /** Bits compared. */
  readonly mask: number;
  /** Their required value. */
  readonly value: number;
}

/** Bits a sink sets in one of its words per absorbed byte ({@link MmioSink.flags}). */
export interface MmioSinkFlags {
  /** Index of the word in {@link MmioSink.state}. */
  readonly word: number;
  /** The bits ORed in. */
  readonly bits: number;
}

/** Most conditions a sink may have. */
export const MMIO_SINK_MAX_CONDITIONS = 4;

/** A byte sink (see the module text for the rules). Word fields are indices into `state`. */
export interface MmioSink {
  /** Guest-physical address of the register (64-bit). */
  readonly addr: bigint;
  /** The device's words, over a `SharedArrayBuffer`. */
  readonly state: Int32Array;
  /** The output buffer, over a `SharedArrayBuffer`. */
  readonly bytes: Uint8Array;
  /** The lock word: tried 0 → 1, released to 0. */
  readonly lockWord: number;
  /** The word holding how many bytes of `bytes` are filled. */
  readonly lenWord: number;
  /** Absorb only when the buffer already holds this many bytes (e.g. 1: the first byte of a batch goes to the caller). */
  readonly minLen: number;
  /** Bytes of `bytes` in use (1…`bytes.length`); absorbing stops one byte short of it. */
  readonly capacity: number;
  /** A word incremented per absorbed byte. */
  readonly countWord?: number;
  /** Bits ORed into a word per absorbed byte. */
  readonly flags?: MmioSinkFlags;
  /** Up to {@link MMIO_SINK_MAX_CONDITIONS} conditions. */
  readonly conditions?: readonly MmioSinkCondition[];
}

/** Words of an encoded {@link MmioExitLayout}. */
export const MMIO_EXIT_LAYOUT_WORDS = 6;
/** Words of an encoded {@link MmioSink} descriptor. */
export const MMIO_SINK_WORDS = 10 + 3 * MMIO_SINK_MAX_CONDITIONS;

// descriptor word indices (native/src/addon.cc has the same enum)
const D = { ADDR_LO: 0, ADDR_HI: 1, LOCK: 2, LEN: 3, MIN_LEN: 4, CAPACITY: 5, COUNT: 6, FLAGS: 7, FLAG_BITS: 8, CONDITIONS: 9, COND0: 10 } as const;

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/**
 * The layout as the `Int32Array` {@link BindingModule.runMmioSink} takes.
 *
 * @throws {RangeError} when an offset is not a non-negative 32-bit integer
 */
export function encodeMmioExitLayout(l: MmioExitLayout): Int32Array {
  const words = [l.exitReason, l.mmioReason, l.physAddr, l.data, l.len, l.isWrite];
  words.forEach((w, i) => {
    if (!isInt(w, 0, 0x7fff_ffff)) throw new RangeError(`MMIO exit layout field ${i} must be a non-negative 32-bit integer, got ${String(w)}`);
  });
  return Int32Array.from(words);
}

/** Whether `a` is over a `SharedArrayBuffer`. */
const shared = (a: ArrayBufferView): boolean => typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;

/**
 * Checks a sink and encodes its descriptor (the `Int32Array` {@link BindingModule.runMmioSink} takes).
 *
 * @throws {TypeError} when `state`/`bytes` are not an `Int32Array`/`Uint8Array` over a `SharedArrayBuffer`
 * @throws {RangeError} when an index, the capacity, `minLen`, a mask or the address is out of range
 */
export function encodeMmioSink(s: MmioSink): Int32Array {
  if (!(s.state instanceof Int32Array) || !shared(s.state)) throw new TypeError('MMIO sink state must be an Int32Array over a SharedArrayBuffer');
  if (!(s.bytes instanceof Uint8Array) || !shared(s.bytes)) throw new TypeError('MMIO sink bytes must be a Uint8Array over a SharedArrayBuffer');
  if (typeof s.addr !== 'bigint' || s.addr < 0n || s.addr > 0xffff_ffff_ffff_ffffn) throw new RangeError('MMIO sink addr must be a 64-bit bigint');
  const n = s.state.length;
  const word = (name: string, v: unknown): number => {
    if (!isInt(v, 0, n - 1)) throw new RangeError(`MMIO sink ${name} must index the state (0…${n - 1}), got ${String(v)}`);
    return v;
  };
  const i32 = (name: string, v: unknown): number => {
    if (!isInt(v, -0x8000_0000, 0xffff_ffff)) throw new RangeError(`MMIO sink ${name} must be a 32-bit integer, got ${String(v)}`);
    return v | 0;
  };
  if (!isInt(s.capacity, 1, s.bytes.length)) throw new RangeError(`MMIO sink capacity must be 1…${s.bytes.length} (bytes.length), got ${String(s.capacity)}`);
  if (!isInt(s.minLen, 0, 0x7fff_ffff)) throw new RangeError(`MMIO sink minLen must be a non-negative integer, got ${String(s.minLen)}`);
  const conditions = s.conditions ?? [];
  if (conditions.length > MMIO_SINK_MAX_CONDITIONS) throw new RangeError(`an MMIO sink has at most ${MMIO_SINK_MAX_CONDITIONS} conditions, got ${conditions.length}`);
  const d = new Int32Array(MMIO_SINK_WORDS);
  d[D.ADDR_LO] = Number(s.addr & 0xffff_ffffn) | 0;
  d[D.ADDR_HI] = Number(s.addr >> 32n) | 0;
  d[D.LOCK] = word('lockWord', s.lockWord);
  d[D.LEN] = word('lenWord', s.lenWord);
  d[D.MIN_LEN] = s.minLen;
  d[D.CAPACITY] = s.capacity;
  d[D.COUNT] = s.countWord === undefined ? -1 : word('countWord', s.countWord);
  d[D.FLAGS] = s.flags === undefined ? -1 : word('flags.word', s.flags.word);
  d[D.FLAG_BITS] = s.flags === undefined ? 0 : i32('flags.bits', s.flags.bits);
  const lk = d[D.LOCK];
  const ln = d[D.LEN];
  if (lk === ln || lk === d[D.COUNT] || lk === d[D.FLAGS] || ln === d[D.COUNT] || ln === d[D.FLAGS]) {
    throw new RangeError('MMIO sink lockWord, lenWord, countWord and flags.word must be distinct (countWord and flags.word may be the same)');
  }
  d[D.CONDITIONS] = conditions.length;
  conditions.forEach((c, i) => {
    d[D.COND0 + 3 * i] = word(`conditions[${i}].word`, c.word);
    d[D.COND0 + 3 * i + 1] = i32(`conditions[${i}].mask`, c.mask);
    d[D.COND0 + 3 * i + 2] = i32(`conditions[${i}].value`, c.value);
  });
  return d;
}

/**
 * The sink's rules for one MMIO write of `value` (its low byte is the output): `true` when absorbed
 * (byte appended, words updated), `false` when the write is the caller's. Same rules as the addon;
 * never blocks (a held lock means "the caller's").
 *
 * @param s - the sink
 * @param value - the written value (only its low byte is kept)
 */
export function absorbMmioWrite(s: MmioSink, value: number): boolean {
  const st = s.state;
  if (Atomics.compareExchange(st, s.lockWord, 0, 1) !== 0) return false;
  let absorbed = false;
  try {
    if ((s.conditions ?? []).every((c) => (Atomics.load(st, c.word) & c.mask) === (c.value | 0))) {
      const n = Atomics.load(st, s.lenWord);
      if (n >= s.minLen && n >= 0 && n + 1 < s.capacity) {
        s.bytes[n] = value & 0xff;
        Atomics.store(st, s.lenWord, n + 1);
        if (s.countWord !== undefined) Atomics.add(st, s.countWord, 1);
        if (s.flags !== undefined) Atomics.or(st, s.flags.word, s.flags.bits | 0);
        absorbed = true;
      }
    }
  } finally {
    if (Atomics.exchange(st, s.lockWord, 0) === 2) Atomics.notify(st, s.lockWord, 1);
  }
  return absorbed;
}

/**
 * {@link BindingModule.runMmioSink} in TypeScript: calls `run` (one `VCPU_RUN`) until the exit in
 * `page` is not absorbed by `sink`, and returns the last result of `run`.
 *
 * @param run - one run of the vCPU (throws on error, like `ioctl`)
 * @param page - the run page
 * @param layout - where `page` keeps the MMIO exit
 * @param sink - the sink
 */
export function runMmioSinkLoop(run: () => number, page: DataView, layout: MmioExitLayout, sink: MmioSink): number {
  for (;;) {
    const r = run();
    if (page.getUint32(layout.exitReason, true) !== layout.mmioReason || page.getUint8(layout.isWrite) === 0) return r;
    const len = page.getUint32(layout.len, true);
    if (len < 1 || len > 8 || page.getBigUint64(layout.physAddr, true) !== sink.addr) return r;
    if (!absorbMmioWrite(sink, page.getUint8(layout.data))) return r;
  }
}

/** A sink checked and encoded once, with the run page layout it is used with ({@link prepareMmioSink}). */
export interface PreparedMmioSink {
  /** The sink. */
  readonly sink: MmioSink;
  /** Where the run page keeps an MMIO exit. */
  readonly layout: MmioExitLayout;
  /** `layout`, encoded ({@link encodeMmioExitLayout}). */
  readonly encodedLayout: Int32Array;
  /** `sink`'s descriptor ({@link encodeMmioSink}). */
  readonly descriptor: Int32Array;
}

/**
 * Checks and encodes a sink once, for many {@link runWithMmioSink} calls.
 *
 * @param sink - the sink
 * @param layout - the run page's MMIO exit; default the Gunyah run page's
 * @throws {TypeError} / {RangeError} as {@link encodeMmioSink} and {@link encodeMmioExitLayout}
 */
export function prepareMmioSink(sink: MmioSink, layout: MmioExitLayout = GUNYAH_MMIO_EXIT_LAYOUT): PreparedMmioSink {
  return Object.freeze({ sink, layout, encodedLayout: encodeMmioExitLayout(layout), descriptor: encodeMmioSink(sink) });
}

/**
 * `binding.runMmioSink` when the binding has it, else {@link runMmioSinkLoop} over `binding.ioctl`:
 * runs the vCPU behind `fd` (`request` = its run ioctl) until an exit the sink does not absorb.
 *
 * @param binding - the binding (native addon, emulator, fake)
 * @param fd - the vCPU fd
 * @param request - the run ioctl's request number
 * @param page - the vCPU's run page mapping
 * @param p - the sink, from {@link prepareMmioSink}
 * @returns the result of the last run ioctl
 * @throws the run ioctl's errors (an `Error` with `errno`, as `binding.ioctl` throws)
 */
export function runWithMmioSink(binding: BindingModule, fd: number, request: number, page: ArrayBuffer, p: PreparedMmioSink): number {
  if (binding.runMmioSink === undefined) return runMmioSinkLoop(() => binding.ioctl(fd, request, 0), new DataView(page), p.layout, p.sink);
  return binding.runMmioSink(fd, request, page, p.encodedLayout, p.descriptor, p.sink.state, p.sink.bytes);
}
