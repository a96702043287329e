import type { RedisConnectionConfig } from '@trellis/config';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

/**
 * BullMQ's connection: commands wait through a Redis restart (maxRetriesPerRequest: null, which
 * BullMQ workers require) instead of failing the jobs in flight.
 */
export function redisConnection(config: RedisConnectionConfig, name: string): Redis | Cluster {
  const common: RedisOptions = {
    connectionName: name,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
  };
  switch (config.mode) {
    case 'single':
      return new Redis(config.url, common);
    case 'sentinel':
      return new Redis({
        ...common,
        sentinels: config.sentinels,
        name: config.name,
        ...(config.password === undefined
          ? {}
          : { password: config.password, sentinelPassword: config.password }),
      });
    case 'cluster':
      return new Cluster(config.nodes, {
        redisOptions: { ...common, ...(config.password === undefined ? {} : { password: config.password }) },
      });
  }
}
