/**
 * The transport seam: an RM link is a pair of message queues carrying messages of at most 240
 * bytes (spec/gunyah-rm-protocol.md §1.1, spec/gunyah-hypercalls.md §3.3). Anything that can send
 * such a message and report received ones can carry the protocol: a real message-queue pair, the
 * emulator's in-process queues, or {@link createMemoryTransportPair} in tests.
 *
 * @module
 */
import { RM_MESSAGE_SIZE } from './constants.js';
import { RmTransportError } from './errors.js';

/** Per-message send options. */
export interface RmSendOptions {
  /**
   * Message-queue "push" flag: raise the receiver's interrupt now. Linux sets it on the last
   * fragment of a request only; RM never sets it. Transport metadata, not part of the bytes.
   */
  readonly push: boolean;
}

/** Receives each message that arrives on a link, in order. */
export type RmReceiveHandler = (message: Uint8Array) => void;

/**
 * One end of an RM link. Implementations must deliver messages in order, must not alter them,
 * and may make `send` wait (return a promise) while the queue is full. Callers never interleave
 * sends of one message's fragments with another's.
 */
export interface RmTransport {
  /**
   * Sends one message of 1…240 bytes. The transport may keep the array; callers do not reuse it.
   * @throws {RmTransportError} EMPTY_MESSAGE, MESSAGE_TOO_LARGE, CLOSED
   */
  send(message: Uint8Array, options: RmSendOptions): void | Promise<void>;
  /** Sets (or with `null` clears) the handler for received messages. */
  onReceive(handler: RmReceiveHandler | null): void;
}

/** Options of {@link createMemoryTransportPair}. */
export interface MemoryTransportOptions {
  /** Largest message, default 240 (spec §1.1). */
  readonly maxMessageSize?: number;
  /** Queue depth per direction, default 8 (RM's value for host queues, spec §1.1). */
  readonly depth?: number;
}

/** One end of an in-memory link; see {@link createMemoryTransportPair}. */
export interface MemoryTransport extends RmTransport {
  /** Number of messages this end has sent. */
  readonly sent: number;
  /** Observes every message this end sends (after validation), for tests and tracing. */
  tap: ((message: Uint8Array, options: RmSendOptions) => void) | null;
  /** Closes both directions of the link; later sends throw CLOSED. */
  close(): void;
}

class MemoryEnd implements MemoryTransport {
  peer: MemoryEnd | null = null;
  sent = 0;
  tap: ((message: Uint8Array, options: RmSendOptions) => void) | null = null;
  private readonly inbox: Uint8Array[] = [];
  private readonly waiting: (() => void)[] = [];
  private handler: RmReceiveHandler | null = null;
  private scheduled = false;
  closed = false;
  private readonly maxSize: number;
  private readonly depth: number;

  constructor(maxSize: number, depth: number) {
    this.maxSize = maxSize;
    this.depth = depth;
  }

  send(message: Uint8Array, options: RmSendOptions): void | Promise<void> {
    if (this.closed || this.peer === null) throw new RmTransportError('CLOSED', 'transport is closed');
    if (message.byteLength === 0) throw new RmTransportError('EMPTY_MESSAGE', 'message queues reject size 0');
    if (message.byteLength > this.maxSize) {
      throw new RmTransportError('MESSAGE_TOO_LARGE', `message of ${message.byteLength} bytes exceeds ${this.maxSize}`);
    }
    const copy = message.slice(); // the hypervisor copies the message into the queue
    this.sent += 1;
    this.tap?.(copy, options);
    return this.peer.accept(copy);
  }

  /** Queues a message from the peer, waiting for room (FIFO) when the queue is full. */
  accept(message: Uint8Array): void | Promise<void> {
    if (this.waiting.length === 0 && this.inbox.length < this.depth) {
      this.inbox.push(message);
      this.schedule();
      return;
    }
    return new Promise<void>((resolve, reject) => {
      this.waiting.push(() => {
        if (this.closed) {
          reject(new RmTransportError('CLOSED', 'transport closed while the queue was full'));
          return;
        }
        this.inbox.push(message);
        this.schedule();
        resolve();
      });
    });
  }

  onReceive(handler: RmReceiveHandler | null): void {
    this.handler = handler;
    if (handler !== null) this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.handler === null) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.handler !== null && !this.closed) {
      const message = this.inbox.shift();
      if (message === undefined) return;
      this.waiting.shift()?.(); // a slot freed: admit the oldest waiting sender
      this.handler(message);
    }
  }

  close(): void {
    for (const end of [this, this.peer]) {
      if (end === null || end.closed) continue;
      end.closed = true;
      end.inbox.length = 0;
      for (const wake of end.waiting.splice(0)) wake();
    }
  }
}

/**
 * Two connected in-memory transport ends with message-queue rules: messages of 1…240 bytes,
 * copied on send, delivered in order from a microtask, at most `depth` queued per direction
 * (a send to a full queue returns a promise that settles when there is room).
 *
 * @example
 * ```ts
 * const [vmEnd, rmEnd] = createMemoryTransportPair();
 * const client = new RmClient(vmEnd);
 * const server = new RmServer(rmEnd);
 * ```
 */
export function createMemoryTransportPair(options: MemoryTransportOptions = {}): [MemoryTransport, MemoryTransport] {
  const size = options.maxMessageSize ?? RM_MESSAGE_SIZE;
  const depth = options.depth ?? 8;
  if (!Number.isInteger(size) || size < 1) throw new RangeError('maxMessageSize must be a positive integer');
  if (!Number.isInteger(depth) || depth < 1) throw new RangeError('depth must be a positive integer');
  const a = new MemoryEnd(size, depth);
  const b = new MemoryEnd(size, depth);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** One end of a synchronous in-memory link; see {@link createSyncTransportPair}. */
export interface SyncTransport extends RmTransport {
  /** Sends one message and returns after the peer's receive handler ran on it. */
  send(message: Uint8Array, options: RmSendOptions): void;
  /** Number of messages this end has sent. */
  readonly sent: number;
  /** Observes every message this end sends (after validation), for tests and tracing. */
  tap: ((message: Uint8Array, options: RmSendOptions) => void) | null;
  /** Closes both directions of the link; later sends throw CLOSED. */
  close(): void;
}

class SyncEnd implements SyncTransport {
  peer: SyncEnd | null = null;
  sent = 0;
  tap: ((message: Uint8Array, options: RmSendOptions) => void) | null = null;
  handler: RmReceiveHandler | null = null;
  closed = false;
  private readonly maxSize: number;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }

  send(message: Uint8Array, options: RmSendOptions): void {
    if (this.closed || this.peer === null) throw new RmTransportError('CLOSED', 'transport is closed');
    if (message.byteLength === 0) throw new RmTransportError('EMPTY_MESSAGE', 'message queues reject size 0');
    if (message.byteLength > this.maxSize) {
      throw new RmTransportError('MESSAGE_TOO_LARGE', `message of ${message.byteLength} bytes exceeds ${this.maxSize}`);
    }
    const receiver = this.peer.handler;
    if (receiver === null) throw new RmTransportError('NO_RECEIVER', 'the other end has no receive handler');
    const copy = message.slice(); // the hypervisor copies the message into the queue
    this.sent += 1;
    this.tap?.(copy, options);
    receiver(copy);
  }

  onReceive(handler: RmReceiveHandler | null): void {
    this.handler = handler;
  }

  close(): void {
    this.closed = true;
    if (this.peer !== null) this.peer.closed = true;
  }
}

/**
 * Two connected in-memory transport ends that deliver each message synchronously: `send` copies
 * the message (1…240 bytes, as {@link createMemoryTransportPair} checks) and calls the peer's
 * receive handler before it returns. For a synchronous RM link (an `RmServer` with
 * `synchronous: true` and an `RmSyncClient`), where a caller such as an emulated ioctl cannot
 * wait for a promise. Sending while the peer has no receive handler throws NO_RECEIVER.
 *
 * @example
 * ```ts
 * const [hostEnd, rmEnd] = createSyncTransportPair();
 * new FakeRm(rmEnd, { synchronous: true });
 * const rm = new RmSyncClient(hostEnd);
 * const { vmid } = rm.call('VM_ALLOC_VMID', { vmid: 0 });
 * ```
 */
export function createSyncTransportPair(options: Pick<MemoryTransportOptions, 'maxMessageSize'> = {}): [SyncTransport, SyncTransport] {
  const size = options.maxMessageSize ?? RM_MESSAGE_SIZE;
  if (!Number.isInteger(size) || size < 1) throw new RangeError('maxMessageSize must be a positive integer');
  const a = new SyncEnd(size);
  const b = new SyncEnd(size);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
