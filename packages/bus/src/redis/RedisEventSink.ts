import { type EventDef, type PayloadInputOf, validationError } from '@trellis/protocol';
import { eventEnvelope, FIELD } from '../codec';
import type { AppendOptions, EventSink } from '../interfaces';
import type { BusKeys } from '../keys';
import type { BusMetrics } from '../metrics';
import type { RedisClient } from './connection';

export interface RedisEventSinkOptions {
  redis: RedisClient;
  keys: BusKeys;
  nodeId: string;
  metrics: BusMetrics;
  /** Cap per subject stream: a room's history is for catching up, not an archive (PostgreSQL is). */
  maxLen?: number;
}

/** Appends events to `events:{subject}` and registers the subject so consumers start reading it. */
export class RedisEventSink implements EventSink {
  readonly #o: RedisEventSinkOptions;
  /** Subjects this process has registered already: the common append costs one round trip. */
  readonly #known = new Set<string>();

  constructor(options: RedisEventSinkOptions) {
    this.#o = options;
  }

  async append<E extends EventDef>(
    subject: string,
    def: E,
    payload: PayloadInputOf<E>,
    opts: AppendOptions = {},
  ): Promise<string> {
    const parsed = def.payload.safeParse(payload);
    if (!parsed.success) throw validationError(parsed.error, `${def.type} event`);
    const { redis, keys, nodeId, metrics, maxLen = 10_000 } = this.#o;
    const envelope = eventEnvelope(def, parsed.data, nodeId, { subject, correlationId: opts.correlationId });
    const entryId = await redis.xadd(
      keys.eventStream(subject),
      'MAXLEN',
      '~',
      maxLen,
      '*',
      FIELD,
      JSON.stringify(envelope),
    );
    if (!this.#known.has(subject)) {
      if ((await redis.sadd(keys.eventSubjects(), subject)) === 1) {
        await redis.publish(keys.eventSubjectsChannel(), subject);
      }
      this.#known.add(subject);
    }
    metrics.eventsAppended.inc({ type: def.type });
    return entryId as string;
  }

  async removeSubject(subject: string): Promise<void> {
    const { redis, keys } = this.#o;
    this.#known.delete(subject);
    await redis.srem(keys.eventSubjects(), subject);
    await redis.del(keys.eventStream(subject));
  }
}
