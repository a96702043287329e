import { Catalog, type EventDef, validationError } from '@trellis/protocol';
import type { Logger } from 'pino';
import { decodeEvent, eventMeta, fieldOf } from '../codec';
import type { DeadLetterSink } from '../deadLetters';
import type { EventHandler, EventSource } from '../interfaces';
import type { BusKeys } from '../keys';
import type { BusMetrics } from '../metrics';
import type { RedisClient } from './connection';
import { type StreamEntry, StreamGroupReader } from './StreamGroupReader';

export interface RedisEventSourceOptions {
  redis: RedisClient;
  blocking: RedisClient;
  /** Receives subject announcements; may be shared with a Broadcaster. */
  subscriber: RedisClient;
  keys: BusKeys;
  /** All consumers with this group name share the work: each event reaches one of them. */
  group: string;
  consumer: string;
  metrics: BusMetrics;
  deadLetters: DeadLetterSink;
  logger: Logger;
  claimIdleMs?: number;
  claimIntervalMs?: number;
  /** How often the subject set is re-read, in case an announcement was missed during a reconnect. */
  resyncMs?: number;
}

/**
 * Reads every subject (room) stream as one consumer group. Subjects are discovered from the
 * registry set at start, from announcements while running, and by a periodic re-read. Events of
 * one subject are handled in order.
 */
export class RedisEventSource implements EventSource {
  readonly #o: RedisEventSourceOptions;
  readonly #catalog = new Catalog<EventDef>();
  readonly #handlers = new Map<string, EventHandler<EventDef>>();
  readonly #streams = new Set<string>();
  readonly #reader: StreamGroupReader;
  #resync: NodeJS.Timeout | undefined;
  readonly #onAnnouncement = (channel: string, subject: string) => {
    if (channel === this.#o.keys.eventSubjectsChannel()) this.#addSubject(subject);
  };

  constructor(options: RedisEventSourceOptions) {
    this.#o = options;
    this.#reader = new StreamGroupReader({
      redis: options.redis,
      blocking: options.blocking,
      group: options.group,
      consumer: options.consumer,
      streams: () => [...this.#streams],
      handle: (entry) => this.#onEntry(entry),
      poison: (entry, deliveries) => options.deadLetters.poison('event', entry, deliveries),
      logger: options.logger,
      ordered: true,
      createStreams: false,
      onStreamGone: (stream) => this.#streams.delete(stream),
      ...(options.claimIdleMs === undefined ? {} : { claimIdleMs: options.claimIdleMs }),
      ...(options.claimIntervalMs === undefined ? {} : { claimIntervalMs: options.claimIntervalMs }),
      onReclaimed: (count) => options.metrics.reclaimed.inc({ stream_kind: 'event' }, count),
    });
  }

  on<E extends EventDef>(def: E, handler: EventHandler<E>): this {
    this.#catalog.add(def);
    this.#handlers.set(`${def.type}@${def.version}`, handler as unknown as EventHandler<EventDef>);
    return this;
  }

  async start(): Promise<void> {
    const { subscriber, keys, resyncMs = 3_000 } = this.#o;
    subscriber.on('message', this.#onAnnouncement);
    await subscriber.subscribe(keys.eventSubjectsChannel());
    await this.#loadSubjects();
    await this.#reader.start();
    this.#resync = setInterval(() => void this.#loadSubjects().catch(() => {}), resyncMs);
  }

  async close(): Promise<void> {
    clearInterval(this.#resync);
    this.#o.subscriber.off('message', this.#onAnnouncement);
    await this.#o.subscriber.unsubscribe(this.#o.keys.eventSubjectsChannel()).catch(() => {});
    await this.#reader.close();
  }

  async #loadSubjects(): Promise<void> {
    const subjects = new Set(await this.#o.redis.smembers(this.#o.keys.eventSubjects()));
    const wanted = new Set([...subjects].map((s) => this.#o.keys.eventStream(s)));
    let changed = false;
    for (const stream of wanted)
      if (!this.#streams.has(stream)) changed = this.#streams.add(stream) !== undefined;
    for (const stream of this.#streams) if (!wanted.has(stream)) changed = this.#streams.delete(stream);
    if (changed) await this.#reader.wake();
  }

  #addSubject(subject: string): void {
    const stream = this.#o.keys.eventStream(subject);
    if (this.#streams.has(stream)) return;
    this.#streams.add(stream);
    void this.#reader.wake();
  }

  async #onEntry(entry: StreamEntry): Promise<void> {
    const raw = fieldOf(entry.fields);
    const decoded = decodeEvent(raw);
    const deadLetter = (reason: string) =>
      this.#o.deadLetters.send({ origin: entry.stream, originKind: 'event', entryId: entry.id, reason, raw });
    if (!decoded.ok) return deadLetter(decoded.reason);
    const event = decoded.value;
    const key = `${event.type}@${event.version}`;
    const handler = this.#handlers.get(key);
    if (!handler) {
      // Another group member may run a newer build that knows this event; this one skips it.
      this.#o.metrics.eventsConsumed.inc({ type: event.type, outcome: 'unhandled' });
      return;
    }
    const def = this.#catalog.get(event.type, event.version)!;
    const payload = def.payload.safeParse(event.payload);
    if (!payload.success) return deadLetter(`invalid payload: ${validationError(payload.error).message}`);
    await handler(payload.data, eventMeta(event));
    this.#o.metrics.eventsConsumed.inc({ type: event.type, outcome: 'ok' });
  }
}
