import { performance } from 'node:perf_hooks';
import type { EventMeta, RedisBus, RedisEventSource, Unsubscribe } from '@trellis/bus';
import { type EventDef, type PayloadOf, sfuRoomEvents, WorkerDied } from '@trellis/protocol';
import { waitFor } from '@trellis/testkit';

/**
 * Above the bus event source's 10 s subject resync: a consumer whose subscriber connection was
 * reconnecting when a room's stream was announced only finds that stream at the next resync.
 */
const EVENT_TIMEOUT_MS = 15_000;

export interface RecordedEvent {
  readonly type: string;
  readonly payload: unknown;
  readonly meta: EventMeta;
  /** performance.now() when this process handled it: lets tests relate events to media timing. */
  readonly at: number;
  /** Date.now() when handled: with meta.ts (the sender's clock at append), the bus's delivery lag. */
  readonly receivedAt: number;
}

/**
 * Everything the sfu says, as signaling would hear it: every room event (read as a consumer group of
 * the test's own, so nothing else competes for them) and the WorkerDied broadcast. Tests assert on
 * what the node announces, not on its internals.
 */
export class RoomEventLog {
  readonly #events: RecordedEvent[] = [];
  readonly #source: RedisEventSource;
  #unsubscribe: Unsubscribe | undefined;

  private constructor(source: RedisEventSource) {
    this.#source = source;
  }

  static async start(bus: RedisBus, group: string): Promise<RoomEventLog> {
    const source = bus.consumeEvents(group);
    const log = new RoomEventLog(source);
    for (const def of sfuRoomEvents) source.on(def, (payload, meta) => log.#record(def, payload, meta));
    await source.start();
    // Pub/sub keeps nothing for late subscribers: subscribe before anything can die.
    log.#unsubscribe = await bus.broadcast.subscribe(WorkerDied, (payload, meta) =>
      log.#record(WorkerDied, payload, meta),
    );
    return log;
  }

  /** Every recorded event of `def`'s type that passes `filter`, oldest first. */
  all<E extends EventDef>(def: E, filter: (payload: PayloadOf<E>) => boolean = () => true): PayloadOf<E>[] {
    return this.#events
      .filter((e) => e.type === def.type)
      .map((e) => e.payload as PayloadOf<E>)
      .filter(filter);
  }

  /** Events (with timing) of one room, for diagnostics. */
  ofRoom(roomId: string): RecordedEvent[] {
    return this.#events.filter((e) => e.meta.subject === roomId);
  }

  /** The first event of `def`'s type matching `filter`, waiting for it if it hasn't come yet. */
  async next<E extends EventDef>(
    def: E,
    filter: (payload: PayloadOf<E>) => boolean,
    opts: { timeoutMs?: number; what?: string } = {},
  ): Promise<PayloadOf<E>> {
    const [found] = await this.waitForCount(def, filter, 1, opts);
    return found!;
  }

  /** Waits until at least `count` events match, and returns all that do. */
  async waitForCount<E extends EventDef>(
    def: E,
    filter: (payload: PayloadOf<E>) => boolean,
    count: number,
    opts: { timeoutMs?: number; what?: string } = {},
  ): Promise<PayloadOf<E>[]> {
    return waitFor(
      () => {
        const matches = this.all(def, filter);
        return matches.length >= count ? matches : undefined;
      },
      { timeoutMs: opts.timeoutMs ?? EVENT_TIMEOUT_MS, what: opts.what ?? `${count} ${def.type} event(s)` },
    );
  }

  async close(): Promise<void> {
    await this.#unsubscribe?.();
    await this.#source.close();
  }

  #record(def: EventDef, payload: unknown, meta: EventMeta): void {
    this.#events.push({ type: def.type, payload, meta, at: performance.now(), receivedAt: Date.now() });
  }
}
