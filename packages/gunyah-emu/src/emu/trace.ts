/**
 * Recording the RM conversation: every message both ways on the emulator's RM link, reassembled
 * from its 240-byte frames and decoded with rm-proto's catalogue.
 *
 * @module
 */
import { RmReassembler, lookupMessage, rmErrorName, type RmMessage } from '@gunyah-ts/rm-proto';

/** One RM message as the trace saw it. */
export interface RmTraceEntry {
  /** Position in the conversation, from 0. */
  readonly index: number;
  /** `to-rm` (the driver model's requests) or `from-rm` (replies and notifications). */
  readonly direction: 'to-rm' | 'from-rm';
  /** Message type. */
  readonly type: 'request' | 'reply' | 'notification';
  /** Message ID. */
  readonly msgId: number;
  /** Catalogue name, or `null` for an ID outside the catalogue. */
  readonly name: string | null;
  /** Sequence number. */
  readonly seq: number;
  /** Frames the message took on the queue (≤ 240 bytes each). */
  readonly fragments: number;
  /** The decoded payload (replies: the part after the error code), or the raw bytes when it does not decode. */
  readonly payload: unknown;
  /** Replies: the RM error name (`OK` on success). */
  readonly rmError: string | undefined;
}

/** Reassembles and decodes the frames of one direction. */
export class RmTraceDecoder {
  readonly #reassembler = new RmReassembler();
  readonly #direction: RmTraceEntry['direction'];
  readonly #emit: (e: Omit<RmTraceEntry, 'index'>) => void;
  #frames = 0;

  /**
   * @param direction - which way the frames go.
   * @param emit - receives each decoded message.
   */
  constructor(direction: RmTraceEntry['direction'], emit: (e: Omit<RmTraceEntry, 'index'>) => void) {
    this.#direction = direction;
    this.#emit = emit;
  }

  /** Feeds one frame. */
  push(frame: Uint8Array): void {
    this.#frames++;
    const { message } = this.#reassembler.push(frame);
    if (message === null) return;
    const fragments = this.#frames;
    this.#frames = 0;
    this.#emit(decodeTraceMessage(this.#direction, message, fragments));
  }
}

/** Decodes one reassembled message for the trace (never throws). */
export function decodeTraceMessage(direction: RmTraceEntry['direction'], m: RmMessage, fragments: number): Omit<RmTraceEntry, 'index'> {
  const def = lookupMessage(m.msgId);
  let payload: unknown = m.payload;
  let rmError: string | undefined;
  try {
    if (m.type === 'request' && def?.kind === 'request') payload = def.request.decode(m.payload);
    else if (m.type === 'notification' && def?.kind === 'notification') payload = def.payload.decode(m.payload);
    else if (m.type === 'reply' && m.payload.length >= 4) {
      const code = new DataView(m.payload.buffer, m.payload.byteOffset, 4).getUint32(0, true);
      rmError = rmErrorName(code);
      payload = m.payload.subarray(4);
      if (code === 0 && def?.kind === 'request') payload = def.reply.decode(m.payload.subarray(4));
    }
  } catch {
    /* keep raw bytes */
  }
  return { direction, type: m.type, msgId: m.msgId, name: def?.name ?? null, seq: m.seq, fragments, payload, rmError };
}

/** One line per entry: `→ VM_START #4 { vmid: 128 }` / `← VM_START #4 OK` / `⇐ VM_STATUS …`. */
export function formatRmTrace(entries: readonly RmTraceEntry[]): string {
  return entries
    .map((e) => {
      const arrow = e.type === 'request' ? '→' : e.type === 'reply' ? '←' : '⇐';
      const name = e.name ?? `0x${e.msgId.toString(16)}`;
      return `${arrow} ${name} #${e.seq}${e.rmError !== undefined ? ` ${e.rmError}` : ''}`;
    })
    .join('\n');
}
