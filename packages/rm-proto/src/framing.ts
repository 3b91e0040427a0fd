/**
 * Fragment header codec, message splitting and reassembly (spec/gunyah-rm-protocol.md §1.2–§1.4).
 *
 * @module
 */
import {
  RM_API_VERSION,
  RM_FRAGMENT_PAYLOAD,
  RM_HEADER_SIZE,
  RM_HEADER_WORDS,
  RM_MAX_CONTINUATIONS,
  RM_MAX_PAYLOAD,
  RM_MESSAGE_SIZE,
  RM_MSG_TYPE,
} from './constants.js';
import { RmProtocolError, hex32 } from './errors.js';

/** Kind of a complete message. */
export type RmMessageType = 'request' | 'reply' | 'notification';

/** A complete (reassembled) RM message. For replies, `payload` starts with the u32 error code. */
export interface RmMessage {
  /** Request, reply or notification. */
  readonly type: RmMessageType;
  /** u16 sequence number (echoed by replies; RM's own counter for notifications). */
  readonly seq: number;
  /** u32 message ID (spec §3). */
  readonly msgId: number;
  /** The reassembled payload. */
  readonly payload: Uint8Array;
}

/** The decoded 8-byte fragment header (spec §1.2). */
export interface RmFragmentHeader {
  /** Header type bits 1:0: 0 continuation, 1 request, 2 reply, 3 notification ({@link RM_MSG_TYPE}). */
  readonly msgType: number;
  /** Continuation fragments of the message (bits 7:2), repeated in every fragment. */
  readonly continuations: number;
  /** u16 sequence number. */
  readonly seq: number;
  /** u32 message ID. */
  readonly msgId: number;
}

const TYPE_BITS: Record<RmMessageType, number> = {
  request: RM_MSG_TYPE.REQUEST,
  reply: RM_MSG_TYPE.REPLY,
  notification: RM_MSG_TYPE.NOTIFICATION,
};
const TYPE_NAMES: readonly (RmMessageType | null)[] = [null, 'request', 'reply', 'notification'];

/**
 * Decodes and validates a fragment header. The fragment must be 8…240 bytes, its first byte must
 * say API version 1 and 2 header words, and the continuation count must be ≤ 62.
 *
 * @throws {RmProtocolError} FRAGMENT_TOO_SHORT, FRAGMENT_TOO_LONG, BAD_API_VERSION,
 * BAD_HEADER_WORDS, TOO_MANY_FRAGMENTS
 * @example
 * ```ts
 * decodeFragmentHeader(Uint8Array.from([0x21, 0x01, 0, 0, 0x24, 0, 0, 0x56]));
 * // { msgType: 1, continuations: 0, seq: 0, msgId: 0x56000024 }
 * ```
 */
export function decodeFragmentHeader(fragment: Uint8Array): RmFragmentHeader {
  if (fragment.byteLength < RM_HEADER_SIZE) {
    throw new RmProtocolError('FRAGMENT_TOO_SHORT', `fragment of ${fragment.byteLength} bytes has no 8-byte header`);
  }
  if (fragment.byteLength > RM_MESSAGE_SIZE) {
    throw new RmProtocolError('FRAGMENT_TOO_LONG', `fragment of ${fragment.byteLength} bytes exceeds 240`);
  }
  const view = new DataView(fragment.buffer, fragment.byteOffset, RM_HEADER_SIZE);
  const api = view.getUint8(0);
  if ((api & 0x0f) !== RM_API_VERSION) {
    throw new RmProtocolError('BAD_API_VERSION', `API version ${api & 0x0f} (byte 0x${api.toString(16)}), expected 1`);
  }
  if (api >> 4 !== RM_HEADER_WORDS) {
    throw new RmProtocolError('BAD_HEADER_WORDS', `header length ${api >> 4} words (byte 0x${api.toString(16)}), expected 2`);
  }
  const typeByte = view.getUint8(1);
  const continuations = typeByte >> 2;
  if (continuations > RM_MAX_CONTINUATIONS) {
    throw new RmProtocolError('TOO_MANY_FRAGMENTS', `continuation count ${continuations} exceeds 62`);
  }
  return { msgType: typeByte & 3, continuations, seq: view.getUint16(2, true), msgId: view.getUint32(4, true) };
}

/**
 * Continuation fragments needed for a payload of `payloadLength` bytes: 0 for an empty payload,
 * else ⌊(n − 1) / 232⌋ (spec §1.3). For replies the length includes the 4-byte error code.
 */
export function continuationCount(payloadLength: number): number {
  return payloadLength === 0 ? 0 : Math.floor((payloadLength - 1) / RM_FRAGMENT_PAYLOAD);
}

/** Options of {@link encodeMessage}. */
export interface EncodeMessageOptions {
  /** Largest payload accepted, default {@link RM_MAX_PAYLOAD} (14616). */
  readonly maxPayload?: number;
}

/**
 * Splits a message into fragments of at most 240 bytes: the first carries the message type,
 * the others type CONTINUATION; all repeat the continuation count, seq and msg_id (spec §1.3).
 *
 * @throws {RmProtocolError} MESSAGE_TOO_LARGE when the payload exceeds the limit;
 * FIELD_OUT_OF_RANGE when seq is not a u16 or msgId not a u32.
 * @example
 * ```ts
 * encodeMessage({ type: 'request', seq: 0, msgId: 0x56000024, payload: new Uint8Array(0) });
 * // [ Uint8Array [0x21, 0x01, 0x00, 0x00, 0x24, 0x00, 0x00, 0x56] ]
 * ```
 */
export function encodeMessage(message: RmMessage, options: EncodeMessageOptions = {}): Uint8Array[] {
  const { seq, msgId, payload } = message;
  const max = options.maxPayload ?? RM_MAX_PAYLOAD;
  if (payload.byteLength > Math.min(max, RM_MAX_PAYLOAD)) {
    throw new RmProtocolError(
      'MESSAGE_TOO_LARGE',
      `payload of ${payload.byteLength} bytes exceeds the ${Math.min(max, RM_MAX_PAYLOAD)}-byte limit`,
    );
  }
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffff) {
    throw new RmProtocolError('FIELD_OUT_OF_RANGE', `seq ${String(seq)} is not a u16`);
  }
  if (!Number.isInteger(msgId) || msgId < 0 || msgId > 0xffffffff) {
    throw new RmProtocolError('FIELD_OUT_OF_RANGE', `msgId ${String(msgId)} is not a u32`);
  }
  const k = continuationCount(payload.byteLength);
  const fragments: Uint8Array[] = [];
  for (let i = 0; i <= k; i++) {
    const start = i * RM_FRAGMENT_PAYLOAD;
    const end = Math.min(payload.byteLength, start + RM_FRAGMENT_PAYLOAD);
    const fragment = new Uint8Array(RM_HEADER_SIZE + (end - start));
    const view = new DataView(fragment.buffer);
    view.setUint8(0, 0x21); // API version 1 | 2 header words << 4
    view.setUint8(1, (k << 2) | (i === 0 ? TYPE_BITS[message.type] : RM_MSG_TYPE.CONTINUATION));
    view.setUint16(2, seq, true);
    view.setUint32(4, msgId, true);
    fragment.set(payload.subarray(start, end), RM_HEADER_SIZE);
    fragments.push(fragment);
  }
  return fragments;
}

/** An incomplete message the reassembler discarded. */
export interface AbortedMessage {
  /** Type of the discarded message. */
  readonly type: RmMessageType;
  /** Its sequence number. */
  readonly seq: number;
  /** Its message ID. */
  readonly msgId: number;
  /** Continuations received before it was discarded. */
  readonly received: number;
  /** Continuations it announced. */
  readonly continuations: number;
  /** Why: MESSAGE_ABORTED (a new message started) or the mismatch code of the continuation. */
  readonly reason: RmProtocolError;
}

/** What one fragment did to the reassembler. At most one of `message` and `rejected` is set. */
export interface ReassemblyResult {
  /** The message this fragment completed, if any. */
  readonly message: RmMessage | null;
  /** Why this fragment was dropped, if it was. */
  readonly rejected: RmProtocolError | null;
  /** An in-progress message this fragment caused to be discarded, if any. */
  readonly aborted: AbortedMessage | null;
}

/** Options of {@link RmReassembler}. */
export interface RmReassemblerOptions {
  /**
   * What a continuation with a different msg_id, seq or count does: `'drop-fragment'` keeps the
   * message in progress (RM behaviour, the default); `'abort-message'` discards it (Linux).
   */
  readonly onMismatch?: 'drop-fragment' | 'abort-message';
  /** Compare `seq` on continuations (RM does, Linux does not). Default true. */
  readonly checkSeq?: boolean;
}

interface InProgress {
  readonly type: RmMessageType;
  readonly seq: number;
  readonly msgId: number;
  readonly continuations: number;
  received: number;
  length: number;
  readonly chunks: Uint8Array[];
}

const NO_RESULT: ReassemblyResult = Object.freeze({ message: null, rejected: null, aborted: null });

/**
 * Reassembles fragments from one link into messages (spec §1.4). One message is in progress at a
 * time; a new first fragment discards an incomplete one (reported in `aborted`). Bad fragments
 * are not thrown: they come back in `rejected` with their {@link RmProtocolError} code, because a
 * receiver drops them and carries on, as RM and Linux do.
 *
 * @example
 * ```ts
 * const r = new RmReassembler();
 * for (const f of fragments) {
 *   const { message, rejected } = r.push(f);
 *   if (message) handle(message);
 *   if (rejected) log(rejected.code);
 * }
 * ```
 */
export class RmReassembler {
  private current: InProgress | null = null;
  private readonly abortOnMismatch: boolean;
  private readonly checkSeq: boolean;

  /** @param options - mismatch policy and seq checking. */
  constructor(options: RmReassemblerOptions = {}) {
    this.abortOnMismatch = options.onMismatch === 'abort-message';
    this.checkSeq = options.checkSeq ?? true;
  }

  /** True while a multi-fragment message is incomplete. */
  get inProgress(): boolean {
    return this.current !== null;
  }

  /** Discards any incomplete message. */
  reset(): void {
    this.current = null;
  }

  /**
   * Feeds one fragment (8…240 bytes). The bytes are copied; the caller may reuse its buffer.
   */
  push(fragment: Uint8Array): ReassemblyResult {
    let header: RmFragmentHeader;
    try {
      header = decodeFragmentHeader(fragment);
    } catch (error) {
      return { message: null, rejected: error as RmProtocolError, aborted: null };
    }
    const body = fragment.subarray(RM_HEADER_SIZE);
    const type = TYPE_NAMES[header.msgType] ?? null;
    if (type !== null) {
      const aborted = this.abortCurrent('MESSAGE_ABORTED', 'a new message started');
      if (header.continuations === 0) {
        return { message: { type, seq: header.seq, msgId: header.msgId, payload: body.slice() }, rejected: null, aborted };
      }
      this.current = {
        type,
        seq: header.seq,
        msgId: header.msgId,
        continuations: header.continuations,
        received: 0,
        length: body.byteLength,
        chunks: [body.slice()],
      };
      return aborted === null ? NO_RESULT : { message: null, rejected: null, aborted };
    }
    const cur = this.current;
    if (cur === null) {
      return {
        message: null,
        rejected: new RmProtocolError(
          'STRAY_CONTINUATION',
          `continuation of ${hex32(header.msgId)} seq ${header.seq} with no message in progress`,
        ),
        aborted: null,
      };
    }
    let mismatch: RmProtocolError | null = null;
    if (header.msgId !== cur.msgId) {
      mismatch = new RmProtocolError(
        'MSG_ID_MISMATCH',
        `continuation msg_id ${hex32(header.msgId)} differs from ${hex32(cur.msgId)}`,
      );
    } else if (header.continuations !== cur.continuations) {
      mismatch = new RmProtocolError(
        'CONTINUATION_COUNT_MISMATCH',
        `continuation count ${header.continuations} differs from ${cur.continuations}`,
      );
    } else if (this.checkSeq && header.seq !== cur.seq) {
      mismatch = new RmProtocolError('SEQ_MISMATCH', `continuation seq ${header.seq} differs from ${cur.seq}`);
    }
    if (mismatch !== null) {
      const aborted = this.abortOnMismatch ? this.abortCurrent(mismatch.code, mismatch.message) : null;
      return { message: null, rejected: mismatch, aborted };
    }
    cur.chunks.push(body.slice());
    cur.length += body.byteLength;
    cur.received += 1;
    if (cur.received < cur.continuations) return NO_RESULT;
    this.current = null;
    const payload = new Uint8Array(cur.length);
    let at = 0;
    for (const chunk of cur.chunks) {
      payload.set(chunk, at);
      at += chunk.byteLength;
    }
    return { message: { type: cur.type, seq: cur.seq, msgId: cur.msgId, payload }, rejected: null, aborted: null };
  }

  private abortCurrent(code: RmProtocolError['code'], why: string): AbortedMessage | null {
    const cur = this.current;
    if (cur === null) return null;
    this.current = null;
    return {
      type: cur.type,
      seq: cur.seq,
      msgId: cur.msgId,
      received: cur.received,
      continuations: cur.continuations,
      reason: new RmProtocolError(
        code,
        `incomplete ${cur.type} ${hex32(cur.msgId)} seq ${cur.seq} discarded after ${cur.received}/${cur.continuations} continuations: ${why}`,
      ),
    };
  }
}
