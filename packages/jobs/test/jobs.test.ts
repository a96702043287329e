import { type RedisServer, startRedis } from '@trellis/testkit';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Backoff,
  backoffStrategy,
  callIdOf,
  JobPublisher,
  jobIdOf,
  QueueName,
  queuePrefix,
  signWebhook,
  verifyWebhook,
} from '../src/index';

const logger = pino({ level: 'silent' });

describe('JobPublisher against a real Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('stores an event once however often it is published, on the queue its name belongs to', async () => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const publisher = new JobPublisher({ connection, keyPrefix: 'pub:', logger });
    const callId = callIdOf('room-a', 1000);
    const started = {
      eventId: `${callId}/started`,
      callId,
      roomId: 'room-a',
      callStartedAt: 1000,
      at: 1000,
      maxParticipants: 50,
    };
    const sample = {
      eventId: 'sfu/r/1',
      roomId: 'room-a',
      nodeId: 'sfu',
      routerId: 'r',
      sampledAt: 2000,
      intervalMs: 5000,
      rows: [],
    };
    for (let i = 0; i < 3; i++) {
      expect(publisher.publish('call.started', started)).toBe(true);
      expect(publisher.publish('metrics.sample', sample)).toBe(true);
    }
    expect(await publisher.flush()).toBe(true);
    expect(publisher.stats).toEqual({ sent: 6, dropped: 0, invalid: 0, backlog: 0 });
    const queues = [QueueName.calls, QueueName.metrics].map(
      (n) => new Queue(n, { connection, prefix: queuePrefix('pub:') }),
    );
    const [calls, metrics] = await Promise.all(queues.map((q) => q.getWaiting()));
    expect(calls?.map((j) => [j.name, j.id])).toEqual([
      ['call.started', jobIdOf('call.started', started.eventId)],
    ]);
    expect(calls?.[0]?.opts).toMatchObject({ attempts: 150, backoff: { type: Backoff.store, delay: 1000 } });
    expect(metrics?.map((j) => j.name)).toEqual(['metrics.sample']);
    await Promise.all(queues.map((q) => q.close()));
    await publisher.close();
    // Closed: nothing more is taken.
    expect(publisher.publish('call.started', started)).toBe(false);
    connection.disconnect();
  });
});

describe('backoff', () => {
  it('doubles from the job delay and is capped per type, with ±10 % jitter', () => {
    const job = { opts: { backoff: { delay: 1000 } } };
    const within = (v: number, x: number) => v >= x * 0.9 && v <= x * 1.1;
    expect(within(backoffStrategy(1, Backoff.store, undefined, job), 1000)).toBe(true);
    expect(within(backoffStrategy(4, Backoff.store, undefined, job), 8000)).toBe(true);
    expect(within(backoffStrategy(40, Backoff.store, undefined, job), 30_000)).toBe(true);
    expect(
      within(backoffStrategy(40, Backoff.webhook, undefined, { opts: { backoff: 2000 } }), 600_000),
    ).toBe(true);
  });
});

describe('webhook signatures', () => {
  const secret = 'a-webhook-secret-of-length';
  const body = JSON.stringify({ id: 'e1', event: 'room_started' });

  it('verifies what was signed, and nothing else', () => {
    const header = signWebhook(secret, body, 1_000_000);
    expect(verifyWebhook(secret, body, header, { now: 1_000_500 })).toEqual({
      ok: true,
      timestamp: 1_000_000,
    });
    expect(verifyWebhook(secret, `${body} `, header, { now: 1_000_500 })).toEqual({
      ok: false,
      reason: 'bad signature',
    });
    expect(verifyWebhook('another-secret-entirely', body, header, { now: 1_000_500 }).ok).toBe(false);
    expect(verifyWebhook(secret, body, header, { now: 1_000_000 + 10 * 60_000 })).toEqual({
      ok: false,
      reason: 'stale signature',
    });
    expect(verifyWebhook(secret, body, undefined)).toEqual({ ok: false, reason: 'missing signature' });
    expect(verifyWebhook(secret, body, 't=abc,v1=zz')).toEqual({ ok: false, reason: 'malformed signature' });
    // A timestamp moved forward breaks the MAC.
    expect(verifyWebhook(secret, body, header.replace('t=1000000', 't=1000001'), { now: 1_000_500 }).ok).toBe(
      false,
    );
  });
});
