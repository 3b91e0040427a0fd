/**
 * Notification delivery shared by {@link RmClient} and {@link RmSyncClient}: typed listeners per
 * notification, listeners for every notification, decoding through the catalogue, and isolation of
 * listener exceptions.
 *
 * @internal
 * @module
 */
import { RM_NOTIFICATIONS, lookupMessage, type RmNotificationName, type RmNotifications } from './catalogue.js';
import { RmProtocolError, hex32 } from './errors.js';
import type { RmNotificationEvent } from './client.js';
import type { RmMessage } from './framing.js';

type Listener = (value: never, message: RmMessage) => void;

/**
 * Listener registry and delivery.
 *
 * @internal
 */
export class NotificationHub {
  readonly #listeners = new Map<number, Set<Listener>>();
  readonly #any = new Set<(event: RmNotificationEvent) => void>();
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #rethrowWithoutSink: boolean;

  /**
   * @param onError - receives decode problems and listener exceptions
   * @param rethrowWithoutSink - without `onError`, rethrow listener exceptions from a microtask
   *   (so they are not lost) instead of dropping them
   */
  constructor(onError: ((error: unknown) => void) | undefined, rethrowWithoutSink: boolean) {
    this.#onError = onError;
    this.#rethrowWithoutSink = rethrowWithoutSink;
  }

  /** Subscribe to one notification type; returns the unsubscribe function. */
  on<N extends RmNotificationName>(name: N, listener: (payload: RmNotifications[N], message: RmMessage) => void): () => void {
    const id = RM_NOTIFICATIONS[name].id;
    let set = this.#listeners.get(id);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(id, set);
    }
    const fn = listener as Listener;
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  /** Subscribe to every notification; returns the unsubscribe function. */
  onAny(listener: (event: RmNotificationEvent) => void): () => void {
    this.#any.add(listener);
    return () => {
      this.#any.delete(listener);
    };
  }

  /** Decode `message` and hand it to the listeners, in registration order. */
  deliver(message: RmMessage): void {
    const def = lookupMessage(message.msgId);
    let value: RmNotifications[RmNotificationName] | undefined;
    let error: RmProtocolError | null = null;
    let name: RmNotificationName | null = null;
    if (def?.kind === 'notification') {
      name = def.name;
      try {
        value = def.payload.decode(message.payload);
      } catch (e) {
        error = e as RmProtocolError;
        this.#onError?.(e);
      }
    } else {
      this.#onError?.(new RmProtocolError('UNKNOWN_MESSAGE', `notification ${hex32(message.msgId)} is not in the catalogue`));
    }
    if (value !== undefined) {
      for (const listener of this.#listeners.get(message.msgId) ?? []) this.#safely(() => listener(value as never, message));
    }
    const event: RmNotificationEvent = { name, message, value, error };
    for (const listener of this.#any) this.#safely(() => listener(event));
  }

  #safely(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      if (this.#onError !== undefined) this.#onError(error);
      else if (this.#rethrowWithoutSink)
        queueMicrotask(() => {
          throw error;
        });
    }
  }
}
