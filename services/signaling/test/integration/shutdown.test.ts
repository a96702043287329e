import { type RedisServer, startRedis, whileRedisDown } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSignaling } from '../support/stack';

const DEADLINE_MS = 2_000;

describe('a signaling process on SIGTERM/SIGINT', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ dedicated: true });
  });
  afterAll(() => redis?.stop());

  it('stops cleanly and exits 0 while Redis answers', async () => {
    const sig = await spawnSignaling(redis.url, { SHUTDOWN_TIMEOUT_MS: String(DEADLINE_MS) });
    const end = await sig.process.signalAndTime('SIGTERM');
    expect(end, sig.process.output.slice(-2000)).toMatchObject({ code: 0, killed: false });
    expect(sig.process.output).toMatch(/"msg":"stopped"/);
  });

  it('exits by SHUTDOWN_TIMEOUT_MS when its Redis is gone, and a second signal ends it at once', async () => {
    // Seen before the deadline existed: SIGINT and SIGTERM ignored for over 15 s with Redis down.
    const first = await spawnSignaling(redis.url, { SHUTDOWN_TIMEOUT_MS: String(DEADLINE_MS) });
    const second = await spawnSignaling(redis.url, { SHUTDOWN_TIMEOUT_MS: '60000' });
    try {
      await whileRedisDown(redis, async () => {
        // Let both notice: their connections drop and start retrying.
        await new Promise((r) => setTimeout(r, 500));
        const end = await first.process.signalAndTime('SIGTERM');
        expect(end.killed, first.process.output.slice(-2000)).toBe(false);
        expect(end.code).not.toBeNull();
        // The deadline, plus the time a loaded machine takes to run the timer and exit.
        expect(end.ms).toBeLessThan(DEADLINE_MS + 3_000);

        second.process.child.kill('SIGINT');
        await second.process.waitForOutput(/"msg":"shutting down"/);
        const again = await second.process.signalAndTime('SIGINT');
        expect(again).toMatchObject({ code: 1, killed: false });
        expect(again.ms).toBeLessThan(3_000);
        expect(second.process.output).toMatch(/second signal during shutdown/);
      });
    } finally {
      await Promise.all([first.process.kill(), second.process.kill()]);
    }
    // Two processes to start on a loaded machine, then a deadline to wait out.
  }, 30_000);
});
