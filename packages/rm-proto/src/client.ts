/**
 * RM client: sends requests, matches replies by sequence number and delivers notifications
 * (spec/gunyah-rm-protocol.md §1.4–§1.6).
 *
 * @module
 */
import { RM_LINUX_MAX_REQUEST_PAYLOAD, RM_MAX_PAYLOAD } from './constants.js';
import {
  RM_REQUESTS,
  type RmNotificationName,
  type RmNotifications,
  type RmReplyOf,
  type RmRequestName,
  type RmRequestOf,
} from './catalogue.js';
import { RmClientError, RmError, RmProtocolError, hex32 } from './errors.js';
import { RmReassembler, encodeMessage, type RmMessage } from './framing.js';
import { NotificationHub } from './notifications.js';
import type { RmTransport } from './transport.js';

/** Options of {@link RmClient}. */
export interface RmClientOptions {
  /** Default per-call timeout in ms; 0 (the default) waits forever, as Linux does (spec §1.5). */
  readonly timeoutMs?: number;
  /**
   * Requests on the wire at once; more calls queue in order. Default 1: RM serves one request at a
   * time and buffers only one undeliverable reply per client (spec §1.5).
   */
  readonly maxOutstanding?: number;
  /** Largest request payload, default 14384 (62 × 232, Linux's limit; spec §1.3). */
  readonly maxRequestPayload?: number;
  /**
   * Receives problems that belong to no call: rejected fragments, unexpected messages, stray
   * replies, undecodable notifications, listener exceptions. Default: ignore them (Linux drops
   * such input too), except listener exceptions, which are re-thrown from a microtask.
   */
  readonly onError?: (error: unknown) => void;
}

/** Options of one call. */
export interface RmCallOptions {
  /** Timeout in ms for this call (0 = none); overrides the client default. */
  readonly timeoutMs?: number;
  /** Cancels the call: it rejects with RmClientError CANCELLED. */
  readonly signal?: AbortSignal;
}

/** A reply as received: the error code and the bytes after it. */
export interface RmRawReply {
  /** u32 RM error code (0 = OK). */
  readonly rmErrorCode: number;
  /** Reply bytes after the error code. */
  readonly data: Uint8Array;
}

/** A received notification, as given to {@link RmClient.onNotification} listeners. */
export interface RmNotificationEvent {
  /** Catalogue name, or `null` for an ID not in the catalogue. */
  readonly name: RmNotificationName | null;
  /** The message as reassembled. */
  readonly message: RmMessage;
  /** Decoded payload, or `undefined` when unknown or undecodable. */
  readonly value: RmNotifications[RmNotificationName] | undefined;
  /** Why decoding failed, if it did. */
  readonly error: RmProtocolError | null;
}

interface Pending {
  readonly seq: number;
  readonly msgId: number;
  readonly resolve: (reply: RmRawReply) => void;
  readonly reject: (error: unknown) => void;
}

interface Queued {
  readonly start: () => void;
  readonly fail: (error: unknown) => void;
}

const STALE_LIMIT = 256;

/**
 * Client end of an RM link.
 *
 * - Sequence numbers are allocated cyclically from the 16-bit space starting at 0, skipping
 *   values in use (as Linux does); fragments of one request are sent back to back.
 * - A reply is matched by `seq` and must carry the request's `msg_id`; anything else is dropped.
 * - Notifications are delivered synchronously in arrival order, so a notification RM sends
 *   before a reply (e.g. VM_STATUS RUNNING before the VM_START reply) reaches listeners before
 *   the awaiting caller resumes.
 * - A call that times out or is cancelled keeps its `seq` reserved until its late reply arrives
 *   (bounded to 256), so a late reply can never complete a newer call.
 *
 * @example
 * ```ts
 * const client = new RmClient(transport);
 * client.on('VM_STATUS', (s) => console.log(s.vmid, s.vmStatus));
 * const { vmid } = await client.call('VM_ALLOC_VMID', { vmid: 0 });
 * ```
 */
export class RmClient {
  private readonly transport: RmTransport;
  private readonly reassembler = new RmReassembler({ onMismatch: 'abort-message', checkSeq: true });
  private readonly pending = new Map<number, Pending>();
  private readonly stale = new Map<number, number>(); // seq → msgId of abandoned calls
  private readonly queue: Queued[] = [];
  private readonly timeoutMs: number;
  private readonly maxOutstanding: number;
  private readonly maxRequestPayload: number;
  private readonly onError: ((error: unknown) => void) | undefined;
  private readonly hub: NotificationHub;
  private nextSeq = 0;
  private active = 0;
  private sendChain: Promise<void> = Promise.resolve();
  private closed = false;

  /**
   * @param transport - the link to RM; the client installs its receive handler.
   * @param options - timeouts, concurrency and limits.
   */
  constructor(transport: RmTransport, options: RmClientOptions = {}) {
    this.transport = transport;
    this.timeoutMs = options.timeoutMs ?? 0;
    this.maxOutstanding = options.maxOutstanding ?? 1;
    this.maxRequestPayload = Math.min(options.maxRequestPayload ?? RM_LINUX_MAX_REQUEST_PAYLOAD, RM_MAX_PAYLOAD);
    this.onError = options.onError;
    this.hub = new NotificationHub(options.onError, true);
    if (!Number.isInteger(this.maxOutstanding) || this.maxOutstanding < 1) {
      throw new RangeError('maxOutstanding must be a positive integer');
    }
    transport.onReceive((bytes) => this.receive(bytes));
  }

  /** Calls in flight or queued. */
  get outstanding(): number {
    return this.active + this.queue.length;
  }

  /**
   * Sends a request from the catalogue and resolves with its decoded reply.
   *
   * @throws {RmError} the RM answered with a non-OK error code.
   * @throws {RmProtocolError} FIELD_OUT_OF_RANGE / MESSAGE_TOO_LARGE (request), REPLY_TOO_SHORT or
   * a payload code (reply).
   * @throws {RmClientError} TIMEOUT, CANCELLED, CLOSED, REPLY_ABORTED
   * @example
   * ```ts
   * await client.call('VM_START', { vmid: 0x80 });
   * ```
   */
  async call<N extends RmRequestName>(name: N, request: RmRequestOf<N>, options: RmCallOptions = {}): Promise<RmReplyOf<N>> {
    const def = RM_REQUESTS[name];
    const payload = def.request.encode(request);
    const raw = await this.callRaw(def.id, payload, options);
    if (raw.rmErrorCode !== 0) {
      throw new RmError(raw.rmErrorCode, { msgId: def.id, messageName: name, extra: raw.data });
    }
    return def.reply.decode(raw.data);
  }

  /**
   * Sends a request with an arbitrary ID and payload; resolves with the raw reply, whatever its
   * error code. For IDs outside the catalogue and for tools.
   *
   * @throws {RmProtocolError} MESSAGE_TOO_LARGE, FIELD_OUT_OF_RANGE (msg_id 0 is reserved),
   * REPLY_TOO_SHORT
   * @throws {RmClientError} TIMEOUT, CANCELLED, CLOSED, REPLY_ABORTED
   */
  callRaw(msgId: number, payload: Uint8Array, options: RmCallOptions = {}): Promise<RmRawReply> {
    if (this.closed) return Promise.reject(new RmClientError('CLOSED', 'client is closed'));
    if (!Number.isInteger(msgId) || msgId <= 0 || msgId > 0xffffffff) {
      return Promise.reject(new RmProtocolError('FIELD_OUT_OF_RANGE', `msg_id ${String(msgId)} is reserved or not a u32`));
    }
    if (payload.byteLength > this.maxRequestPayload) {
      return Promise.reject(
        new RmProtocolError('MESSAGE_TOO_LARGE', `request of ${payload.byteLength} bytes exceeds ${this.maxRequestPayload}`),
      );
    }
    const signal = options.signal;
    if (signal?.aborted === true) {
      return Promise.reject(new RmClientError('CANCELLED', 'call cancelled before it was sent', { cause: signal.reason }));
    }
    const bytes = payload.slice(); // a queued call must not see later changes to the caller's array
    return new Promise<RmRawReply>((resolve, reject) => {
      let seq: number | null = null;
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const entry: Queued = {
        start: () => {
          if (settled) return;
          this.active += 1;
          seq = this.allocSeq();
          this.pending.set(seq, { seq, msgId, resolve: (r) => finish(null, r, false), reject: (e) => finish(e, null, false) });
          const fragments = encodeMessage({ type: 'request', seq, msgId, payload: bytes });
          this.sendChain = this.sendChain.then(async () => {
            if (settled) return; // abandoned before its turn: send nothing
            for (let i = 0; i < fragments.length; i++) {
              // once started, a message is sent whole so the RM never sees half a request
              await this.transport.send(fragments[i] as Uint8Array, { push: i === fragments.length - 1 });
            }
          }).catch((error: unknown) => finish(error, null, false));
        },
        fail: (error) => finish(error, null, false),
      };
      const onAbort = (): void => finish(new RmClientError('CANCELLED', `call ${hex32(msgId)} cancelled`, { cause: signal?.reason }), null, true);
      // abandoned = timed out or cancelled: a reply may still come, so the seq stays reserved
      const finish = (error: unknown, reply: RmRawReply | null, abandoned: boolean): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const queued = this.queue.indexOf(entry);
        if (queued >= 0) this.queue.splice(queued, 1);
        if (seq !== null) {
          this.pending.delete(seq);
          if (abandoned) this.retire(seq, msgId);
          this.active -= 1;
          this.pump();
        }
        if (reply !== null) resolve(reply);
        else reject(error);
      };
      const timeoutMs = options.timeoutMs ?? this.timeoutMs;
      if (timeoutMs > 0) {
        timer = setTimeout(
          () => finish(new RmClientError('TIMEOUT', `no reply to ${hex32(msgId)} within ${timeoutMs} ms`), null, true),
          timeoutMs,
        );
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(entry);
      this.pump();
    });
  }

  /**
   * Subscribes to one notification type; the listener gets the decoded payload and the message.
   * Returns the unsubscribe function.
   *
   * @example
   * ```ts
   * const off = client.on('VM_EXITED', (e) => console.log(e.exitType));
   * off();
   * ```
   */
  on<N extends RmNotificationName>(name: N, listener: (payload: RmNotifications[N], message: RmMessage) => void): () => void {
    return this.hub.on(name, listener);
  }

  /** Subscribes to every notification, including unknown and undecodable ones. */
  onNotification(listener: (event: RmNotificationEvent) => void): () => void {
    return this.hub.onAny(listener);
  }

  /** Fails every queued and in-flight call with CLOSED and detaches from the transport. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.onReceive(null);
    const error = new RmClientError('CLOSED', 'client closed');
    for (const q of this.queue.splice(0)) q.fail(error);
    for (const p of [...this.pending.values()]) p.reject(error);
  }

  private pump(): void {
    while (!this.closed && this.active < this.maxOutstanding && this.queue.length > 0) {
      (this.queue.shift() as Queued).start();
    }
  }

  private allocSeq(): number {
    for (let i = 0; i < 0x10000; i++) {
      const seq = (this.nextSeq + i) & 0xffff;
      if (!this.pending.has(seq) && !this.stale.has(seq)) {
        this.nextSeq = (seq + 1) & 0xffff;
        return seq;
      }
    }
    // Unreachable in practice: stale is capped at 256 and pending at maxOutstanding; free the oldest.
    const [oldest] = this.stale.keys();
    this.stale.delete(oldest as number);
    return oldest as number;
  }

  /** Keeps an abandoned call's seq reserved until its late reply shows up. */
  private retire(seq: number, msgId: number): void {
    this.stale.set(seq, msgId);
    if (this.stale.size > STALE_LIMIT) {
      const [oldest] = this.stale.keys();
      this.stale.delete(oldest as number);
    }
  }

  private report(error: unknown): void {
    this.onError?.(error);
  }

  private receive(bytes: Uint8Array): void {
    const { message, rejected, aborted } = this.reassembler.push(bytes);
    if (aborted !== null) {
      const p = aborted.type === 'reply' ? this.pending.get(aborted.seq) : undefined;
      if (p !== undefined && p.msgId === aborted.msgId) {
        p.reject(new RmClientError('REPLY_ABORTED', aborted.reason.message, { cause: aborted.reason }));
      } else {
        this.report(aborted.reason);
      }
    }
    if (rejected !== null) this.report(rejected);
    if (message === null) return;
    if (message.type === 'reply') this.receiveReply(message);
    else if (message.type === 'notification') this.receiveNotification(message);
    else this.report(new RmProtocolError('UNEXPECTED_TYPE', `client received a request ${hex32(message.msgId)}`));
  }

  private receiveReply(message: RmMessage): void {
    const p = this.pending.get(message.seq);
    if (p === undefined || p.msgId !== message.msgId) {
      if (this.stale.get(message.seq) === message.msgId) {
        this.stale.delete(message.seq); // the late reply of an abandoned call: seq is free again
        return;
      }
      this.report(
        new RmProtocolError('UNEXPECTED_TYPE', `reply ${hex32(message.msgId)} seq ${message.seq} matches no call`),
      );
      return;
    }
    if (message.payload.byteLength < 4) {
      p.reject(new RmProtocolError('REPLY_TOO_SHORT', `reply payload of ${message.payload.byteLength} bytes has no error code`));
      return;
    }
    const view = new DataView(message.payload.buffer, message.payload.byteOffset, 4);
    p.resolve({ rmErrorCode: view.getUint32(0, true), data: message.payload.subarray(4) });
  }

  private receiveNotification(message: RmMessage): void {
    this.hub.deliver(message);
  }

}
