import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QueueName, queuePrefix, verifyWebhook, WEBHOOK_SIGNATURE_HEADER } from '@trellis/jobs';
import { Jobs } from '@trellis/protocol';
import {
  type PostgresServer,
  queryPostgres,
  type RedisServer,
  startPostgres,
  startRedis,
  waitFor,
} from '@trellis/testkit';
import { Queue } from 'bullmq';
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

describe('persister', () => {
  let redis: RedisServer;
  let pg: PostgresServer;

  beforeAll(async () => {
    [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  });
  afterAll(async () => {
    await Promise.all([redis?.stop(), pg?.stop()]);
  });

  it('stores a whole call, and a replay of every event changes nothing', async () => {
    const url = await migratedDatabase(pg.createDatabase, 'persister_flow');
    const prefix = 'flow:';
    const persister = await startPersister(redis.url, url, prefix);
    const connection = connect(redis.url);
    const publisher = publisherFor(connection, prefix);
    try {
      const call = syntheticCall('room-flow', 4, 3);
      for (const j of call.jobs) publisher.publish(j.name, j.data as never);
      await publisher.flush();
      await drained(redis.url, prefix);
      const counts = await callCounts(url, call.callId);
      expect(counts).toEqual({
        participants: 4,
        left: 4,
        transitions: 2,
        completed: 2,
        metrics: call.expected.metrics,
        ended: true,
        transition_count: 2,
      });
      const [session] = await queryPostgres<Record<string, unknown>>(
        url,
        'SELECT mode, router_ids, sfu_node_ids, max_participants FROM call_session WHERE id = $1',
        [call.callId],
      );
      expect(session).toEqual({
        mode: 'p2p',
        router_ids: ['router-room-flow'],
        sfu_node_ids: ['sfu-a'],
        max_participants: 50,
      });
      const [p0] = await queryPostgres<Record<string, unknown>>(
        url,
        `SELECT display_name, mode_at_join, producer_ids, transport_ids, node_id, leave_reason
         FROM call_participant WHERE call_id = $1 AND identity = 'p0'`,
        [call.callId],
      );
      expect(p0).toEqual({
        display_name: 'Person p0',
        mode_at_join: 'p2p',
        producer_ids: ['prod-p0'],
        transport_ids: ['tr-p0'],
        node_id: 'sfu-a',
        leave_reason: 'left',
      });
      const [t] = await queryPostgres<Record<string, unknown>>(
        url,
        `SELECT from_mode, to_mode, duration_ms, max_gap_ms, media_gaps FROM mode_transition
         WHERE call_id = $1 ORDER BY started_at LIMIT 1`,
        [call.callId],
      );
      expect(t).toEqual({
        from_mode: 'p2p',
        to_mode: 'sfu',
        duration_ms: 400,
        max_gap_ms: 120,
        media_gaps: { p0: 80, p1: 120 },
      });

      // The same events again, and once more straight into the queue with fresh BullMQ ids (the
      // job ids no longer dedupe them): the rows' own ids must.
      for (const j of call.jobs) publisher.publish(j.name, j.data as never);
      await publisher.flush();
      const raw = [QueueName.calls, QueueName.metrics].map(
        (name) => new Queue(name, { connection, prefix: queuePrefix(prefix) }),
      );
      for (const j of call.jobs)
        await raw[j.name === 'metrics.sample' ? 1 : 0]?.add(j.name, j.data, { removeOnComplete: true });
      await Promise.all(raw.map((q) => q.close()));
      await drained(redis.url, prefix);
      expect(await callCounts(url, call.callId)).toEqual(counts);

      // What Prometheus scrapes: jobs by queue and name, metric rows, the queues' depth.
      const text = await persister.metrics.registry.metrics();
      expect(text).toMatch(
        /trellis_persister_jobs_processed_total\{[^}]*queue="trellis-calls"[^}]*job="participant.joined"[^}]*\} [1-9]/,
      );
      expect(text).toMatch(
        new RegExp(`trellis_persister_metric_rows_total\\{[^}]*\\} ${call.expected.metrics}\\b`),
      );
      expect(text).toMatch(
        /trellis_persister_queue_depth\{[^}]*queue="trellis-metrics"[^}]*state="waiting"[^}]*\} 0/,
      );
      expect(text).toMatch(/trellis_persister_queue_lag_seconds_count\{[^}]*queue="trellis-calls"/);
    } finally {
      await publisher.close();
      connection.disconnect();
      await persister.close();
    }
  });

  it('gives the same rows whatever order the events run in', async () => {
    const url = await migratedDatabase(pg.createDatabase, 'persister_order');
    const prefix = 'order:';
    const connection = connect(redis.url);
    const publisher = publisherFor(connection, prefix);
    const call = syntheticCall('room-order', 3, 2);
    // Reversed: call.ended first, call.started last; the metrics of a call not yet recorded wait.
    for (const j of [...call.jobs].reverse()) publisher.publish(j.name, j.data as never);
    await publisher.flush();
    const persister = await startPersister(redis.url, url, prefix);
    try {
      await drained(redis.url, prefix, 60_000);
      expect(await callCounts(url, call.callId)).toEqual({
        participants: 3,
        left: 3,
        transitions: 2,
        completed: 2,
        metrics: call.expected.metrics,
        ended: true,
        transition_count: 2,
      });
      const [session] = await queryPostgres<{ mode: string }>(
        url,
        'SELECT mode FROM call_session WHERE id = $1',
        [call.callId],
      );
      // The newest mode wins even though it was applied first.
      expect(session?.mode).toBe('p2p');
      // Every stay has its transports, whichever of its row and its samples came first.
      const stays = await queryPostgres<{ identity: string; transport_ids: string[] }>(
        url,
        'SELECT identity, transport_ids FROM call_participant WHERE call_id = $1 ORDER BY identity',
        [call.callId],
      );
      expect(stays).toEqual(['p0', 'p1', 'p2'].map((p) => ({ identity: p, transport_ids: [`tr-${p}`] })));
    } finally {
      await publisher.close();
      connection.disconnect();
      await persister.close();
    }
  });

  it('fails an invalid job at once, keeps it for inspection, and carries on', async () => {
    const url = await migratedDatabase(pg.createDatabase, 'persister_invalid');
    const prefix = 'invalid:';
    const persister = await startPersister(redis.url, url, prefix);
    const connection = connect(redis.url);
    const queue = new Queue(QueueName.calls, { connection, prefix: queuePrefix(prefix) });
    try {
      await queue.add('call.started', { eventId: 'x', callId: 'not-hex' }, { attempts: 5 });
      await queue.add('no.such.job', {}, { attempts: 5 });
      const call = syntheticCall('room-after-invalid', 2, 1);
      const publisher = publisherFor(connection, prefix);
      for (const j of call.jobs) publisher.publish(j.name, j.data as never);
      await publisher.close();
      await drained(redis.url, prefix);
      expect(await failedJobs(redis.url, prefix, QueueName.calls)).toBe(2);
      const failed = await queue.getFailed();
      // Unrecoverable: one attempt, not five.
      expect(failed.map((j) => j.attemptsMade)).toEqual([1, 1]);
      expect((await callCounts(url, call.callId))?.participants).toBe(2);
    } finally {
      await queue.close();
      connection.disconnect();
      await persister.close();
    }
  });

  it('never blocks the publisher: a full backlog drops and counts, an invalid job is refused', async () => {
    // Redis that does not answer: the connection waits in its offline queue forever.
    const connection = connect('redis://127.0.0.1:1');
    const publisher = publisherFor(connection, 'blocked:', 100);
    const call = syntheticCall('room-blocked', 50, 4);
    const started = process.hrtime.bigint();
    for (let i = 0; i < 3; i++) for (const j of call.jobs) publisher.publish(j.name, j.data as never);
    const tookMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(publisher.publish('call.started', { eventId: 'x' } as never)).toBe(false);
    expect(publisher.stats).toMatchObject({
      sent: 0,
      backlog: 100,
      invalid: 1,
      dropped: call.jobs.length * 3 - 100,
    });
    // A few hundred publishes are synchronous and cheap whatever Redis does (no await happened).
    expect(tookMs).toBeLessThan(1000);
    await publisher.close(100);
    connection.disconnect();
  });

  it('finishes the jobs in flight on close before it stops', async () => {
    const url = await migratedDatabase(pg.createDatabase, 'persister_graceful');
    const prefix = 'graceful:';
    // A slow receiver holds a delivery job active while the persister is told to stop.
    let arrived = 0;
    let answered = 0;
    const slow = createServer((req, res) => {
      arrived += 1;
      req.resume();
      setTimeout(() => {
        answered += 1;
        res.writeHead(204).end();
      }, 1500);
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`;
    const persister = await startPersister(redis.url, url, prefix, {
      webhooks: { urls: [hook], secret: 'graceful-secret-123', timeoutMs: 5000, concurrency: 1 },
    });
    const connection = connect(redis.url);
    const publisher = publisherFor(connection, prefix);
    try {
      const call = syntheticCall('room-graceful', 1, 0);
      const started = call.jobs[0] as (typeof call.jobs)[number];
      publisher.publish(started.name, started.data as never);
      await publisher.flush();
      await waitFor(() => arrived === 1, { timeoutMs: 10_000, what: 'a delivery in flight' });
      await persister.close();
      // close() returned only after the receiver answered, and the job completed rather than stalled.
      expect(answered).toBe(1);
      const queue = new Queue(QueueName.webhooks, { connection, prefix: queuePrefix(prefix) });
      expect(await queue.getJobCounts('completed', 'active', 'failed', 'waiting')).toEqual({
        completed: 1,
        active: 0,
        failed: 0,
        waiting: 0,
      });
      await queue.close();
    } finally {
      await publisher.close();
      connection.disconnect();
      await persister.close();
      await new Promise((resolve) => slow.close(resolve));
    }
  });

  describe('webhooks', () => {
    let receiver: Server;
    let receiverUrl: string;
    const secret = 'webhook-secret-for-tests';
    const received: { body: Jobs.WebhookBody; verified: boolean }[] = [];
    let failFirst = 0;

    beforeAll(async () => {
      receiver = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          const header = req.headers[WEBHOOK_SIGNATURE_HEADER] as string | undefined;
          const check = verifyWebhook(secret, raw, header);
          // A failing receiver: the first deliveries get a 503, and must be retried.
          if (failFirst > 0) {
            failFirst -= 1;
            res.writeHead(503).end();
            return;
          }
          received.push({ body: Jobs.WebhookBody.parse(JSON.parse(raw)), verified: check.ok });
          // A tampered copy of the same body must not verify.
          expect(verifyWebhook(secret, raw.replace('room', 'ROOM'), header).ok).toBe(false);
          expect(verifyWebhook('another-secret-entirely', raw, header).ok).toBe(false);
          res.writeHead(check.ok ? 204 : 401).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    });
    afterAll(async () => {
      await new Promise((resolve) => receiver?.close(resolve));
    });

    it('delivers every event once with a verifiable signature, retrying a failing receiver', async () => {
      const url = await migratedDatabase(pg.createDatabase, 'persister_webhooks');
      const prefix = 'hooks:';
      failFirst = 3;
      const persister: InProcessPersister = await startPersister(redis.url, url, prefix, {
        webhooks: { urls: [receiverUrl], secret, timeoutMs: 2000, concurrency: 1 },
      });
      const connection = connect(redis.url);
      const publisher = publisherFor(connection, prefix);
      try {
        const call = syntheticCall('room-hooks', 2, 1);
        for (const j of call.jobs) publisher.publish(j.name, j.data as never);
        // Replayed events queue no second delivery.
        for (const j of call.jobs) publisher.publish(j.name, j.data as never);
        await publisher.flush();
        const expected = call.jobs.filter((j) => j.name !== 'metrics.sample').length;
        await waitFor(() => received.length >= expected, { timeoutMs: 30_000, what: 'webhooks delivered' });
        await new Promise((r) => setTimeout(r, 500));
        expect(received).toHaveLength(expected);
        expect(received.every((r) => r.verified)).toBe(true);
        expect(new Set(received.map((r) => r.body.id)).size).toBe(expected);
        expect(received.map((r) => r.body.event).sort()).toEqual(
          [
            'room_started',
            'room_finished',
            'participant_joined',
            'participant_joined',
            'participant_left',
            'participant_left',
            'track_published',
            'track_published',
            'mode_changed',
            'mode_changed',
            'mode_changed',
            'mode_changed',
          ].sort(),
        );
        expect(failFirst).toBe(0);
        expect(await failedJobs(redis.url, prefix, QueueName.webhooks)).toBe(0);
      } finally {
        await publisher.close();
        connection.disconnect();
        await persister.close();
      }
    });
  });
});
