import { type RedisServer, startRedis, whileRedisDown } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSfu } from '../support/spawnSfu';

const DEADLINE_MS = 2_000;
const DRAIN_MS = 500;

describe('an sfu process on SIGTERM/SIGINT', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ dedicated: true });
  });
  afterAll(() => redis?.stop());

  const env = { SHUTDOWN_TIMEOUT_MS: String(DEADLINE_MS), SFU_DRAIN_TIMEOUT_MS: String(DRAIN_MS) };

  it('SIGTERM drains, stops and exits 0 while Redis answers', async () => {
    const sfu = await spawnSfu({ redisUrl: redis.url, nodeId: 'shutdown-ok', env });
    const end = await sfu.process.signalAndTime('SIGTERM');
    expect(end, sfu.process.output.slice(-2000)).toMatchObject({ code: 0, killed: false });
    expect(sfu.process.output).toMatch(/"msg":"stopped"/);
  });

  it('exits by the drain time plus SHUTDOWN_TIMEOUT_MS when its Redis is gone', async () => {
    const sfu = await spawnSfu({ redisUrl: redis.url, nodeId: 'shutdown-no-redis', env });
    try {
      const end = await whileRedisDown(redis, async () => {
        await new Promise((r) => setTimeout(r, 500));
        return sfu.process.signalAndTime('SIGTERM');
      });
      expect(end.killed, sfu.process.output.slice(-2000)).toBe(false);
      expect(end.code).not.toBeNull();
      expect(end.ms).toBeLessThan(DRAIN_MS + DEADLINE_MS + 3_000);
    } finally {
      await sfu.process.kill();
    }
  });
});
