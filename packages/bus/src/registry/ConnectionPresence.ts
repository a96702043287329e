import { Cluster } from 'ioredis';
import type { RedisClient } from '../redis/connection';

/** The name a process's shared bus connection carries (RedisBus sets it; presence looks for it). */
export function busConnectionName(nodeId: string): string {
  return `${nodeId}:bus`;
}

/**
 * Which nodes still hold an open connection to Redis. A process that dies — killed, crashed, out of
 * memory — has its sockets closed by the kernel at once, so its bus connection vanishes from CLIENT
 * LIST long before its registry entry's TTL runs out. A host that loses power closes nothing: that
 * case stays with the TTL.
 */
export class ConnectionPresence {
  constructor(private readonly redis: RedisClient) {}

  /** The subset of `nodeIds` whose bus connection is open on any Redis server of the deployment. */
  async present(nodeIds: readonly string[]): Promise<Set<string>> {
    const servers = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    const lists = await Promise.all(
      servers.map((server) => server.call('CLIENT', 'LIST', 'TYPE', 'normal') as Promise<string>),
    );
    const names = new Set<string>();
    for (const list of lists) {
      for (const line of list.split('\n')) {
        const match = / name=(\S*)/.exec(line);
        if (match?.[1]) names.add(match[1]);
      }
    }
    return new Set(nodeIds.filter((id) => names.has(busConnectionName(id))));
  }
}
