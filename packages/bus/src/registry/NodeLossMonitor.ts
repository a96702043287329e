import { NodeLost } from '@trellis/protocol';
import type { Logger } from 'pino';
import type { BusKeys } from '../keys';
import type { RedisClient } from '../redis/connection';
import type { RedisBroadcaster } from '../redis/RedisBroadcaster';
import type { NodeRegistry } from './NodeRegistry';

export interface NodeLossMonitorOptions {
  registry: NodeRegistry;
  redis: RedisClient;
  keys: BusKeys;
  broadcast: RedisBroadcaster;
  /** How often the registry is swept; a lost node is reported at most this long after its TTL ran out. */
  intervalMs: number;
  logger: Logger;
}

/**
 * Declares nodes lost when their heartbeat entries expire, and broadcasts NodeLost once per lost
 * node with the calls and participants it hosted, so signaling can re-home them and the surviving
 * SFU nodes can drop their pipes to it. Any number of processes may run one: the registry's sweep
 * hands each lost node to exactly one of them.
 */
export class NodeLossMonitor {
  readonly #o: NodeLossMonitorOptions;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<unknown> | undefined;

  constructor(options: NodeLossMonitorOptions) {
    this.#o = options;
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#sweeping ??= this.sweep().finally(() => {
        this.#sweeping = undefined;
      });
    }, this.#o.intervalMs);
  }

  async sweep(): Promise<string[]> {
    const { registry, redis, keys, broadcast, logger } = this.#o;
    try {
      const { lost } = await registry.sweep();
      for (const nodeId of lost) {
        const hosted = await redis.hgetall(keys.nodeRooms(nodeId));
        const rooms = Object.entries(hosted).map(([roomId, peers]) => ({
          roomId,
          peerIds: parsePeers(peers),
        }));
        await broadcast.publish(NodeLost, { nodeId, rooms });
        await redis.del(keys.nodeRooms(nodeId));
        logger.warn({ lostNode: nodeId, rooms: rooms.length }, 'node lost: heartbeat expired');
      }
      return lost;
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : error }, 'node loss sweep failed');
      return [];
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sweeping;
  }
}

function parsePeers(raw: string): string[] {
  try {
    const value: unknown = JSON.parse(raw);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
