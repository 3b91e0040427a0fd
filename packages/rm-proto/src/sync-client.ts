/**
 * Synchronous RM client for links whose server answers inline (an `RmServer` with
 * `synchronous: true` behind {@link createSyncTransportPair}): `call` returns the decoded reply
 * directly instead of a promise.
 *
 * @module
 */
import { RM_LINUX_MAX_REQUEST_PAYLOAD } from './constants.js';
import { RM_REQUESTS, type RmNotificationName, type RmNotifications, type RmReplyOf, type RmRequestName, type RmRequestOf } from './catalogue.js';
import type { RmNotificationEvent, RmRawReply } from './client.js';
import { RmClientError, RmError, RmProtocolError, RmTransportError, hex32 } from './errors.js';
import { RmReassembler, encodeMessage, type RmMessage } from './framing.js';
import { NotificationHub } from './notifications.js';
import type { RmTransport } from './transport.js';

/** Options of {@link RmSyncClient}. */
export interface RmSyncClientOptions {
  /** Largest request payload, default 14384 (Linux's limit; spec §1.3). */
  readonly maxRequestPayload?: number;
  /** Receives problems that belong to no call (stray replies, bad fragments, listener exceptions). */
  readonly onError?: (error: unknown) => void;
}

/**
 * Client end of a synchronous RM link. One call at a time; the reply is matched by `seq` and
 * `msg_id` like {@link RmClient}. Notifications that arrive during a call (RM sends VM_STATUS
 * before the reply of VM_INIT, VM_START, …; spec §6.3) are delivered to listeners, in arrival
 * order, before `call` returns; notifications that arrive outside a call are delivered at once.
 * Listener exceptions are isolated and reported to `onError`.
 *
 * @example
 * ```ts
 * const [hostEnd, rmEnd] = createSyncTransportPair();
 * new FakeRm(rmEnd, { synchronous: true });
 * const rm = new RmSyncClient(hostEnd);
 * rm.on('VM_STATUS', (s) => console.log(s.vmStatus));
 * const { vmid } = rm.call('VM_ALLOC_VMID', { vmid: 0 });
 * ```
 */
export class RmSyncClient {
  private readonly transport: RmTransport;
  private readonly reassembler = new RmReassembler({ onMismatch: 'abort-message', checkSeq: true });
  private readonly maxRequestPayload: number;
  private readonly onError: ((error: unknown) => void) | undefined;
  private readonly hub: NotificationHub;
  private nextSeq = 0;
  private current: { seq: number; msgId: number; reply: RmRawReply | null; error: unknown } | null = null;
  private held: RmMessage[] | null = null;
  private closed = false;

  /**
   * @param transport - the host end of a synchronous link; the client installs its receive handler.
   * @param options - limits and error sink.
   */
  constructor(transport: RmTransport, options: RmSyncClientOptions = {}) {
    this.transport = transport;
    this.maxRequestPayload = options.maxRequestPayload ?? RM_LINUX_MAX_REQUEST_PAYLOAD;
    this.onError = options.onError;
    this.hub = new NotificationHub(options.onError, false);
    transport.onReceive((bytes) => this.receive(bytes));
  }

  /**
   * Sends a catalogue request and returns its decoded reply.
   *
   * @throws {RmError} the RM answered with a non-OK error code.
   * @throws {RmProtocolError} the request does not encode, or the reply does not decode.
   * @throws {RmClientError} NO_REPLY (nothing answered inline), CLOSED, REPLY_ABORTED; also when
   * called re-entrantly from a listener during another call.
   * @example
   * ```ts
   * rm.call('VM_START', { vmid: 0x80 });
   * ```
   */
  call<N extends RmRequestName>(name: N, request: RmRequestOf<N>): RmReplyOf<N> {
    const def = RM_REQUESTS[name];
    const raw = this.callRaw(def.id, def.request.encode(request));
    if (raw.rmErrorCode !== 0) throw new RmError(raw.rmErrorCode, { msgId: def.id, messageName: name, extra: raw.data });
    return def.reply.decode(raw.data);
  }

  /**
   * Sends a request with any ID and payload; returns the raw reply whatever its error code.
   *
   * @throws {RmProtocolError} MESSAGE_TOO_LARGE, FIELD_OUT_OF_RANGE, REPLY_TOO_SHORT
   * @throws {RmClientError} NO_REPLY, CLOSED, REPLY_ABORTED
   * @throws {RmTransportError} ASYNC_TRANSPORT when the transport's `send` returned a promise.
   */
  callRaw(msgId: number, payload: Uint8Array): RmRawReply {
    if (this.closed) throw new RmClientError('CLOSED', 'client is closed');
    if (this.current !== null) throw new RmClientError('NO_REPLY', 'a synchronous call is already in progress');
    if (!Number.isInteger(msgId) || msgId <= 0 || msgId > 0xffffffff) {
      throw new RmProtocolError('FIELD_OUT_OF_RANGE', `msg_id ${String(msgId)} is reserved or not a u32`);
    }
    if (payload.byteLength > this.maxRequestPayload) {
      throw new RmProtocolError('MESSAGE_TOO_LARGE', `request of ${payload.byteLength} bytes exceeds ${this.maxRequestPayload}`);
    }
    const seq = this.nextSeq;
    this.nextSeq = (seq + 1) & 0xffff;
    const fragments = encodeMessage({ type: 'request', seq, msgId, payload });
    const call = { seq, msgId, reply: null as RmRawReply | null, error: null as unknown };
    this.current = call;
    this.held = [];
    try {
      for (let i = 0; i < fragments.length; i++) {
        const r = this.transport.send(fragments[i] as Uint8Array, { push: i === fragments.length - 1 });
        if (r !== undefined) {
          void Promise.resolve(r).catch(() => undefined);
          throw new RmTransportError('ASYNC_TRANSPORT', 'RmSyncClient needs a transport whose send returns nothing');
        }
      }
    } finally {
      this.current = null;
      const held = this.held;
      this.held = null;
      for (const m of held) this.deliver(m);
    }
    if (call.error !== null) throw call.error;
    if (call.reply === null) throw new RmClientError('NO_REPLY', `no reply to ${hex32(msgId)} arrived inline`);
    return call.reply;
  }

  /** Subscribes to one notification type; returns the unsubscribe function. */
  on<N extends RmNotificationName>(name: N, listener: (payload: RmNotifications[N], message: RmMessage) => void): () => void {
    return this.hub.on(name, listener);
  }

  /** Subscribes to every notification, including unknown and undecodable ones. */
  onNotification(listener: (event: RmNotificationEvent) => void): () => void {
    return this.hub.onAny(listener);
  }

  /** Detaches from the transport; later calls throw CLOSED. */
  close(): void {
    this.closed = true;
    this.transport.onReceive(null);
  }

  private receive(bytes: Uint8Array): void {
    const { message, rejected, aborted } = this.reassembler.push(bytes);
    if (aborted !== null) {
      const c = this.current;
      if (c !== null && aborted.type === 'reply' && aborted.seq === c.seq && aborted.msgId === c.msgId) {
        c.error = new RmClientError('REPLY_ABORTED', aborted.reason.message, { cause: aborted.reason });
      } else {
        this.onError?.(aborted.reason);
      }
    }
    if (rejected !== null) this.onError?.(rejected);
    if (message === null) return;
    if (message.type === 'reply') {
      const c = this.current;
      if (c === null || c.seq !== message.seq || c.msgId !== message.msgId || c.reply !== null) {
        this.onError?.(new RmProtocolError('UNEXPECTED_TYPE', `reply ${hex32(message.msgId)} seq ${message.seq} matches no call`));
        return;
      }
      if (message.payload.byteLength < 4) {
        c.error = new RmProtocolError('REPLY_TOO_SHORT', `reply payload of ${message.payload.byteLength} bytes has no error code`);
        return;
      }
      const view = new DataView(message.payload.buffer, message.payload.byteOffset, 4);
      c.reply = { rmErrorCode: view.getUint32(0, true), data: message.payload.slice(4) };
      return;
    }
    if (message.type === 'notification') {
      if (this.held !== null) this.held.push(message);
      else this.deliver(message);
      return;
    }
    this.onError?.(new RmProtocolError('UNEXPECTED_TYPE', `client received a request ${hex32(message.msgId)}`));
  }

  private deliver(message: RmMessage): void {
    this.hub.deliver(message);
  }

}
