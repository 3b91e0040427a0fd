/**
 * Server framework for an RM model: reassembles requests, dispatches them by message ID to
 * handlers one at a time, and fragments replies and notifications without interleaving them
 * (spec/gunyah-rm-protocol.md §1.4–§1.6).
 *
 * @module
 */
import { RM_VMID } from './constants.js';
import {
  RM_NOTIFICATIONS,
  RM_REQUESTS,
  lookupMessage,
  type RmNotificationName,
  type RmNotifications,
  type RmReplyOf,
  type RmRequestName,
  type RmRequestOf,
} from './catalogue.js';
import { RM_ERROR, RmError, RmProtocolError, RmTransportError, hex32 } from './errors.js';
import { RmReassembler, encodeMessage, type RmMessage, type RmMessageType } from './framing.js';
import type { RmTransport } from './transport.js';

/** What a handler can do besides returning its reply. */
export interface RmRequestContext {
  /** Catalogue name of the request, or `null` for an ID outside the catalogue (raw handlers). */
  readonly name: RmRequestName | null;
  /** Message ID of the request. */
  readonly msgId: number;
  /** Sequence number of the request (echoed in the reply). */
  readonly seq: number;
  /** VMID of the VM at the other end of this link ({@link RmServerOptions.callerVmid}). */
  readonly callerVmid: number;
  /** The request payload as received. */
  readonly payload: Uint8Array;
  /**
   * Sends a notification on this link now, i.e. before the reply (RM sends VM_STATUS before the
   * reply of VM_CONFIG_IMAGE, VM_INIT, VM_START, VM_STOP, VM_RESET; spec §6.3).
   * @throws {RmProtocolError} FIELD_OUT_OF_RANGE when the payload does not encode.
   */
  notify<N extends RmNotificationName>(name: N, payload: RmNotifications[N]): void;
  /**
   * Runs `task` after the reply is queued and before the next request is served (e.g. the
   * second half of VM_RESET: MEM_RELEASED notifications, then VM_STATUS RESET).
   */
  afterReply(task: () => void | Promise<void>): void;
}

/** A typed handler for request `N`: returns the reply payload, or throws {@link RmError}. */
export type RmRequestHandler<N extends RmRequestName> = (
  request: RmRequestOf<N>,
  context: RmRequestContext,
) => RmReplyOf<N> | Promise<RmReplyOf<N>>;

/** A handler on raw bytes: returns the reply data (after the error code), or throws {@link RmError}. */
export type RmRawRequestHandler = (payload: Uint8Array, context: RmRequestContext) => Uint8Array | Promise<Uint8Array>;

/** Options of {@link RmServer}. */
export interface RmServerOptions {
  /** VMID of the VM at the other end, passed to handlers; default 3 (the host, HLOS). */
  readonly callerVmid?: number;
  /**
   * Supplies notification sequence numbers. RM uses one global counter from 0 for all links
   * (spec §1.5); share one {@link createSeqCounter} between the servers of a model to match.
   */
  readonly nextNotificationSeq?: () => number;
  /**
   * Receives problems that belong to no reply: rejected fragments, non-request messages, send
   * failures, and unexpected handler exceptions (which are answered with DENIED). Default: ignore.
   */
  readonly onError?: (error: unknown) => void;
  /**
   * Serve requests inline, on the call stack of the transport's receive handler (default false).
   * For links whose caller cannot wait for a promise, such as an emulated kernel's synchronous
   * `VM_START` ioctl. The transport's `send` must return nothing (no promise), and handlers must
   * return their reply directly: a handler returning a promise is answered DENIED and reported to
   * {@link RmServerOptions.onError}. `ctx.notify()` sends at once (before the reply) and
   * `ctx.afterReply()` tasks run right after the reply is sent. A request arriving while another
   * is being served (a re-entrant call) is served after it, still before `receive` returns.
   * Use {@link createSyncTransportPair} and `RmSyncClient` at the other end.
   */
  readonly synchronous?: boolean;
}

/** A u16 counter starting at 0, wrapping at 65536, for notification sequence numbers. */
export function createSeqCounter(): () => number {
  let next = 0;
  return () => {
    const seq = next;
    next = (next + 1) & 0xffff;
    return seq;
  };
}

/**
 * Serves one RM link. Register handlers with {@link RmServer.handle}; requests are served one at
 * a time in arrival order; unhandled IDs get UNIMPLEMENTED (0xFFFFFFFF), undecodable request
 * payloads get MSG_INVALID, a thrown {@link RmError} becomes that error reply (with its `extra`
 * bytes), and any other exception becomes DENIED. Replies from the VM are ignored and so are
 * notifications (RM only considers those from the hypervisor; spec §1.4). Outgoing messages are
 * queued so fragments of two messages never interleave.
 *
 * @example
 * ```ts
 * const server = new RmServer(rmEnd);
 * server.handle('VM_GET_VMID', () => ({ vmid: 3 }));
 * server.handle('VM_START', ({ vmid }, ctx) => {
 *   ctx.notify('VM_STATUS', { vmid, vmStatus: RM_VM_STATUS.RUNNING, osStatus: 0, appStatus: 0 });
 *   return {};
 * });
 * ```
 */
export class RmServer {
  private readonly transport: RmTransport;
  private readonly reassembler = new RmReassembler();
  private readonly handlers = new Map<number, RmRawRequestHandler>();
  private readonly callerVmid: number;
  private readonly nextSeq: () => number;
  private readonly onError: ((error: unknown) => void) | undefined;
  private work: Promise<void> = Promise.resolve();
  private outgoing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly synchronous: boolean;
  private serving = false;
  private readonly backlog: RmMessage[] = [];

  /**
   * @param transport - the RM end of the link; the server installs its receive handler.
   * @param options - caller VMID, notification counter, error sink.
   */
  constructor(transport: RmTransport, options: RmServerOptions = {}) {
    this.transport = transport;
    this.callerVmid = options.callerVmid ?? RM_VMID.HLOS;
    this.nextSeq = options.nextNotificationSeq ?? createSeqCounter();
    this.onError = options.onError;
    this.synchronous = options.synchronous ?? false;
    transport.onReceive((bytes) => this.receive(bytes));
  }

  /**
   * Registers the handler of a catalogue request (replacing any earlier one).
   *
   * @example
   * ```ts
   * server.handle('VM_ALLOC_VMID', ({ vmid }) => ({ vmid: vmid === 0 ? 0x80 : null }));
   * ```
   */
  handle<N extends RmRequestName>(name: N, handler: RmRequestHandler<N>): this {
    const def = RM_REQUESTS[name];
    this.handlers.set(def.id, (payload, context) => {
      let request: RmRequestOf<N>;
      try {
        request = def.request.decode(payload) as RmRequestOf<N>;
      } catch (cause) {
        throw new RmError('MSG_INVALID', { msgId: def.id, messageName: name, cause });
      }
      const reply = handler(request, context);
      if (isThenable(reply)) return Promise.resolve(reply).then((r) => def.reply.encode(r));
      return def.reply.encode(reply);
    });
    return this;
  }

  /** Registers a handler on raw bytes for any message ID (e.g. one outside the catalogue). */
  handleRaw(msgId: number, handler: RmRawRequestHandler): this {
    this.handlers.set(msgId >>> 0, handler);
    return this;
  }

  /** Removes the handler of a message ID; it will be answered UNIMPLEMENTED again. */
  unhandle(msgId: number): void {
    this.handlers.delete(msgId >>> 0);
  }

  /**
   * Sends a notification on this link, after anything already queued.
   * Resolves once every fragment has been handed to the transport.
   *
   * @throws {RmProtocolError} FIELD_OUT_OF_RANGE when the payload does not encode.
   */
  notify<N extends RmNotificationName>(name: N, payload: RmNotifications[N]): Promise<void> {
    const def = RM_NOTIFICATIONS[name];
    const bytes = def.payload.encode(payload);
    if (this.synchronous) {
      try {
        this.sendSync('notification', this.nextSeq(), def.id, bytes);
        return Promise.resolve();
      } catch (error) {
        this.report(error);
        return Promise.reject(error);
      }
    }
    return this.send('notification', this.nextSeq(), def.id, bytes);
  }

  /**
   * Synchronous mode: sends a notification now and returns when every fragment has been handed
   * to the transport (which, with {@link createSyncTransportPair}, means delivered).
   *
   * @throws {RmProtocolError} FIELD_OUT_OF_RANGE when the payload does not encode.
   * @throws {RmTransportError} from the transport; `ASYNC_TRANSPORT` when it returned a promise.
   */
  notifySync<N extends RmNotificationName>(name: N, payload: RmNotifications[N]): void {
    const def = RM_NOTIFICATIONS[name];
    this.sendSync('notification', this.nextSeq(), def.id, def.payload.encode(payload));
  }

  /** Resolves when every received request has been served and every message sent. */
  async idle(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.work) {
      seen = this.work;
      await seen;
    }
    await this.outgoing;
  }

  /** Stops serving: detaches from the transport; queued work finishes. */
  close(): void {
    this.closed = true;
    this.transport.onReceive(null);
  }

  private report(error: unknown): void {
    this.onError?.(error);
  }

  private sendSync(type: RmMessageType, seq: number, msgId: number, payload: Uint8Array): void {
    const fragments = encodeMessage({ type, seq, msgId, payload });
    for (const fragment of fragments) {
      const r = this.transport.send(fragment, { push: false });
      if (isThenable(r)) {
        void Promise.resolve(r).catch(() => undefined);
        throw new RmTransportError('ASYNC_TRANSPORT', 'a synchronous RmServer needs a transport whose send returns nothing');
      }
    }
  }

  private send(type: RmMessageType, seq: number, msgId: number, payload: Uint8Array): Promise<void> {
    const fragments = encodeMessage({ type, seq, msgId, payload });
    const done = this.outgoing.then(async () => {
      for (const fragment of fragments) await this.transport.send(fragment, { push: false });
    });
    this.outgoing = done.catch((error: unknown) => this.report(error));
    return done;
  }

  private receive(bytes: Uint8Array): void {
    if (this.closed) return;
    const { message, rejected, aborted } = this.reassembler.push(bytes);
    if (aborted !== null) this.report(aborted.reason);
    if (rejected !== null) this.report(rejected);
    if (message === null) return;
    if (message.type !== 'request') {
      this.report(new RmProtocolError('UNEXPECTED_TYPE', `server ignored a ${message.type} ${hex32(message.msgId)}`));
      return;
    }
    if (this.synchronous) {
      this.backlog.push(message);
      if (this.serving) return; // re-entrant: served after the current request
      this.serving = true;
      try {
        for (let next = this.backlog.shift(); next !== undefined; next = this.backlog.shift()) this.serveSync(next);
      } finally {
        this.serving = false;
      }
      return;
    }
    this.work = this.work.then(() => this.serve(message));
  }

  // The request context a handler sees; `notify` sends at once (sync) or queued (async).
  private context(message: RmMessage, after: (() => void | Promise<void>)[]): RmRequestContext {
    const def = lookupMessage(message.msgId);
    return {
      name: def?.kind === 'request' ? def.name : null,
      msgId: message.msgId,
      seq: message.seq,
      callerVmid: this.callerVmid,
      payload: message.payload,
      notify: (name, payload) => {
        if (this.synchronous) {
          try {
            this.notifySync(name, payload);
          } catch (error) {
            this.report(error);
          }
        } else {
          void this.notify(name, payload).catch(() => undefined); // failures reach onError via send()
        }
      },
      afterReply: (task) => {
        after.push(task);
      },
    };
  }

  // What a handler's exception becomes: its RmError code and extra bytes, else DENIED (reported).
  private failure(error: unknown): { code: number; data: Uint8Array } {
    if (error instanceof RmError) return { code: error.rmErrorCode, data: error.extra };
    this.report(error);
    return { code: RM_ERROR.DENIED, data: new Uint8Array(0) };
  }

  private serveSync(message: RmMessage): void {
    const after: (() => void | Promise<void>)[] = [];
    const context = this.context(message, after);
    const handler = this.handlers.get(message.msgId);
    let outcome: { code: number; data: Uint8Array } = { code: RM_ERROR.UNIMPLEMENTED, data: new Uint8Array(0) };
    if (handler !== undefined) {
      try {
        const result = handler(message.payload, context);
        if (isThenable(result)) {
          void Promise.resolve(result).catch(() => undefined);
          outcome = { code: RM_ERROR.DENIED, data: new Uint8Array(0) };
          this.report(new RmProtocolError('UNEXPECTED_TYPE', `handler of ${hex32(message.msgId)} returned a promise on a synchronous server`));
        } else {
          outcome = { code: RM_ERROR.OK, data: result };
        }
      } catch (error) {
        outcome = this.failure(error);
      }
    }
    try {
      this.sendSync('reply', message.seq, message.msgId, replyPayload(outcome.code, outcome.data));
    } catch (error) {
      this.report(error);
      if (error instanceof RmProtocolError && outcome.code === RM_ERROR.OK) {
        // the reply did not fit (MESSAGE_TOO_LARGE): answer NOMEM rather than leave the caller waiting
        try {
          this.sendSync('reply', message.seq, message.msgId, replyPayload(RM_ERROR.NOMEM));
        } catch (e) {
          this.report(e);
        }
      }
    }
    for (const task of after) {
      try {
        const r = task();
        if (isThenable(r)) void Promise.resolve(r).catch((error: unknown) => this.report(error));
      } catch (error) {
        this.report(error);
      }
    }
  }

  private async serve(message: RmMessage): Promise<void> {
    const after: (() => void | Promise<void>)[] = [];
    const context = this.context(message, after);
    const handler = this.handlers.get(message.msgId);
    let outcome: { code: number; data: Uint8Array } = { code: RM_ERROR.UNIMPLEMENTED, data: new Uint8Array(0) };
    if (handler !== undefined) {
      try {
        outcome = { code: RM_ERROR.OK, data: await handler(message.payload, context) };
      } catch (error) {
        outcome = this.failure(error);
      }
    }
    try {
      await this.send('reply', message.seq, message.msgId, replyPayload(outcome.code, outcome.data));
    } catch (error) {
      // transport failures were already reported by send(); encoding failures were not
      if (error instanceof RmProtocolError) this.report(error);
      if (error instanceof RmProtocolError && outcome.code === RM_ERROR.OK) {
        // the reply did not fit (MESSAGE_TOO_LARGE): answer NOMEM rather than leave the caller waiting
        await this.send('reply', message.seq, message.msgId, replyPayload(RM_ERROR.NOMEM)).catch(() => undefined);
      }
    }
    for (const task of after) {
      try {
        await task();
      } catch (error) {
        this.report(error);
      }
    }
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

// A reply payload: the u32 RM error code, then the data (spec §1.6).
function replyPayload(code: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const reply = new Uint8Array(4 + data.byteLength);
  new DataView(reply.buffer).setUint32(0, code, true);
  reply.set(data, 4);
  return reply;
}
