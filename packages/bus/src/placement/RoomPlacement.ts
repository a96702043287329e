import { type NodeInfo, TrellisError } from '@trellis/protocol';
import type { BusKeys } from '../keys';
import type { RedisClient } from '../redis/connection';
import type { NodeRegistry } from '../registry/NodeRegistry';
import type { NodeSelector, SelectionRequest } from '../selector/interfaces';
import { availableNodes, hasRoomFor, loadScore } from '../selector/load';

export interface RoomPlacementOptions {
  redis: RedisClient;
  keys: BusKeys;
  registry: NodeRegistry;
  selector: NodeSelector;
  /** A registry entry older than this is not trusted to describe a node that can take work. */
  maxAgeMs: number;
  /** Placement records outlive a call that was never ended properly by at most this long. */
  recordTtlMs?: number;
}

// Compare-and-set of a call's home: it is written only if it still holds what the caller saw (no
// home, or a home that is gone). Whoever loses the race gets the winner's choice back, so two
// signaling nodes can never give one call two homes.
const SET_HOME = `
local current = redis.call('GET', KEYS[1])
if (current == false and ARGV[1] == '') or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return ARGV[2]
end
return current
`;

/**
 * Where calls and their participants go. A call keeps its first node (its home) while that node
 * fits; participants who don't fit spill to another node already in the call, then to a new one;
 * when no node has room the join is refused with CAPACITY_EXCEEDED rather than overloading one.
 */
export class RoomPlacement {
  readonly #o: RoomPlacementOptions;

  constructor(options: RoomPlacementOptions) {
    this.#o = options;
    options.redis.defineCommand('trellisSetHome', { numberOfKeys: 2, lua: SET_HOME });
  }

  /** The call's home node, chosen and recorded atomically if it has none or its home is gone. */
  async home(roomId: string, request: SelectionRequest = {}): Promise<{ nodeId: string; placed: boolean }> {
    const { redis, keys } = this.#o;
    const [current, nodes] = await Promise.all([redis.get(keys.roomHome(roomId)), this.#o.registry.list()]);
    if (current !== null && isAlive(nodes.find((n) => n.nodeId === current)))
      return { nodeId: current, placed: false };
    const chosen = this.#choose(nodes, request, roomId);
    const winner = await this.#setHome(roomId, current ?? '', chosen.nodeId);
    return { nodeId: winner, placed: winner === chosen.nodeId };
  }

  /** The node a new participant joins, recorded as one of the call's nodes. */
  async nodeForParticipant(roomId: string, request: SelectionRequest = {}): Promise<string> {
    const { redis, keys } = this.#o;
    const { nodeId: home } = await this.home(roomId, request);
    const [nodes, callNodeIds] = await Promise.all([
      this.#o.registry.list(),
      redis.smembers(keys.roomNodes(roomId)),
    ]);
    const fits = availableNodes(nodes, { maxAgeMs: this.#o.maxAgeMs, consumers: request.consumers ?? 0 });
    const homeNode = fits.find((n) => n.nodeId === home);
    // Home first, then the call's other nodes (fewer pipes), then any node with room.
    const inCall = fits
      .filter((n) => callNodeIds.includes(n.nodeId))
      .sort((a, b) => loadScore(a) - loadScore(b));
    const chosen = homeNode ?? inCall[0] ?? this.#choose(nodes, request, roomId);
    if (chosen.nodeId !== home) {
      await redis.sadd(keys.roomNodes(roomId), chosen.nodeId);
    }
    return chosen.nodeId;
  }

  /** The nodes a call spans, its home first. */
  async nodesOf(roomId: string): Promise<string[]> {
    const { redis, keys } = this.#o;
    const [home, nodes] = await Promise.all([
      redis.get(keys.roomHome(roomId)),
      redis.smembers(keys.roomNodes(roomId)),
    ]);
    return home === null ? nodes.sort() : [home, ...nodes.filter((n) => n !== home).sort()];
  }

  /** Forgets a finished call's placement. */
  async release(roomId: string): Promise<void> {
    const { redis, keys } = this.#o;
    await Promise.all([redis.del(keys.roomHome(roomId)), redis.del(keys.roomNodes(roomId))]);
  }

  #choose(nodes: readonly NodeInfo[], request: SelectionRequest, roomId: string): NodeInfo {
    const candidates = availableNodes(nodes, {
      maxAgeMs: this.#o.maxAgeMs,
      consumers: request.consumers ?? 0,
    });
    const chosen = this.#o.selector.select(candidates, request);
    if (!chosen || !hasRoomFor(chosen, request.consumers ?? 0)) {
      throw new TrellisError('CAPACITY_EXCEEDED', 'no media node has room for this participant', {
        roomId,
        nodes: nodes.length,
        available: candidates.length,
      });
    }
    return chosen;
  }

  async #setHome(roomId: string, expected: string, nodeId: string): Promise<string> {
    const { redis, keys, recordTtlMs = 24 * 3600_000 } = this.#o;
    const setHome = (redis as unknown as Record<string, (...args: unknown[]) => Promise<string>>)
      .trellisSetHome!;
    return setHome.call(redis, keys.roomHome(roomId), keys.roomNodes(roomId), expected, nodeId, recordTtlMs);
  }
}

/** A home still counts while its node is registered and not stopped (draining calls stay put). */
function isAlive(node: NodeInfo | undefined): boolean {
  return node !== undefined && node.state !== 'stopped';
}
