import { type RedisCluster, type RedisServer, startRedis, startRedisCluster } from '@trellis/testkit';
import { Cluster, Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { CallCensus } from '../../src/call/CallCensus';
import { CallStore } from '../../src/call/CallStore';

const timings = {
  p2pHysteresisMs: 1000,
  migrationTimeoutMs: 1000,
  migrationRetryMs: 1000,
  resumeGraceMs: 1000,
};

/** Calls written the way CallStore keys them: `mode` with `n` participants each. */
async function writeCalls(redis: Redis | Cluster, calls: Array<{ mode: string; participants: number }>) {
  const store = new CallStore({ redis, keyPrefix: 'census:', timings, newId: () => 'x' });
  await Promise.all(
    calls.map((c, i) => {
      const participants = Object.fromEntries(
        Array.from({ length: c.participants }, (_, j) => [`p${j}`, {}]),
      );
      return redis.hset(
        store.key(`room-${i}`),
        'v',
        '1',
        's',
        JSON.stringify({ mode: c.mode, participants }),
      );
    }),
  );
  // A key that looks alike but is no call document: the due index.
  await redis.zadd(store.dueKey, 1, 'room-0');
}

const calls = [
  { mode: 'p2p', participants: 2 },
  { mode: 'p2p', participants: 2 },
  { mode: 'sfu', participants: 5 },
  { mode: 'migrating_to_sfu', participants: 3 },
  { mode: 'idle', participants: 0 },
];

describe('CallCensus', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('counts calls and participants by mode on a single Redis, and stops at maxCalls', async () => {
    const server: RedisServer = await startRedis();
    const redis = new Redis(server.url);
    cleanups.push(async () => {
      redis.disconnect();
      await server.stop();
    });
    await writeCalls(redis, calls);
    const result = await new CallCensus({ redis, keyPrefix: 'census:' }).count();
    expect(Object.fromEntries(result.calls)).toEqual({ p2p: 2, sfu: 1, migrating_to_sfu: 1, idle: 1 });
    expect(Object.fromEntries(result.participants)).toEqual({ p2p: 4, sfu: 5, migrating_to_sfu: 3, idle: 0 });
    expect(result.truncated).toBe(false);
    const capped = await new CallCensus({ redis, keyPrefix: 'census:', maxCalls: 2 }).count();
    expect(capped.truncated).toBe(true);
    expect([...capped.calls.values()].reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('walks every master of a Redis Cluster', async () => {
    const cluster: RedisCluster = await startRedisCluster();
    const redis = new Cluster(cluster.nodes);
    cleanups.push(async () => {
      redis.disconnect();
      await cluster.stop();
    });
    await writeCalls(redis, calls);
    const result = await new CallCensus({ redis, keyPrefix: 'census:' }).count();
    expect(Object.fromEntries(result.calls)).toEqual({ p2p: 2, sfu: 1, migrating_to_sfu: 1, idle: 1 });
    expect(Object.fromEntries(result.participants)).toEqual({ p2p: 4, sfu: 5, migrating_to_sfu: 3, idle: 0 });
  }, 60_000);
});
