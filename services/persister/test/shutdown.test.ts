import {
  type PostgresServer,
  type RedisServer,
  startPostgres,
  startRedis,
  whileRedisDown,
} from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratedDatabase, spawnPersister } from './support';

const DEADLINE_MS = 2_000;

describe('a persister process on SIGTERM', () => {
  let redis: RedisServer;
  let pg: PostgresServer;
  let url: string;
  beforeAll(async () => {
    [redis, pg] = await Promise.all([startRedis({ dedicated: true }), startPostgres()]);
    url = await migratedDatabase(pg.createDatabase, 'persister_shutdown');
  });
  afterAll(async () => {
    await Promise.all([redis?.stop(), pg?.stop()]);
  });

  const spawn = (name: string) =>
    spawnPersister({
      name,
      redisUrl: redis.url,
      databaseUrl: url,
      keyPrefix: 'shutdown:',
      env: { SHUTDOWN_TIMEOUT_MS: String(DEADLINE_MS) },
    });

  it('finishes and exits 0 while its dependencies answer', async () => {
    const proc = await spawn('persister-ok');
    const end = await proc.signalAndTime('SIGTERM');
    expect(end, proc.output.slice(-2000)).toMatchObject({ code: 0, killed: false });
    expect(proc.output).toMatch(/"msg":"stopped"/);
  });

  it('exits by SHUTDOWN_TIMEOUT_MS when its Redis is gone', async () => {
    const proc = await spawn('persister-no-redis');
    try {
      const end = await whileRedisDown(redis, async () => {
        await new Promise((r) => setTimeout(r, 500));
        return proc.signalAndTime('SIGTERM');
      });
      expect(end.killed, proc.output.slice(-2000)).toBe(false);
      expect(end.code).not.toBeNull();
      expect(end.ms).toBeLessThan(DEADLINE_MS + 3_000);
    } finally {
      await proc.kill();
    }
  });
});
