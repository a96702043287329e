import { type RedisServer, startRedis, waitFor } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEffectOnce } from './fixtures/effect';
import { connectBus, Echo, Work } from './helpers';

const TOTAL = 1000;

describe('a Redis restart in the middle of traffic', () => {
  let redis: RedisServer;
  let caller: Awaited<ReturnType<typeof connectBus>>;
  let served: Awaited<ReturnType<typeof connectBus>>;

  beforeAll(async () => {
    // Append-only on: what Redis acknowledged is on disk when the process is killed.
    redis = await startRedis({ dedicated: true, appendOnly: true });
    caller = await connectBus(redis.url, 'caller', { requestTimeoutMs: 30_000 });
    served = await connectBus(redis.url, 'server', { claimIdleMs: 2000, claimIntervalMs: 500 });
    const server = served.bus.serveCommands('restart-target');
    server.handle(Echo, ({ text, n }) => ({ text, n, by: 'server' }));
    server.handle(Work, async ({ job }, ctx) => {
      await applyEffectOnce(served.bus.redis, ctx.id, job);
      return { job, doneBy: 'server', redelivered: ctx.redelivered };
    });
    await server.start();
  });

  afterAll(async () => {
    await caller?.bus.close();
    await served?.bus.close();
    await redis?.stop();
  });

  it('completes every one of 1,000 requests across kill -9 and restart on the same port', async () => {
    let completed = 0;
    let killedAt = -1;
    const results: Array<Promise<unknown>> = [];
    // 50 requests in flight at a time, a bounded loop; the kill happens a third of the way in.
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < TOTAL; i++) {
      const request = (
        i % 2 === 0
          ? caller.bus.commands.request('restart-target', Echo, { text: `r${i}`, n: i })
          : caller.bus.commands.request('restart-target', Work, { job: `w${i}` })
      ).then((reply) => {
        completed++;
        return reply;
      });
      results.push(request);
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request)).catch(() => {});
      if (inFlight.size >= 50) await Promise.race(inFlight);
      if (i === 333) {
        killedAt = completed;
        await redis.kill();
        await new Promise((resolve) => setTimeout(resolve, 300));
        await redis.start();
      }
    }
    const settled = await Promise.allSettled(results);
    const failures = settled.filter((s) => s.status === 'rejected');
    expect(failures.map((f) => String((f as PromiseRejectedResult).reason)).slice(0, 3)).toEqual([]);
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(TOTAL);
    settled.forEach((s, i) => {
      const value = (s as PromiseFulfilledResult<{ n?: number; job?: string }>).value;
      if (i % 2 === 0) expect(value.n).toBe(i);
      else expect(value.job).toBe(`w${i}`);
    });
    // Each effect applied exactly once, even for commands re-sent or redelivered around the restart.
    const counts = await waitFor(
      async () => {
        const keys = await served.bus.redis.keys('test:effect-count:w*');
        return keys.length === TOTAL / 2 ? keys : undefined;
      },
      { what: 'one effect counter per Work command' },
    );
    const values = await served.bus.redis.mget(...counts);
    expect(new Set(values)).toEqual(new Set(['1']));
  }, 60_000);
});
