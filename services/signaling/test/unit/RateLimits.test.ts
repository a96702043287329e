import { randomUUID } from 'node:crypto';
import { Api, isTrellisError, type TrellisError } from '@trellis/protocol';
import { type RedisServer, startRedis } from '@trellis/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RateLimits } from '../../src/abuse/RateLimits';

// A minute-long window, so no test depends on finishing inside one second.
const Slow = Api.defineRequest({
  name: 'slow',
  summary: 'test',
  http: { method: 'POST', path: '/v1/rooms/{roomId}/slow' },
  access: 'participant',
  rateLimit: { points: 3, perSeconds: 60 },
  request: z.object({ roomId: z.string() }),
  reply: z.object({}),
});
const Other = Api.defineRequest({ ...Slow, name: 'other' });
const requests = [...Api.apiRequests, Slow, Other];

async function rejection(promise: Promise<unknown>): Promise<TrellisError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isTrellisError(error)) throw new Error(`expected a TrellisError, got ${String(error)}`);
  return error;
}

describe('RateLimits over Redis', () => {
  let server: RedisServer;
  let redis: Redis;
  const limits = (perIpPerSecond = 1000, keyPrefix = `test-${randomUUID()}:`) =>
    new RateLimits({ redis, keyPrefix, requests, config: { enabled: true, perIpPerSecond } });

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
    // Until the connection is ready the limiters fall back to memory; these tests are about Redis.
    await redis.ping();
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('rejects a participant past its budget with RATE_LIMITED and a retry time', async () => {
    const keyPrefix = `test-${randomUUID()}:`;
    const rl = limits(1000, keyPrefix);
    const alice = { participantKey: 'room-1:alice', ip: '10.0.0.1' };
    for (let i = 0; i < 3; i++) await rl.consume(Slow, alice);
    const error = await rejection(rl.consume(Slow, alice));
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.httpStatus).toBe(429);
    expect(error.details).toMatchObject({ limit: 'participant', request: 'slow' });
    expect(error.details?.retryAfterMs).toBeGreaterThan(0);
    expect(error.details?.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(await redis.get(`${keyPrefix}rl:slow:room-1:alice`)).toBe('4');
  });

  it('keeps other participants and other requests usable', async () => {
    const rl = limits();
    const alice = { participantKey: 'room-1:alice', ip: '10.0.0.1' };
    for (let i = 0; i < 3; i++) await rl.consume(Slow, alice);
    await expect(rl.consume(Slow, alice)).rejects.toThrow(/Too many slow requests/);
    await expect(rl.consume(Slow, { participantKey: 'room-1:bob', ip: '10.0.0.1' })).resolves.toBeUndefined();
    await expect(rl.consume(Other, alice)).resolves.toBeUndefined();
  });

  it('sizes buckets from the API table', async () => {
    const rl = limits();
    const who = { participantKey: 'room-1:carol', ip: '10.0.0.3' };
    const { points } = Api.JoinRoom.rateLimit;
    for (let i = 0; i < points; i++) await rl.consume(Api.JoinRoom, who);
    expect((await rejection(rl.consume(Api.JoinRoom, who))).details).toMatchObject({ request: 'join' });
  });

  it('limits one IP across every participant behind it', async () => {
    const rl = limits(4);
    for (let i = 0; i < 4; i++) await rl.consume(Other, { participantKey: `room-1:p${i}`, ip: '192.0.2.7' });
    const error = await rejection(rl.consume(Other, { participantKey: 'room-1:p9', ip: '192.0.2.7' }));
    expect(error.details).toMatchObject({ limit: 'ip', request: 'other' });
    expect(error.details?.retryAfterMs).toBeGreaterThan(0);
    await expect(
      rl.consume(Other, { participantKey: 'room-1:p9', ip: '192.0.2.8' }),
    ).resolves.toBeUndefined();
  });

  it('shares counts between gateways on the same Redis', async () => {
    const keyPrefix = `test-${randomUUID()}:`;
    const [a, b] = [limits(1000, keyPrefix), limits(1000, keyPrefix)];
    const dave = { participantKey: 'room-1:dave', ip: '10.0.0.4' };
    await a.consume(Slow, dave);
    await b.consume(Slow, dave);
    await a.consume(Slow, dave);
    expect((await rejection(b.consume(Slow, dave))).code).toBe('RATE_LIMITED');
    expect(await redis.exists(`${keyPrefix}rl:slow:room-1:dave`)).toBe(1);
  });

  it('refuses a request that is not in the table', async () => {
    const Unknown = Api.defineRequest({ ...Slow, name: 'unknown' });
    const error = await rejection(limits().consume(Unknown, { participantKey: 'r:x', ip: '10.0.0.5' }));
    expect(error.code).toBe('INTERNAL');
  });
});

describe('RateLimits without Redis', () => {
  it('keeps limiting per process while Redis is unreachable', async () => {
    // Port 1 on loopback: nothing listens, the client never becomes ready.
    const down = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, maxRetriesPerRequest: null });
    try {
      const rl = new RateLimits({
        redis: down,
        keyPrefix: 'down:',
        requests,
        config: { enabled: true, perIpPerSecond: 1000 },
      });
      const erin = { participantKey: 'room-1:erin', ip: '10.0.0.6' };
      for (let i = 0; i < 3; i++) await rl.consume(Slow, erin);
      const error = await rejection(rl.consume(Slow, erin));
      expect(error.details).toMatchObject({ limit: 'participant', request: 'slow' });
      await expect(rl.consume(Slow, { ...erin, participantKey: 'room-1:frank' })).resolves.toBeUndefined();
    } finally {
      down.disconnect();
    }
  });

  it('does nothing when disabled', async () => {
    const down = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true });
    const rl = new RateLimits({
      redis: down,
      keyPrefix: 'off:',
      requests,
      config: { enabled: false, perIpPerSecond: 1 },
    });
    expect(rl.enabled).toBe(false);
    for (let i = 0; i < 10; i++) await rl.consume(Slow, { participantKey: 'room-1:gina', ip: '10.0.0.7' });
    expect(down.status).toBe('wait');
    down.disconnect();
  });
});
