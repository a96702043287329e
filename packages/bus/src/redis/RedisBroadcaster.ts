import { type EventDef, type PayloadInputOf, type PayloadOf, validationError } from '@trellis/protocol';
import type { Logger } from 'pino';
import { decodeEvent, eventEnvelope, eventMeta } from '../codec';
import type { DeadLetterSink } from '../deadLetters';
import type { Broadcaster, EventHandler, Unsubscribe } from '../interfaces';
import type { BusKeys } from '../keys';
import type { BusMetrics } from '../metrics';
import type { RedisClient } from './connection';

export interface RedisBroadcasterOptions {
  redis: RedisClient;
  /** A connection in subscriber mode; ioredis re-subscribes it after a reconnect. */
  subscriber: RedisClient;
  keys: BusKeys;
  nodeId: string;
  metrics: BusMetrics;
  deadLetters: DeadLetterSink;
  logger: Logger;
}

/** Pub/sub fan-out, one channel per event type: every subscribed node gets every message. */
export class RedisBroadcaster implements Broadcaster {
  readonly #o: RedisBroadcasterOptions;
  readonly #subscriptions = new Map<string, Set<(raw: string) => Promise<void>>>();
  readonly #onMessage = (channel: string, raw: string) => {
    for (const deliver of this.#subscriptions.get(channel) ?? []) void deliver(raw);
  };

  constructor(options: RedisBroadcasterOptions) {
    this.#o = options;
    options.subscriber.on('message', this.#onMessage);
  }

  async publish<E extends EventDef>(
    def: E,
    payload: PayloadInputOf<E>,
    opts: { subject?: string; correlationId?: string } = {},
  ): Promise<void> {
    const parsed = def.payload.safeParse(payload);
    if (!parsed.success) throw validationError(parsed.error, `${def.type} broadcast`);
    const envelope = eventEnvelope(def, parsed.data, this.#o.nodeId, opts);
    await this.#o.redis.publish(this.#o.keys.broadcastChannel(def.type), JSON.stringify(envelope));
    this.#o.metrics.broadcasts.inc({ type: def.type, direction: 'out' });
  }

  async subscribe<E extends EventDef>(def: E, handler: EventHandler<E>): Promise<Unsubscribe> {
    const channel = this.#o.keys.broadcastChannel(def.type);
    const deliver = async (raw: string) => {
      const deadLetter = (reason: string) =>
        this.#o.deadLetters.send({ origin: channel, originKind: 'broadcast', reason, raw });
      const decoded = decodeEvent(raw);
      if (!decoded.ok) return deadLetter(decoded.reason);
      const event = decoded.value;
      if (event.version !== def.version) return; // subscribed to another version of this type
      const payload = def.payload.safeParse(event.payload);
      if (!payload.success) return deadLetter(`invalid payload: ${validationError(payload.error).message}`);
      this.#o.metrics.broadcasts.inc({ type: def.type, direction: 'in' });
      try {
        await handler(payload.data as PayloadOf<E>, eventMeta(event));
      } catch (error) {
        this.#o.logger.error({ err: error, type: def.type }, 'broadcast handler failed');
      }
    };
    let handlers = this.#subscriptions.get(channel);
    if (!handlers) {
      handlers = new Set();
      this.#subscriptions.set(channel, handlers);
      await this.#o.subscriber.subscribe(channel);
    }
    handlers.add(deliver);
    return async () => {
      handlers.delete(deliver);
      if (handlers.size === 0 && this.#subscriptions.get(channel) === handlers) {
        this.#subscriptions.delete(channel);
        await this.#o.subscriber.unsubscribe(channel);
      }
    };
  }

  async close(): Promise<void> {
    this.#o.subscriber.off('message', this.#onMessage);
    const channels = [...this.#subscriptions.keys()];
    this.#subscriptions.clear();
    if (channels.length > 0) await this.#o.subscriber.unsubscribe(...channels).catch(() => {});
  }
}
