import { fileURLToPath } from 'node:url';
import { type ManagedProcess, type RedisServer, spawnProcess, startRedis, waitFor } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEffectOnce } from './fixtures/effect';
import { connectBus, metricValue, Work } from './helpers';

const fixture = fileURLToPath(new URL('./fixtures/stallingWorker.ts', import.meta.url));

describe('a consumer killed in the middle of a command', () => {
  let redis: RedisServer;
  const open: Array<{ close(): Promise<void> }> = [];
  const children: ManagedProcess[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const child of children) await child.kill();
    for (const item of open.reverse()) await item.close();
    await redis?.stop();
  });

  for (const mode of ['before-effect', 'after-effect'] as const) {
    it(`has its pending command reclaimed and run once by another consumer (killed ${mode})`, async () => {
      const job = `job-${mode}`;
      // The doomed consumer is a real process, killed with SIGKILL: no cleanup, no ack.
      const worker = spawnProcess(process.execPath, ['--import', 'tsx', fixture, redis.url, mode], {
        name: `stalling-worker-${mode}`,
      });
      children.push(worker);
      await worker.waitForOutput(/READY/);

      const caller = await connectBus(redis.url, `caller-${mode}`);
      open.push(caller.bus);
      const reply = caller.bus.commands.request('work', Work, { job }, { timeoutMs: 20_000 });

      await worker.waitForOutput(new RegExp(`STALLED ${job}`));
      await worker.kill();

      // The survivor claims entries idle for 500 ms, checking every 200 ms.
      const survivor = await connectBus(redis.url, `survivor-${mode}`, {
        claimIdleMs: 500,
        claimIntervalMs: 200,
      });
      open.push(survivor.bus);
      const server = survivor.bus.serveCommands('work');
      server.handle(Work, async ({ job: j }, ctx) => {
        await applyEffectOnce(survivor.bus.redis, ctx.id, j);
        return { job: j, doneBy: 'survivor', redelivered: ctx.redelivered };
      });
      await server.start();

      await expect(reply).resolves.toEqual({ job, doneBy: 'survivor', redelivered: true });
      expect(await survivor.bus.redis.get(`test:effect-count:${job}`)).toBe('1');
      expect(
        await metricValue(survivor.metrics, 'trellis_bus_reclaimed_total', { stream_kind: 'command' }),
      ).toBe(1);
      // Nothing is left pending in the group.
      await waitFor(
        async () => {
          const [count] = (await survivor.bus.redis.xpending(
            survivor.bus.keys.commandStream('work'),
            'handlers',
          )) as [number];
          return count === 0;
        },
        { what: 'an empty pending list' },
      );
      await server.close();
    }, 40_000);
  }
});
