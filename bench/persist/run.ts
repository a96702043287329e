// bench/persist: metric samples persisted per second under the sampling load of a 50-participant
// call (SFU → BullMQ → persister → Prisma → PostgreSQL), the queue lag at the real sampling rate,
// and a baseline of raw multi-row INSERTs via pg into the same table, same run. JSON on stdout.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createDb, Migrator } from '@trellis/db';
import { JobPublisher, QueueName, queuePrefix } from '@trellis/jobs';
import { PersisterNode } from '@trellis/persister';
import { createLogger, createMetricsRegistry } from '@trellis/telemetry';
import { queryPostgres, startPostgres, startRedis } from '@trellis/testkit';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { round } from '../sfu-forwarding/util';
import { rawInsert } from './baseline';
import { callTicks, PARTICIPANTS } from './load';

const { values } = parseArgs({
  options: {
    /** Sampling ticks enqueued at once for the throughput phase. */
    ticks: { type: 'string', default: '40' },
    /** Paced phase: this many ticks, one every `interval-ms` (the SFU's SFU_STATS_INTERVAL_MS). */
    'paced-ticks': { type: 'string', default: '12' },
    'interval-ms': { type: 'string', default: '1000' },
    'metrics-concurrency': { type: 'string', default: '4' },
    'max-seconds': { type: 'string', default: '120' },
  },
});
const TICKS = Number(values.ticks);
const PACED = Number(values['paced-ticks']);
const INTERVAL_MS = Number(values['interval-ms']);
const CONCURRENCY = Number(values['metrics-concurrency']);
const MAX_MS = Number(values['max-seconds']) * 1000;
const PREFIX = 'bench:';
const progress = (message: string) => process.stderr.write(`==> ${message}\n`);
const logger = createLogger({ service: 'bench', nodeId: 'bench', level: 'warn' });

progress('starting a dedicated PostgreSQL and redis-server');
const [pgServer, redis] = await Promise.all([
  startPostgres({ dedicated: true }),
  startRedis({ dedicated: true }),
]);
const url = await pgServer.createDatabase('bench_persist');
await new Migrator({ databaseUrl: url }).deploy();
const startedAt = Date.now() - 3_600_000;
// Metric rows hang off a call session: one per scenario, as the call's events would have made it.
const session = async (roomId: string, callId: string) =>
  queryPostgres(url, 'INSERT INTO call_session (id, room_id, started_at) VALUES ($1, $2, $3)', [
    callId,
    roomId,
    new Date(startedAt),
  ]);
const rowsIn = async (callId: string) =>
  (
    await queryPostgres<{ n: number }>(
      url,
      'SELECT count(*)::int AS n FROM call_metrics WHERE call_id = $1',
      [callId],
    )
  )[0]?.n ?? 0;

// Baseline: raw multi-row INSERTs of the same rows.
const base = callTicks('room-baseline', startedAt, TICKS, 5000);
await session('room-baseline', base.callId);
const rowsTotal = base.jobs.reduce((n, j) => n + j.rows.length, 0);
progress(
  `baseline: ${rowsTotal} rows (${TICKS} ticks of a ${PARTICIPANTS}-participant call) by raw pg INSERT`,
);
let t0 = performance.now();
const baseInserted = await rawInsert(url, base.callId, base.jobs, CONCURRENCY);
const baseSeconds = (performance.now() - t0) / 1000;

// Trellis: the same load through the publisher, BullMQ and the persister.
const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
const db = createDb({ databaseUrl: url, poolSize: CONCURRENCY + 2 });
const persister = new PersisterNode({
  db,
  connection,
  keyPrefix: PREFIX,
  logger,
  metrics: createMetricsRegistry({ service: 'bench', nodeId: 'bench' }),
  concurrency: 2,
  metricsConcurrency: CONCURRENCY,
  webhooks: { urls: [], timeoutMs: 1000, concurrency: 1 },
});
persister.start();
await persister.ready();
const publisherConnection = new Redis(redis.url, { maxRetriesPerRequest: null });
const publisher = new JobPublisher({
  connection: publisherConnection,
  keyPrefix: PREFIX,
  logger,
  maxBacklog: 100_000,
});
const queue = new Queue(QueueName.metrics, { connection: publisherConnection, prefix: queuePrefix(PREFIX) });

const waitRows = async (callId: string, n: number, deadline: number) => {
  while ((await rowsIn(callId)) < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} rows`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

progress(`trellis: the same ${rowsTotal} rows as ${TICKS} metrics.sample jobs, enqueued at once`);
const burst = callTicks('room-burst', startedAt, TICKS, 5000);
await session('room-burst', burst.callId);
t0 = performance.now();
for (const job of burst.jobs) publisher.publish('metrics.sample', job);
await publisher.flush(MAX_MS);
const enqueueSeconds = (performance.now() - t0) / 1000;
await waitRows(burst.callId, rowsTotal, Date.now() + MAX_MS);
const burstSeconds = (performance.now() - t0) / 1000;

progress(
  `trellis, paced: ${PACED} ticks one every ${INTERVAL_MS} ms (the SFU's sampling), queue lag per job`,
);
const paced = callTicks('room-paced', startedAt, PACED, INTERVAL_MS);
await session('room-paced', paced.callId);
for (const job of paced.jobs) {
  publisher.publish('metrics.sample', job);
  await new Promise((r) => setTimeout(r, INTERVAL_MS));
}
await waitRows(paced.callId, paced.jobs.length * (paced.jobs[0]?.rows.length ?? 0), Date.now() + MAX_MS);
const pacedIds = new Set(paced.jobs.map((j) => j.eventId));
const lags = (await queue.getCompleted(0, 1000))
  .filter((j) => pacedIds.has((j.data as { eventId: string }).eventId))
  .map((j) => (j.finishedOn ?? 0) - j.timestamp)
  .sort((a, b) => a - b);
const pct = (q: number) => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] ?? Number.NaN;

await queue.close();
await publisher.close();
await persister.close();
await db.$disconnect();
connection.disconnect();
publisherConnection.disconnect();
await Promise.all([pgServer.stop(), redis.stop()]);

const rowsPerTick = base.jobs[0]?.rows.length ?? 0;
process.stdout.write(
  `${JSON.stringify(
    {
      bench: 'persist',
      machine: { cpus: os.cpus().length, node: process.version },
      load: {
        participants: PARTICIPANTS,
        rows_per_tick: rowsPerTick,
        rows_per_second_at_5s_sampling: round(rowsPerTick / 5),
        ticks: TICKS,
        rows: rowsTotal,
        metrics_concurrency: CONCURRENCY,
      },
      baseline_raw_pg_insert: {
        connections: CONCURRENCY,
        rows: baseInserted,
        seconds: round(baseSeconds),
        rows_per_second: round(rowsTotal / baseSeconds),
      },
      trellis_burst: {
        rows: rowsTotal,
        enqueue_seconds: round(enqueueSeconds),
        seconds: round(burstSeconds),
        rows_per_second: round(rowsTotal / burstSeconds),
        vs_baseline: round(baseSeconds / burstSeconds),
        /** How many 50-participant calls sampled every 5 s this throughput keeps up with. */
        calls_at_5s_sampling: round(rowsTotal / burstSeconds / (rowsPerTick / 5)),
      },
      trellis_paced: {
        ticks: PACED,
        interval_ms: INTERVAL_MS,
        rows_per_second_offered: round((rowsPerTick * 1000) / INTERVAL_MS),
        queue_lag_ms: { n: lags.length, p50: pct(0.5), p95: pct(0.95), max: lags.at(-1) ?? Number.NaN },
      },
    },
    null,
    2,
  )}\n`,
);
process.exit(0);
