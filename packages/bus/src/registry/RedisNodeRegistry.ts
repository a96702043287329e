import { NodeInfo } from '@trellis/protocol';
import type { Logger } from 'pino';
import type { BusKeys } from '../keys';
import type { RedisClient } from '../redis/connection';
import type { HoldBackPolicy, NodeRegistry } from './NodeRegistry';

/** `node:{id}` keys with a TTL, indexed by the `nodes` set (keys can't be listed cheaply). */
export class RedisNodeRegistry implements NodeRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: BusKeys,
    private readonly logger: Logger,
  ) {}

  async publish(info: NodeInfo, ttlMs: number): Promise<void> {
    await Promise.all([
      this.redis.set(this.keys.node(info.nodeId), JSON.stringify(info), 'PX', ttlMs),
      this.redis.sadd(this.keys.nodes(), info.nodeId),
    ]);
  }

  async remove(nodeId: string): Promise<void> {
    // A node that leaves on purpose is not "lost": its index entry goes with its key.
    await Promise.all([this.redis.srem(this.keys.nodes(), nodeId), this.redis.del(this.keys.node(nodeId))]);
  }

  async get(nodeId: string): Promise<NodeInfo | undefined> {
    return this.#parse(nodeId, await this.redis.get(this.keys.node(nodeId)));
  }

  async list(): Promise<NodeInfo[]> {
    return (await this.#read()).live;
  }

  async expired(): Promise<string[]> {
    return (await this.#read()).expired;
  }

  async #read(): Promise<{ live: NodeInfo[]; expired: string[] }> {
    const ids = await this.redis.smembers(this.keys.nodes());
    // One GET per node rather than MGET: on Redis Cluster the keys live in different slots.
    const [raws, held] = await Promise.all([
      Promise.all(ids.map((id) => this.redis.get(this.keys.node(id)))),
      Promise.all(ids.map((id) => this.redis.exists(this.keys.nodeHold(id)))),
    ]);
    const live: NodeInfo[] = [];
    const expired: string[] = [];
    ids.forEach((id, i) => {
      const raw = raws[i] ?? null;
      if (raw === null) expired.push(id);
      const info = this.#parse(id, raw);
      if (info && held[i] === 0) live.push(info);
    });
    return { live: live.sort((a, b) => a.nodeId.localeCompare(b.nodeId)), expired };
  }

  async claimLost(nodeId: string): Promise<boolean> {
    const removed = await this.redis.srem(this.keys.nodes(), nodeId);
    await this.redis.del(this.keys.node(nodeId));
    return removed === 1;
  }

  async holdBack(nodeId: string, policy: HoldBackPolicy): Promise<number> {
    const losses = this.keys.nodeLosses(nodeId);
    const count = await this.redis.incr(losses);
    await this.redis.pexpire(losses, policy.memoryMs);
    const holdMs = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(30, count - 1));
    await this.redis.set(this.keys.nodeHold(nodeId), String(count), 'PX', holdMs);
    return holdMs;
  }

  #parse(nodeId: string, raw: string | null): NodeInfo | undefined {
    if (raw === null) return undefined;
    try {
      return NodeInfo.parse(JSON.parse(raw));
    } catch (error) {
      // A node of another version may write fields we can't read: skip it, don't fail the listing.
      this.logger.warn(
        { nodeId, err: error instanceof Error ? error.message : error },
        'unreadable node entry',
      );
      return undefined;
    }
  }
}
