import { NodeLost } from '@trellis/protocol';
import type { Logger } from 'pino';
import type { BusKeys } from '../keys';
import type { RedisClient } from '../redis/connection';
import type { RedisBroadcaster } from '../redis/RedisBroadcaster';
import { ConnectionPresence } from './ConnectionPresence';
import { DEFAULT_HOLD_BACK, type HoldBackPolicy, type NodeRegistry } from './NodeRegistry';

export interface NodeLossMonitorOptions {
  /** This process's node: never declared lost by its own monitor. */
  nodeId: string;
  registry: NodeRegistry;
  redis: RedisClient;
  keys: BusKeys;
  broadcast: RedisBroadcaster;
  /** How often the registry is swept; a lost node is reported at most this long after its TTL ran out. */
  intervalMs: number;
  /**
   * A node whose bus connection has been closed for `graceMs` (seen on two checks `intervalMs`,
   * default 250, apart) is lost without waiting for its TTL. Omitted or graceMs 0: TTL only.
   */
  presence?: { graceMs: number; intervalMs?: number };
  holdBack?: HoldBackPolicy;
  logger: Logger;
}

/**
 * After our own connection (re)connects, nodes need this long to reconnect theirs (the bus's
 * reconnect back-off tops out at 1 s): a Redis restart closes every connection at once and must not
 * read as every node dying.
 */
const SETTLE_AFTER_RECONNECT_MS = 3_000;
/**
 * An expired entry whose node's bus connection is still open is late, not lost: after a Redis
 * outage longer than the TTL every entry has expired at once, and each node beats again within a
 * second of reconnecting. A wedged process (connected, silent) is declared lost this much later.
 */
const LATE_GRACE_MS = 5_000;
const PRESENCE_CHECK_MS = 250;
const PRESENCE_CHECKERS = 2;

/**
 * Declares nodes lost on the first reliable sign — their Redis connections closed (the process is
 * gone), or their heartbeat entries expired (host down, partition, wedged process) — and
 * broadcasts NodeLost once per lost node with the calls and participants it hosted, so signaling
 * can re-home them and the surviving SFU nodes can drop their pipes to it. A lost node that comes
 * back is held out of selection for a while, longer each time (flapping). Any number of processes
 * may run one: the registry hands each lost node to exactly one of them, and the connection check
 * runs in two processes at a time (leases), since CLIENT LIST costs Redis in proportion to clients.
 */
export class NodeLossMonitor {
  readonly #o: NodeLossMonitorOptions;
  readonly #presence: ConnectionPresence;
  readonly #checkEveryMs: number;
  readonly #absentSince = new Map<string, { at: number; checks: number }>();
  readonly #lateSince = new Map<string, number>();
  readonly #timers: NodeJS.Timeout[] = [];
  #sweeping: Promise<unknown> | undefined;
  #checking: Promise<unknown> | undefined;
  #settledAt = 0;
  /** Bumped on each reconnect: a sweep or check that spans one decides nothing. */
  #connection = 0;
  readonly #onReady = () => {
    this.#connection += 1;
    this.#settledAt = Date.now() + SETTLE_AFTER_RECONNECT_MS;
    this.#absentSince.clear();
    this.#lateSince.clear();
  };

  constructor(options: NodeLossMonitorOptions) {
    this.#o = options;
    this.#presence = new ConnectionPresence(options.redis);
    this.#checkEveryMs = options.presence?.intervalMs ?? PRESENCE_CHECK_MS;
  }

  start(): void {
    this.#o.redis.on('ready', this.#onReady);
    this.#timers.push(
      setInterval(() => {
        this.#sweeping ??= this.sweep().finally(() => {
          this.#sweeping = undefined;
        });
      }, this.#o.intervalMs),
    );
    const presence = this.#o.presence;
    if (presence && presence.graceMs > 0) {
      this.#timers.push(
        setInterval(() => {
          this.#checking ??= this.checkConnections().finally(() => {
            this.#checking = undefined;
          });
        }, this.#checkEveryMs),
      );
    }
  }

  /**
   * Nodes whose entries expired: lost (each reported by exactly one process), unless their bus
   * connection is still open (late: see LATE_GRACE_MS). Nothing is decided while our own
   * connection has just come back: the others are reconnecting too.
   */
  async sweep(now = Date.now()): Promise<string[]> {
    if (now < this.#settledAt) return [];
    const connection = this.#connection;
    try {
      const expired = (await this.#o.registry.expired()).filter((id) => id !== this.#o.nodeId);
      for (const id of [...this.#lateSince.keys()]) if (!expired.includes(id)) this.#lateSince.delete(id);
      if (expired.length === 0) return [];
      const connected = await this.#presence.present(expired);
      // Started before Redis went away and answered after it came back: what it read is the
      // aftermath of the outage, not node deaths.
      if (connection !== this.#connection) return [];
      const lost: string[] = [];
      for (const id of expired) {
        if (connected.has(id)) {
          const since = this.#lateSince.get(id) ?? now;
          this.#lateSince.set(id, since);
          if (now - since < LATE_GRACE_MS) continue;
        }
        this.#lateSince.delete(id);
        if (!(await this.#o.registry.claimLost(id))) continue;
        await this.#announce(
          id,
          connected.has(id) ? 'heartbeat expired while connected' : 'heartbeat expired',
        );
        lost.push(id);
      }
      return lost;
    } catch (error) {
      this.#o.logger.warn({ err: errorText(error) }, 'node loss sweep failed');
      return [];
    }
  }

  /** Nodes whose bus connection stayed closed past the grace: lost, if this process holds the lease. */
  async checkConnections(now = Date.now()): Promise<string[]> {
    const { redis, keys, registry, nodeId: self, presence } = this.#o;
    if (!presence || now < this.#settledAt) return [];
    const connection = this.#connection;
    try {
      if (!(await this.#holdLease())) {
        this.#absentSince.clear();
        return [];
      }
      const registered = (await redis.smembers(keys.nodes())).filter((id) => id !== self);
      const present = await this.#presence.present(registered);
      if (connection !== this.#connection) return [];
      const lost: string[] = [];
      for (const id of [...this.#absentSince.keys()])
        if (!registered.includes(id) || present.has(id)) this.#absentSince.delete(id);
      for (const id of registered) {
        if (present.has(id)) continue;
        const absent = this.#absentSince.get(id) ?? { at: now, checks: 0 };
        absent.checks += 1;
        this.#absentSince.set(id, absent);
        if (absent.checks < 2 || now - absent.at < presence.graceMs) continue;
        this.#absentSince.delete(id);
        if (await registry.claimLost(id)) {
          await this.#announce(id, 'connection closed');
          lost.push(id);
        }
      }
      return lost;
    } catch (error) {
      this.#o.logger.warn({ err: errorText(error) }, 'node connection check failed');
      return [];
    }
  }

  /**
   * Two checkers at a time, each holding one lease slot: when one of them is the process that died,
   * the other sees it go without first waiting for the dead one's lease to run out.
   */
  async #holdLease(): Promise<boolean> {
    const { redis, keys, nodeId: self } = this.#o;
    const leaseMs = this.#checkEveryMs * 4;
    for (let slot = 0; slot < PRESENCE_CHECKERS; slot++) {
      const key = keys.presenceLease(slot);
      if ((await redis.set(key, self, 'PX', leaseMs, 'NX')) !== null) return true;
      if ((await redis.get(key)) === self) {
        await redis.pexpire(key, leaseMs);
        return true;
      }
    }
    return false;
  }

  async #announce(nodeId: string, cause: string): Promise<void> {
    const { redis, keys, broadcast, registry, logger } = this.#o;
    const hosted = await redis.hgetall(keys.nodeRooms(nodeId));
    const rooms = Object.entries(hosted).map(([roomId, peers]) => ({ roomId, peerIds: parsePeers(peers) }));
    // Held back before anyone hears of the loss: if it comes straight back, it is not chosen.
    const holdMs = await registry.holdBack(nodeId, this.#o.holdBack ?? DEFAULT_HOLD_BACK);
    await broadcast.publish(NodeLost, { nodeId, rooms });
    await redis.del(keys.nodeRooms(nodeId));
    logger.warn({ lostNode: nodeId, cause, rooms: rooms.length, holdMs }, `node lost: ${cause}`);
  }

  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.length = 0;
    this.#o.redis.off('ready', this.#onReady);
    await Promise.all([this.#sweeping, this.#checking]);
  }
}

function errorText(error: unknown): unknown {
  return error instanceof Error ? error.message : error;
}

function parsePeers(raw: string): string[] {
  try {
    const value: unknown = JSON.parse(raw);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
