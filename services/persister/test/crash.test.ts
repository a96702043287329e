import { QueueName } from '@trellis/jobs';
import {
  type ManagedProcess,
  type PostgresServer,
  queryPostgres,
  type RedisServer,
  startPostgres,
  startRedis,
  waitFor,
} from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callCounts,
  connect,
  drained,
  failedJobs,
  migratedDatabase,
  publisherFor,
  spawnPersister,
  syntheticCall,
} from './support';

const CALLS = 12;
const PREFIX = 'crash:';

describe('a persister killed mid-stream and restarted', () => {
  let redis: RedisServer;
  let pg: PostgresServer;
  let url: string;
  const procs: ManagedProcess[] = [];

  const spawn = async (n: number) => {
    const proc = await spawnPersister({
      name: `persister-${n}`,
      redisUrl: redis.url,
      databaseUrl: url,
      keyPrefix: PREFIX,
      env: {
        PERSISTER_CONCURRENCY: '4',
        PERSISTER_METRICS_CONCURRENCY: '2',
        // The killed process's jobs are taken back this long after it died.
        PERSISTER_JOB_LOCK_MS: '2000',
      },
    });
    procs.push(proc);
    return proc;
  };

  beforeAll(async () => {
    [redis, pg] = await Promise.all([startRedis({ dedicated: true }), startPostgres()]);
    url = await migratedDatabase(pg.createDatabase, 'persister_crash');
  });
  afterAll(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await Promise.all([redis?.stop(), pg?.stop()]);
  });

  it('persists every event exactly once', async () => {
    const calls = Array.from({ length: CALLS }, (_, i) => syntheticCall(`room-crash-${i}`, 6, 6));
    const total = calls.reduce((n, c) => n + c.jobs.length, 0);
    const connection = connect(redis.url);
    const publisher = publisherFor(connection, PREFIX);
    const first = await spawn(1);
    // Events flow in over ~2 s; the persister is killed (SIGKILL, no clean-up) halfway through.
    let published = 0;
    for (const [i, call] of calls.entries()) {
      for (const j of call.jobs) publisher.publish(j.name, j.data as never);
      published += call.jobs.length;
      await publisher.flush();
      if (i === CALLS / 2) {
        const rows = await queryPostgres<{ n: number }>(url, 'SELECT count(*)::int AS n FROM call_metrics');
        expect(rows[0]?.n, 'the first persister was working when it was killed').toBeGreaterThan(0);
        await first.kill();
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(published).toBe(total);
    expect(first.running).toBe(false);
    const [left] = await queryPostgres<{ n: number }>(url, 'SELECT count(*)::int AS n FROM call_metrics');
    expect(left?.n, 'work was left for the restarted persister').toBeLessThan(
      calls.reduce((n, c) => n + c.expected.metrics, 0),
    );
    await spawn(2);
    await drained(redis.url, PREFIX, 90_000);

    for (const call of calls) {
      expect(await callCounts(url, call.callId), call.callId).toEqual({
        participants: call.expected.participants,
        left: call.expected.participants,
        transitions: 2,
        completed: 2,
        metrics: call.expected.metrics,
        ended: true,
        transition_count: 2,
      });
    }
    // Nothing beyond the calls' own rows: no duplicate under another id.
    const [all] = await queryPostgres<{ sessions: number; participants: number; metrics: number }>(
      url,
      `SELECT (SELECT count(*)::int FROM call_session) AS sessions,
              (SELECT count(*)::int FROM call_participant) AS participants,
              (SELECT count(*)::int FROM call_metrics) AS metrics`,
    );
    expect(all).toEqual({
      sessions: CALLS,
      participants: calls.reduce((n, c) => n + c.expected.participants, 0),
      metrics: calls.reduce((n, c) => n + c.expected.metrics, 0),
    });
    expect(await failedJobs(redis.url, PREFIX, QueueName.calls)).toBe(0);
    expect(await failedJobs(redis.url, PREFIX, QueueName.metrics)).toBe(0);
    await publisher.close();
    connection.disconnect();
    // A graceful stop (SIGTERM) lets the jobs in flight finish and exits 0.
    const second = procs[1] as ManagedProcess;
    await second.stop('SIGTERM');
    expect((await second.exited).code).toBe(0);
    await waitFor(() => /"msg":"persister stopped"/.test(second.output), { timeoutMs: 1000 });
  }, 150_000);
});
