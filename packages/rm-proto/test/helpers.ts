import { Buffer } from 'node:buffer';

/** Bytes from hex, ignoring spaces and `|` separators. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/[\s|]/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(clean)) throw new Error(`bad hex in test: ${text}`);
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

/** Hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** A reply payload: u32 LE error code followed by data. */
export function replyPayload(code: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(4 + data.byteLength);
  new DataView(out.buffer).setUint32(0, code, true);
  out.set(data, 4);
  return out;
}

/** Concatenate byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Waits for queued microtasks and one macrotask turn. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

import { RmReassembler, encodeMessage, type RmMessage, type RmMessageType, type RmTransport } from '../src/index.js';

/** A hand-driven end of a link: collects reassembled messages and sends crafted ones. */
export class Peer {
  readonly transport: RmTransport;
  readonly fragments: Uint8Array[] = [];
  readonly messages: RmMessage[] = [];
  private readonly r = new RmReassembler();
  private waiters: (() => void)[] = [];

  constructor(transport: RmTransport) {
    this.transport = transport;
    transport.onReceive((bytes) => {
      this.fragments.push(bytes);
      const { message } = this.r.push(bytes);
      if (message !== null) {
        this.messages.push(message);
        for (const w of this.waiters.splice(0)) w();
      }
    });
  }

  /** Resolves with the n-th message (0-based) once it has arrived. */
  async message(n: number): Promise<RmMessage> {
    while (this.messages.length <= n) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.messages[n] as RmMessage;
  }

  async send(type: RmMessageType, seq: number, msgId: number, payload: Uint8Array): Promise<void> {
    for (const f of encodeMessage({ type, seq, msgId, payload })) await this.transport.send(f, { push: false });
  }
}
