import calculateSlot from 'cluster-key-slot';
import type { Logger } from 'pino';
import { connected, isCluster, type RedisClient } from './connection';

export interface StreamEntry {
  readonly stream: string;
  readonly id: string;
  readonly fields: readonly string[];
  /** Taken over from another consumer (or this one's earlier life) by XAUTOCLAIM. */
  readonly redelivered: boolean;
}

export interface StreamGroupReaderOptions {
  /** Non-blocking operations: XACK, XAUTOCLAIM, XGROUP. Shared, not owned. */
  redis: RedisClient;
  /** Dedicated connection for XREADGROUP BLOCK; owned: the reader disconnects it on close. */
  blocking: RedisClient;
  group: string;
  consumer: string;
  /** The streams to read, asked again before every read so the set can change (rooms come and go). */
  streams: () => readonly string[];
  /** Runs one entry; the reader acknowledges it when this resolves. A throw leaves it pending for a retry. */
  handle: (entry: StreamEntry) => Promise<void>;
  /** Dead-letters an entry that keeps failing, then it is acknowledged. */
  poison: (entry: StreamEntry, deliveries: number) => Promise<void>;
  logger: Logger;
  /** Entries of one stream run one after another (room events), else concurrently (commands). */
  ordered?: boolean;
  concurrency?: number;
  count?: number;
  blockMs?: number;
  /** An entry pending this long on a consumer is considered abandoned and taken over. */
  claimIdleMs?: number;
  claimIntervalMs?: number;
  maxDeliveries?: number;
  onReclaimed?: (count: number) => void;
  /**
   * Whether a missing stream is created (a command stream outlives its readers). Room streams are
   * not: a deleted room must stay deleted, so a missing one is reported to `onStreamGone` instead.
   */
  createStreams?: boolean;
  onStreamGone?: (stream: string) => void;
}

type RawEntries = [string, [string, string[]][]][];

/**
 * A consumer-group reader over Redis Streams: XREADGROUP, XACK after the handler ran, XAUTOCLAIM of
 * entries abandoned by dead consumers, and recovery from Redis restarts (the read is retried; a
 * group lost with a non-persistent Redis is recreated). Both command servers and event consumers
 * are built on it.
 */
export class StreamGroupReader {
  readonly #o: Required<Omit<StreamGroupReaderOptions, 'onReclaimed' | 'onStreamGone'>> &
    Pick<StreamGroupReaderOptions, 'onReclaimed' | 'onStreamGone'>;
  readonly #groupsReady = new Set<string>();
  /**
   * Entries being handled here, keyed by stream and id (ids are per stream: two rooms' streams can
   * hold the same id), with when they started. Never reclaimed from ourselves.
   */
  readonly #inFlight = new Map<string, { stream: string; id: string; since: number }>();
  readonly #tails = new Map<string, Promise<void>>();
  #capacityWaiter: (() => void) | undefined;
  #stopping = false;
  readonly #stop = new AbortController();
  #readLoop: Promise<void> | undefined;
  #claimLoop: Promise<void> | undefined;
  #blockingClientId: number | undefined;
  #idleWake: (() => void) | undefined;
  #lastErrorLog = 0;

  constructor(options: StreamGroupReaderOptions) {
    this.#o = {
      ordered: false,
      concurrency: 64,
      count: 64,
      blockMs: 2000,
      claimIdleMs: 30_000,
      claimIntervalMs: 5_000,
      maxDeliveries: 5,
      createStreams: true,
      ...options,
    };
  }

  get group(): string {
    return this.#o.group;
  }

  async start(): Promise<void> {
    const { blocking } = this.#o;
    if (!isCluster(blocking)) {
      // CLIENT UNBLOCK needs the blocking connection's id, which changes with every reconnect.
      blocking.on('ready', () => void this.#refreshClientId());
      await connected(blocking);
      await this.#refreshClientId();
    }
    for (const stream of this.#o.streams()) await this.#ensureGroup(stream);
    this.#readLoop = this.#runReads();
    this.#claimLoop = this.#runClaims();
  }

  /** Interrupts a blocked read so a changed stream set takes effect now, not after blockMs. */
  async wake(): Promise<void> {
    this.#idleWake?.();
    if (this.#blockingClientId === undefined || isCluster(this.#o.redis)) return;
    try {
      await this.#o.redis.call('CLIENT', 'UNBLOCK', String(this.#blockingClientId));
    } catch {
      // Not blocked right now, or reconnecting: the next read sees the new streams anyway.
    }
  }

  async close(graceMs = 10_000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stop.abort();
    this.#idleWake?.();
    this.#capacityWaiter?.();
    this.#o.blocking.disconnect();
    await Promise.allSettled([this.#readLoop, this.#claimLoop]);
    const drained = Promise.allSettled([...this.#tails.values()]);
    await Promise.race([drained, sleep(graceMs)]);
  }

  async #refreshClientId(): Promise<void> {
    try {
      this.#blockingClientId = Number(await this.#o.blocking.call('CLIENT', 'ID'));
    } catch {
      this.#blockingClientId = undefined;
    }
  }

  /** Returns false when the stream does not exist and is not to be created. */
  async #ensureGroup(stream: string): Promise<boolean> {
    if (this.#groupsReady.has(stream)) return true;
    try {
      // From '0': entries appended before the group existed (a room's first events) are delivered too.
      if (this.#o.createStreams) await this.#o.redis.xgroup('CREATE', stream, this.#o.group, '0', 'MKSTREAM');
      else await this.#o.redis.xgroup('CREATE', stream, this.#o.group, '0');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message.includes('requires the key to exist')) {
        this.#o.onStreamGone?.(stream);
        return false;
      }
      if (!message.startsWith('BUSYGROUP')) throw error;
    }
    this.#groupsReady.add(stream);
    return true;
  }

  async #runReads(): Promise<void> {
    const { blockMs } = this.#o;
    while (!this.#stopping) {
      let streams: string[];
      try {
        streams = [];
        for (const stream of this.#o.streams()) if (await this.#ensureGroup(stream)) streams.push(stream);
      } catch (error) {
        if (this.#stopping) break;
        await this.#recover(error);
        continue;
      }
      if (streams.length === 0) {
        await new Promise<void>((resolve) => {
          this.#idleWake = resolve;
          setTimeout(resolve, blockMs);
        });
        continue;
      }
      let entries: RawEntries;
      try {
        await this.#waitForCapacity();
        if (this.#stopping) break;
        entries = await this.#read(streams);
      } catch (error) {
        if (this.#stopping) break;
        await this.#recover(error);
        continue;
      }
      for (const [stream, batch] of entries) {
        for (const [id, fields] of batch) this.#dispatch({ stream, id, fields, redelivered: false });
      }
    }
  }

  /**
   * One blocking XREADGROUP over every stream. On Redis Cluster, streams of different slots can't
   * share a command: each slot's streams are read without blocking, all slots at once, and an
   * empty round pauses briefly instead (woken early by a new stream).
   */
  async #read(streams: string[]): Promise<RawEntries> {
    const { group, consumer, count, blockMs } = this.#o;
    const read = async (keys: string[], block: number) =>
      ((await this.#o.blocking.call(
        'XREADGROUP',
        'GROUP',
        group,
        consumer,
        'COUNT',
        count,
        ...(block > 0 ? ['BLOCK', block] : []),
        'STREAMS',
        ...keys,
        ...keys.map(() => '>'),
      )) ?? []) as RawEntries;
    const groups = bySlot(streams, isCluster(this.#o.blocking));
    if (groups.length === 1) return read(groups[0]!, blockMs);
    const replies = await Promise.all(groups.map((keys) => read(keys, 0)));
    const entries = replies.flat();
    if (entries.length === 0) {
      await new Promise<void>((resolve) => {
        this.#idleWake = resolve;
        setTimeout(resolve, 100);
      });
    }
    return entries;
  }

  async #recover(error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    if (message.startsWith('UNBLOCKED')) return; // woken on purpose
    if (message.startsWith('NOGROUP')) {
      // The stream or its group vanished (Redis restarted without persistence, or a room stream
      // was deleted): recreate on the next pass.
      this.#groupsReady.clear();
      return;
    }
    const now = Date.now();
    if (now - this.#lastErrorLog > 5000) {
      this.#lastErrorLog = now;
      this.#o.logger.warn({ err: message, group: this.#o.group }, 'stream read failed; retrying');
    }
    await sleep(200, this.#stop.signal);
  }

  #waitForCapacity(): Promise<void> {
    if (this.#inFlight.size < this.#o.concurrency) return Promise.resolve();
    return new Promise((resolve) => {
      this.#capacityWaiter = resolve;
    });
  }

  #dispatch(entry: StreamEntry): void {
    const flightKey = inFlightKey(entry.stream, entry.id);
    if (this.#inFlight.has(flightKey)) return;
    this.#inFlight.set(flightKey, { stream: entry.stream, id: entry.id, since: Date.now() });
    const key = this.#o.ordered ? entry.stream : flightKey;
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.#process(entry, flightKey));
    this.#tails.set(key, run);
    void run.finally(() => {
      if (this.#tails.get(key) === run) this.#tails.delete(key);
    });
  }

  async #process(entry: StreamEntry, flightKey: string): Promise<void> {
    try {
      await this.#o.handle(entry);
      await this.#o.redis.xack(entry.stream, this.#o.group, entry.id);
    } catch (error) {
      // Left pending on purpose: XAUTOCLAIM hands it out again after claimIdleMs.
      this.#o.logger.error({ err: error, stream: entry.stream, entryId: entry.id }, 'stream entry failed');
    } finally {
      this.#inFlight.delete(flightKey);
      if (this.#inFlight.size < this.#o.concurrency) {
        const waiter = this.#capacityWaiter;
        this.#capacityWaiter = undefined;
        waiter?.();
      }
    }
  }

  async #runClaims(): Promise<void> {
    while (!this.#stopping) {
      await sleep(this.#o.claimIntervalMs, this.#stop.signal);
      if (this.#stopping) break;
      try {
        await this.#keepOwnEntriesAlive();
        for (const stream of this.#o.streams()) await this.#claimAbandoned(stream);
      } catch (error) {
        if (!this.#stopping) await this.#recover(error);
      }
    }
  }

  /**
   * A slow handler here must not look abandoned to other consumers: re-claiming our own entries
   * (XCLAIM … JUSTID) resets their idle time without counting a delivery.
   */
  async #keepOwnEntriesAlive(): Promise<void> {
    const threshold = Date.now() - this.#o.claimIdleMs / 2;
    const byStream = new Map<string, string[]>();
    for (const { stream, id, since } of this.#inFlight.values()) {
      if (since < threshold) byStream.set(stream, [...(byStream.get(stream) ?? []), id]);
    }
    for (const [stream, ids] of byStream) {
      // ioredis 6's typed xclaim has no overload for a spread of ids before JUSTID.
      await this.#o.redis.call('XCLAIM', stream, this.#o.group, this.#o.consumer, '0', ...ids, 'JUSTID');
    }
  }

  async #claimAbandoned(stream: string): Promise<void> {
    const { group, consumer, claimIdleMs } = this.#o;
    let cursor = '0-0';
    // Bounded: a huge backlog is taken over in slices, one interval at a time.
    for (let round = 0; round < 10; round++) {
      const [next, entries] = (await this.#o.redis.xautoclaim(
        stream,
        group,
        consumer,
        claimIdleMs,
        cursor,
        'COUNT',
        100,
      )) as [string, [string, string[] | null][]];
      const claimed = entries.filter(
        (e): e is [string, string[]] => e[1] !== null && !this.#inFlight.has(inFlightKey(stream, e[0])),
      );
      if (claimed.length > 0) {
        this.#o.onReclaimed?.(claimed.length);
        const deliveries = await this.#deliveryCounts(
          stream,
          claimed.map(([id]) => id),
        );
        for (const [id, fields] of claimed) {
          const entry = { stream, id, fields, redelivered: true };
          const count = deliveries.get(id) ?? 1;
          if (count > this.#o.maxDeliveries) {
            await this.#o.poison(entry, count);
            await this.#o.redis.xack(stream, group, id);
          } else {
            this.#dispatch(entry);
          }
        }
      }
      if (next === '0-0') break;
      cursor = next;
    }
  }

  async #deliveryCounts(stream: string, ids: string[]): Promise<Map<string, number>> {
    const sorted = [...ids].sort(compareIds);
    const rows = (await this.#o.redis.xpending(
      stream,
      this.#o.group,
      sorted[0]!,
      sorted[sorted.length - 1]!,
      ids.length,
      this.#o.consumer,
    )) as [string, string, number, number][];
    return new Map(rows.map(([id, , , deliveries]) => [id, deliveries]));
  }
}

function bySlot(streams: string[], cluster: boolean): string[][] {
  if (!cluster) return [streams];
  const groups = new Map<number, string[]>();
  for (const stream of streams) {
    const slot = calculateSlot(stream);
    groups.set(slot, [...(groups.get(slot) ?? []), stream]);
  }
  return [...groups.values()];
}

function inFlightKey(stream: string, id: string): string {
  return `${stream}\n${id}`;
}

function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}

/** A pause that ends early when the reader closes, so close() never waits out an interval. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
