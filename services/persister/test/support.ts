import { fileURLToPath } from 'node:url';
import { createDb, type Db, Migrator } from '@trellis/db';
import { callIdOf, JobPublisher, QueueName, queuePrefix } from '@trellis/jobs';
import type { Jobs } from '@trellis/protocol';
import { createLogger, createMetricsRegistry, type MetricsRegistry } from '@trellis/telemetry';
import { type ManagedProcess, queryPostgres, spawnProcess, waitFor } from '@trellis/testkit';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { PersisterNode } from '../src/PersisterNode';
import type { PersisterNodeOptions } from '../src/PersisterNodeTypes';

export const logger = createLogger({
  service: 'persister-test',
  nodeId: 'test',
  level: (process.env.PERSISTER_TEST_LOG_LEVEL ?? 'error') as 'error',
});

export async function migratedDatabase(createDatabase: (name: string) => Promise<string>, name: string) {
  const url = await createDatabase(name);
  await new Migrator({ databaseUrl: url }).deploy();
  return url;
}

export function connect(redisUrl: string): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: null });
}

export function publisherFor(connection: Redis, keyPrefix: string, maxBacklog?: number): JobPublisher {
  return new JobPublisher({ connection, keyPrefix, logger, ...(maxBacklog ? { maxBacklog } : {}) });
}

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** A real persister process (`src/main.ts` under tsx), ready once it logs that it is serving. */
export async function spawnPersister(opts: {
  name: string;
  redisUrl: string;
  databaseUrl: string;
  keyPrefix: string;
  env?: Record<string, string>;
}): Promise<ManagedProcess> {
  const proc = spawnProcess(process.execPath, ['--import', 'tsx', main], {
    name: opts.name,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      NODE_ID: opts.name,
      LOG_LEVEL: 'info',
      REDIS_URL: opts.redisUrl,
      REDIS_KEY_PREFIX: opts.keyPrefix,
      DATABASE_URL: opts.databaseUrl,
      METRICS_PORT: '0',
      ...opts.env,
    },
  });
  await proc.waitForOutput(/"msg":"persister serving"/, 30_000);
  return proc;
}

export interface InProcessPersister {
  node: PersisterNode;
  metrics: MetricsRegistry;
  db: Db;
  connection: Redis;
  close(): Promise<void>;
}

export async function startPersister(
  redisUrl: string,
  databaseUrl: string,
  keyPrefix: string,
  extra: Partial<PersisterNodeOptions> = {},
): Promise<InProcessPersister> {
  const db = createDb({ databaseUrl, poolSize: 8, connectTimeoutMs: 2000 });
  const connection = connect(redisUrl);
  const metrics = createMetricsRegistry({ service: 'persister', nodeId: `p-${Math.random()}` });
  const node = new PersisterNode({
    db,
    connection,
    keyPrefix,
    logger,
    metrics,
    concurrency: 8,
    metricsConcurrency: 4,
    webhooks: { urls: [], timeoutMs: 2000, concurrency: 4 },
    ...extra,
  });
  node.start();
  await node.ready();
  return {
    node,
    metrics,
    db,
    connection,
    async close() {
      await node.close();
      await db.$disconnect();
      connection.disconnect();
    },
  };
}

/**
 * A synthetic call's event stream as signaling and the SFU would queue it: a call with
 * `participants` who join, publish, are sampled `ticks` times, and leave, with a P2P→SFU→P2P cycle.
 */
export function syntheticCall(roomId: string, participants: number, ticks: number, t0 = Date.now() - 60_000) {
  const callId = callIdOf(roomId, t0);
  const ref = (at: number) => ({ callId, roomId, callStartedAt: t0, at });
  const id = (...p: (string | number)[]) => [callId, ...p].join('/');
  const jobs: { name: Jobs.PersistJobName; data: Jobs.PersistJobData<Jobs.PersistJobName> }[] = [];
  const push = <N extends Jobs.PersistJobName>(name: N, data: Jobs.PersistJobData<N>) =>
    jobs.push({ name, data });
  push('call.started', { ...ref(t0), eventId: id('started'), maxParticipants: 50 });
  const people = Array.from({ length: participants }, (_, i) => ({ id: `p${i}`, joinedAt: t0 + i * 10 }));
  for (const p of people) {
    push('participant.joined', {
      ...ref(p.joinedAt),
      eventId: id('joined', p.id, p.joinedAt),
      participantId: p.id,
      displayName: `Person ${p.id}`,
      joinedAt: p.joinedAt,
      modeAtJoin: 'p2p',
    });
    push('track.published', {
      ...ref(p.joinedAt + 5),
      eventId: id('track', `prod-${p.id}`, 'published'),
      participantId: p.id,
      participantJoinedAt: p.joinedAt,
      producerId: `prod-${p.id}`,
      kind: 'video',
      nodeId: 'sfu-a',
    });
  }
  const transition = (n: number, from: 'p2p' | 'sfu', to: 'p2p' | 'sfu', startedAt: number) => {
    const migrating = to === 'sfu' ? 'migrating_to_sfu' : 'migrating_to_p2p';
    const tid = `t-${roomId}-${n}`;
    const base = { id: tid, from, to, attempt: 1, startedAt } as const;
    push('mode.changed', {
      ...ref(startedAt),
      eventId: id('mode', n * 16),
      version: n * 16,
      mode: migrating,
      previous: from,
      reason: 'joined',
      transition: base,
    });
    push('mode.changed', {
      ...ref(startedAt + 400),
      eventId: id('mode', n * 16 + 8),
      version: n * 16 + 8,
      mode: to,
      previous: migrating,
      reason: 'completed',
      transition: { ...base, endedAt: startedAt + 400, result: 'completed', gaps: { p0: 80, p1: 120 } },
    });
  };
  transition(1, 'p2p', 'sfu', t0 + 1000);
  for (let tick = 0; tick < ticks; tick++) {
    const sampledAt = t0 + 2000 + tick * 5000;
    push('metrics.sample', {
      eventId: `sfu-a/router-${roomId}/${sampledAt}`,
      roomId,
      nodeId: 'sfu-a',
      routerId: `router-${roomId}`,
      sampledAt,
      intervalMs: 5000,
      rows: people.flatMap((p) => [
        {
          participantId: p.id,
          source: 'transport' as const,
          sourceId: `tr-${p.id}`,
          bitrateIn: 1e6,
          bitrateOut: 2e6,
          packetLoss: 0,
        },
        {
          participantId: p.id,
          source: 'producer' as const,
          sourceId: `prod-${p.id}`,
          kind: 'video' as const,
          bitrateIn: 9e5,
          bitrateOut: 0,
          packetLoss: 0.01,
          jitterMs: 3,
        },
        {
          participantId: p.id,
          source: 'consumer' as const,
          sourceId: `cons-${p.id}`,
          kind: 'video' as const,
          bitrateIn: 0,
          bitrateOut: 8e5,
          packetLoss: 0,
          rttMs: 2,
          spatialLayer: 2,
          temporalLayer: 1,
        },
      ]),
    });
  }
  transition(2, 'sfu', 'p2p', t0 + 3000 + ticks * 5000);
  const endAt = t0 + 4000 + ticks * 5000;
  for (const p of people) {
    push('participant.left', {
      ...ref(endAt),
      eventId: id('left', p.id, p.joinedAt),
      participantId: p.id,
      displayName: `Person ${p.id}`,
      joinedAt: p.joinedAt,
      leftAt: endAt,
      reason: 'left',
    });
  }
  push('call.ended', { ...ref(endAt + 1), eventId: id('ended'), endedAt: endAt + 1 });
  return { callId, jobs, expected: { participants, transitions: 2, metrics: ticks * participants * 3 } };
}

/** Rows of a call in each table, and whether the call's derived fields are complete. */
export async function callCounts(url: string, callId: string) {
  const [row] = await queryPostgres<{
    participants: number;
    left: number;
    transitions: number;
    completed: number;
    metrics: number;
    ended: boolean;
    transition_count: number;
  }>(
    url,
    `SELECT
       (SELECT count(*)::int FROM call_participant WHERE call_id = $1) AS participants,
       (SELECT count(*)::int FROM call_participant WHERE call_id = $1 AND left_at IS NOT NULL) AS left,
       (SELECT count(*)::int FROM mode_transition WHERE call_id = $1) AS transitions,
       (SELECT count(*)::int FROM mode_transition WHERE call_id = $1 AND result = 'completed') AS completed,
       (SELECT count(*)::int FROM call_metrics WHERE call_id = $1) AS metrics,
       (SELECT ended_at IS NOT NULL FROM call_session WHERE id = $1) AS ended,
       (SELECT transition_count FROM call_session WHERE id = $1) AS transition_count`,
    [callId],
  );
  return row;
}

/** Waits until the persister has worked through both queues (nothing waiting, active or delayed). */
export async function drained(redisUrl: string, keyPrefix: string, timeoutMs = 30_000): Promise<void> {
  const connection = connect(redisUrl);
  const queues = [QueueName.calls, QueueName.metrics].map(
    (name) => new Queue(name, { connection, prefix: queuePrefix(keyPrefix) }),
  );
  try {
    await waitFor(
      async () => {
        for (const q of queues) {
          const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
          if (Object.values(c).some((n) => n > 0)) return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 200, what: 'queues drained' },
    );
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    connection.disconnect();
  }
}

export async function failedJobs(redisUrl: string, keyPrefix: string, queue: QueueName): Promise<number> {
  const connection = connect(redisUrl);
  const q = new Queue(queue, { connection, prefix: queuePrefix(keyPrefix) });
  try {
    return (await q.getJobCounts('failed')).failed ?? 0;
  } finally {
    await q.close();
    connection.disconnect();
  }
}
