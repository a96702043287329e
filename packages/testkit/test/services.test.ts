import { afterAll, describe, expect, it } from 'vitest';
import { queryPostgres, startPostgres } from '../src/services/postgres';
import { startRedis } from '../src/services/redis';
import { tcpRequest } from '../src/services/tcp';

describe('real servers for tests', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('starts a dedicated redis-server that keeps append-only data across kill -9', async () => {
    const redis = await startRedis({ dedicated: true, appendOnly: true });
    cleanups.push(() => redis.stop());
    expect(redis.origin).toBe('local');
    expect(await tcpRequest(redis.host, redis.port, 'SET k survived')).toContain('+OK');
    await redis.kill();
    await expect(tcpRequest(redis.host, redis.port, 'PING', 300)).rejects.toThrow();
    await redis.start();
    expect(await tcpRequest(redis.host, redis.port, 'GET k')).toContain('survived');
  });

  it('starts PostgreSQL, creates a database, and brings it back after a pause', async () => {
    const server = await startPostgres({ dedicated: true });
    cleanups.push(() => server.stop());
    const url = await server.createDatabase('testkit_check');
    const query = (sql: string) => queryPostgres(url, sql);
    await query('CREATE TABLE t (v int); INSERT INTO t VALUES (42)');
    await server.pause();
    await expect(query('SELECT 1')).rejects.toThrow();
    await server.start();
    expect(await query('SELECT v FROM t')).toEqual([{ v: 42 }]);
  });
});
