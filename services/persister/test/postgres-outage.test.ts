import { QueueName } from '@trellis/jobs';
import {
  type PostgresServer,
  queryPostgres,
  type RedisServer,
  startPostgres,
  startRedis,
} from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callCounts,
  connect,
  drained,
  failedJobs,
  type InProcessPersister,
  migratedDatabase,
  publisherFor,
  startPersister,
  syntheticCall,
} from './support';

const OUTAGE_MS = 60_000;
const PREFIX = 'outage:';

/** The suite's one long test: PostgreSQL is down for a full minute while events keep coming. */
describe('PostgreSQL stopped for 60 s while events flow', () => {
  let redis: RedisServer;
  let pg: PostgresServer;
  let url: string;
  let persister: InProcessPersister | undefined;

  beforeAll(async () => {
    // A server of its own: this test stops it.
    [redis, pg] = await Promise.all([startRedis(), startPostgres({ dedicated: true })]);
    url = await migratedDatabase(pg.createDatabase, 'persister_outage');
  });
  afterAll(async () => {
    await persister?.close();
    await Promise.all([redis?.stop(), pg?.stop()]);
  });

  it('retries every job until the database is back: none lost, none duplicated', async () => {
    persister = await startPersister(redis.url, url, PREFIX);
    const connection = connect(redis.url);
    const publisher = publisherFor(connection, PREFIX);
    const calls = Array.from({ length: 14 }, (_, i) => syntheticCall(`room-outage-${i}`, 4, 3));
    const publish = async (i: number) => {
      for (const j of (calls[i] as (typeof calls)[number]).jobs) publisher.publish(j.name, j.data as never);
      await publisher.flush();
    };
    // Two calls before the outage, ten during it (one every 5 s), two after.
    await publish(0);
    await publish(1);
    await drained(redis.url, PREFIX);
    const before = await callCounts(url, calls[0]?.callId as string);
    expect(before?.ended).toBe(true);

    await pg.pause();
    const downAt = Date.now();
    for (let i = 2; i < 12; i++) {
      await publish(i);
      await new Promise((r) => setTimeout(r, OUTAGE_MS / 10));
    }
    const failedDuringOutage = (
      await persister.metrics.registry.getSingleMetric('trellis_persister_jobs_failed_total')?.get()
    )?.values.reduce((n, v) => n + v.value, 0);
    expect(
      failedDuringOutage,
      'jobs failed (and were rescheduled) while PostgreSQL was down',
    ).toBeGreaterThan(0);
    await pg.start();
    expect(Date.now() - downAt).toBeGreaterThanOrEqual(OUTAGE_MS);
    await publish(12);
    await publish(13);

    // The longest backoff step that can straddle the restart is 32 s (1 s doubling).
    await drained(redis.url, PREFIX, 90_000);
    for (const call of calls) {
      expect(await callCounts(url, call.callId), call.callId).toEqual({
        participants: 4,
        left: 4,
        transitions: 2,
        completed: 2,
        metrics: call.expected.metrics,
        ended: true,
        transition_count: 2,
      });
    }
    const [all] = await queryPostgres<{ sessions: number; metrics: number }>(
      url,
      'SELECT (SELECT count(*)::int FROM call_session) AS sessions, (SELECT count(*)::int FROM call_metrics) AS metrics',
    );
    expect(all).toEqual({
      sessions: calls.length,
      metrics: calls.reduce((n, c) => n + c.expected.metrics, 0),
    });
    expect(await failedJobs(redis.url, PREFIX, QueueName.calls)).toBe(0);
    expect(await failedJobs(redis.url, PREFIX, QueueName.metrics)).toBe(0);
    await publisher.close();
    connection.disconnect();
  }, 240_000);
});
