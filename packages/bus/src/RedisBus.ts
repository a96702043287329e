import { randomUUID } from 'node:crypto';
import type { RedisConnectionConfig } from '@trellis/config';
import type { MetricsRegistry } from '@trellis/telemetry';
import type { Logger } from 'pino';
import { DeadLetterSink } from './deadLetters';
import { BusKeys } from './keys';
import { type BusMetrics, busMetrics } from './metrics';
import { connected, createRedisConnection, duplicateConnection, type RedisClient } from './redis/connection';
import { RedisBroadcaster } from './redis/RedisBroadcaster';
import { RedisCommandClient } from './redis/RedisCommandClient';
import { RedisCommandServer } from './redis/RedisCommandServer';
import { RedisEventSink } from './redis/RedisEventSink';
import { RedisEventSource } from './redis/RedisEventSource';
import { busConnectionName } from './registry/ConnectionPresence';
import { RedisNodeRegistry } from './registry/RedisNodeRegistry';

export interface RedisBusOptions {
  nodeId: string;
  redis: RedisConnectionConfig;
  logger: Logger;
  metrics: MetricsRegistry;
  requestTimeoutMs?: number;
  /** Entries pending this long on a consumer are taken over by another (the consumer is presumed dead). */
  claimIdleMs?: number;
  claimIntervalMs?: number;
}

export interface ReaderTuning {
  concurrency?: number;
  claimIdleMs?: number;
  claimIntervalMs?: number;
}

/**
 * One process's bus: a command client with its reply inbox, an event sink, a broadcaster, and the
 * command servers and event consumers it creates. Owns its Redis connections: one shared for plain
 * commands (auto-pipelined), one in subscriber mode, and one per blocking reader.
 */
export class RedisBus {
  readonly keys: BusKeys;
  readonly metrics: BusMetrics;
  readonly commands: RedisCommandClient;
  readonly events: RedisEventSink;
  readonly broadcast: RedisBroadcaster;
  readonly registry: RedisNodeRegistry;
  readonly #o: RedisBusOptions;
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #deadLetters: DeadLetterSink;
  readonly #closeables: Array<{ close(): Promise<void> }> = [];
  readonly #blocking: RedisClient[] = [];

  private constructor(options: RedisBusOptions) {
    this.#o = options;
    this.keys = new BusKeys(options.redis.keyPrefix);
    this.metrics = busMetrics(options.metrics);
    this.#redis = createRedisConnection(options.redis, {
      name: busConnectionName(options.nodeId),
      autoPipelining: true,
      logger: options.logger,
    });
    this.#subscriber = duplicateConnection(this.#redis, `${options.nodeId}:bus-sub`, options.logger);
    this.#deadLetters = new DeadLetterSink(this.#redis, this.keys, this.metrics, options.logger);
    const common = { redis: this.#redis, keys: this.keys, nodeId: options.nodeId, metrics: this.metrics };
    this.commands = new RedisCommandClient({
      ...common,
      blocking: this.#blockingConnection('replies'),
      deadLetters: this.#deadLetters,
      logger: options.logger,
      ...(options.requestTimeoutMs === undefined ? {} : { defaultTimeoutMs: options.requestTimeoutMs }),
    });
    this.events = new RedisEventSink(common);
    this.registry = new RedisNodeRegistry(this.#redis, this.keys, options.logger);
    this.broadcast = new RedisBroadcaster({
      ...common,
      subscriber: this.#subscriber,
      deadLetters: this.#deadLetters,
      logger: options.logger,
    });
  }

  static async connect(options: RedisBusOptions): Promise<RedisBus> {
    const bus = new RedisBus(options);
    // The subscriber must be connected before anything subscribes: a SUBSCRIBE queued while it
    // connects can race the connection's own set-up commands and be refused.
    await Promise.all([connected(bus.#redis), connected(bus.#subscriber)]);
    await bus.commands.start();
    return bus;
  }

  /** The shared connection, for services that keep their own state in the same Redis. */
  get redis(): RedisClient {
    return this.#redis;
  }

  /** A server for commands sent to `target`; register handlers, then start() it. */
  serveCommands(target: string, tuning: ReaderTuning = {}): RedisCommandServer {
    const server = new RedisCommandServer({
      redis: this.#redis,
      blocking: this.#blockingConnection(`cmd:${target}`),
      keys: this.keys,
      nodeId: this.#o.nodeId,
      target,
      metrics: this.metrics,
      deadLetters: this.#deadLetters,
      logger: this.#o.logger.child({ component: 'command-server', target }),
      ...this.#tuning(tuning),
    });
    this.#closeables.push(server);
    return server;
  }

  /** A member of consumer group `group` over every subject stream; register handlers, then start() it. */
  consumeEvents(group: string, tuning: ReaderTuning = {}): RedisEventSource {
    const source = new RedisEventSource({
      redis: this.#redis,
      blocking: this.#blockingConnection(`events:${group}`),
      subscriber: this.#subscriber,
      keys: this.keys,
      group,
      consumer: `${this.#o.nodeId}:${process.pid}:${randomUUID().slice(0, 8)}`,
      metrics: this.metrics,
      deadLetters: this.#deadLetters,
      logger: this.#o.logger.child({ component: 'event-source', group }),
      ...this.#tuning(tuning),
    });
    this.#closeables.push(source);
    return source;
  }

  /** Stops readers (letting handlers in flight finish), fails pending requests, closes connections. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#closeables.map((c) => c.close()));
    await this.commands.close();
    await this.broadcast.close();
    for (const connection of [...this.#blocking, this.#subscriber]) connection.disconnect();
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  #blockingConnection(purpose: string): RedisClient {
    const connection = duplicateConnection(this.#redis, `${this.#o.nodeId}:${purpose}`, this.#o.logger);
    this.#blocking.push(connection);
    return connection;
  }

  #tuning(tuning: ReaderTuning): ReaderTuning {
    const claimIdleMs = tuning.claimIdleMs ?? this.#o.claimIdleMs;
    const claimIntervalMs = tuning.claimIntervalMs ?? this.#o.claimIntervalMs;
    return {
      ...(tuning.concurrency === undefined ? {} : { concurrency: tuning.concurrency }),
      ...(claimIdleMs === undefined ? {} : { claimIdleMs }),
      ...(claimIntervalMs === undefined ? {} : { claimIntervalMs }),
    };
  }
}
