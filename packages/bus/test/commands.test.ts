import { randomUUID } from 'node:crypto';
import { isTrellisError, NodePing, TrellisError } from '@trellis/protocol';
import { type RedisServer, startRedis, waitFor } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisBus } from '../src/RedisBus';
import { connectBus, Echo, Fail, metricValue } from './helpers';

describe('bus request/reply over Redis streams', () => {
  let redis: RedisServer;
  let caller: Awaited<ReturnType<typeof connectBus>>;
  let served: Awaited<ReturnType<typeof connectBus>>;
  let handled = 0;

  beforeAll(async () => {
    redis = await startRedis();
    caller = await connectBus(redis.url, 'caller', { requestTimeoutMs: 5000 });
    served = await connectBus(redis.url, 'sfu-1');
    const server = served.bus.serveCommands('sfu-1');
    server
      .handle(Echo, ({ text, n }) => {
        handled++;
        return { text, n, by: 'sfu-1' };
      })
      .handle(NodePing, ({ echo }) => ({
        nodeId: 'sfu-1',
        kind: 'sfu' as const,
        state: 'serving' as const,
        uptimeMs: 1,
        echo,
      }))
      .handle(Fail, ({ kind }) => {
        if (kind === 'typed') throw new TrellisError('ROOM_NOT_FOUND', 'no such room', { roomId: 'r1' });
        if (kind === 'plain') throw new Error('boom');
        return { never: false } as never; // off-schema on purpose
      });
    await server.start();
  });

  afterAll(async () => {
    await caller?.bus.close();
    await served?.bus.close();
    await redis?.stop();
  });

  it('round-trips a command and validates the reply', async () => {
    await expect(caller.bus.commands.request('sfu-1', Echo, { text: 'hi', n: 7 })).resolves.toEqual({
      text: 'hi',
      n: 7,
      by: 'sfu-1',
    });
    const pong = await caller.bus.commands.request('sfu-1', NodePing, { echo: 'x' });
    expect(pong).toMatchObject({ nodeId: 'sfu-1', state: 'serving', echo: 'x' });
    expect(
      await metricValue(caller.metrics, 'trellis_bus_requests_total', { type: 'test.echo', outcome: 'ok' }),
    ).toBe(1);
  });

  it('carries many concurrent requests to the right callers', async () => {
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        caller.bus.commands.request('sfu-1', Echo, { text: `m${i}`, n: i }),
      ),
    );
    expect(replies.map((r) => r.n)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('gives the caller a typed error when the handler throws', async () => {
    const typed = await caller.bus.commands
      .request('sfu-1', Fail, { kind: 'typed' })
      .catch((e: unknown) => e);
    expect(isTrellisError(typed, 'ROOM_NOT_FOUND')).toBe(true);
    expect((typed as TrellisError).details).toEqual({ roomId: 'r1' });
    expect((typed as TrellisError).httpStatus).toBe(404);

    const plain = await caller.bus.commands
      .request('sfu-1', Fail, { kind: 'plain' })
      .catch((e: unknown) => e);
    expect(isTrellisError(plain, 'INTERNAL')).toBe(true);
    expect((plain as Error).message).toBe('boom');

    const offSchema = await caller.bus.commands
      .request('sfu-1', Fail, { kind: 'bad-reply' })
      .catch((e: unknown) => e);
    expect(isTrellisError(offSchema, 'INTERNAL')).toBe(true);
    // The server is still serving.
    await expect(caller.bus.commands.request('sfu-1', Echo, { text: 'alive' })).resolves.toMatchObject({
      text: 'alive',
    });
  });

  it('rejects an invalid request before sending it', async () => {
    const before = handled;
    const error = await caller.bus.commands
      .request('sfu-1', Echo, { text: 42 } as never)
      .catch((e: unknown) => e);
    expect(isTrellisError(error, 'VALIDATION_FAILED')).toBe(true);
    expect((error as Error).message).toContain('text');
    expect(handled).toBe(before);
  });

  it('times out with BUS_TIMEOUT when nobody serves the target', async () => {
    const error = await caller.bus.commands
      .request('nobody', Echo, { text: 'x' }, { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(isTrellisError(error, 'BUS_TIMEOUT')).toBe(true);
    expect((error as TrellisError).details).toMatchObject({ target: 'nobody', type: 'test.echo' });
  });

  it('answers UNKNOWN_COMMAND for a command the target does not serve', async () => {
    const Other = { ...Echo, type: 'test.other' };
    const error = await caller.bus.commands.request('sfu-1', Other, { text: 'x' }).catch((e: unknown) => e);
    expect(isTrellisError(error, 'UNKNOWN_COMMAND')).toBe(true);
  });

  it('dead-letters malformed entries and keeps consuming', async () => {
    const stream = served.bus.keys.commandStream('sfu-1');
    const dlq = served.bus.keys.deadLetters();
    const before = await served.bus.redis.xlen(dlq);
    await served.bus.redis.xadd(stream, '*', 'm', '{not json');
    await served.bus.redis.xadd(stream, '*', 'other', 'field');
    await served.bus.redis.xadd(stream, '*', 'm', JSON.stringify({ kind: 'command', id: 'x' }));
    await expect(
      caller.bus.commands.request('sfu-1', Echo, { text: 'after garbage' }),
    ).resolves.toMatchObject({ text: 'after garbage' });
    await waitFor(async () => (await served.bus.redis.xlen(dlq)) >= before + 3, {
      what: 'three dead letters',
    });
    const letters = await served.bus.redis.xrange(dlq, '-', '+');
    const reasons = letters.slice(-3).map(([, fields]) => fields[fields.indexOf('reason') + 1]);
    expect(reasons).toEqual(['not JSON', 'missing field "m"', expect.stringContaining('bad envelope')]);
    expect(
      await metricValue(served.metrics, 'trellis_bus_dead_letters_total', { origin_kind: 'command' }),
    ).toBeGreaterThanOrEqual(3);
    expect(served.logLines.some((l) => l.includes('bus message dead-lettered'))).toBe(true);
  });

  it('answers VALIDATION_FAILED and dead-letters a well-formed command with a bad payload', async () => {
    const error = await sendRaw(caller.bus, 'sfu-1', { type: Echo.type, payload: { text: 123 } }).catch(
      (e: unknown) => e,
    );
    expect(isTrellisError(error, 'VALIDATION_FAILED')).toBe(true);
    const letters = await served.bus.redis.xrevrange(served.bus.keys.deadLetters(), '+', '-', 'COUNT', 1);
    expect(letters[0]?.[1].join(' ')).toContain('invalid payload');
  });

  it('runs a command delivered twice as two entries only once', async () => {
    const before = handled;
    const reply = await sendRaw(caller.bus, 'sfu-1', { type: Echo.type, payload: { text: 'twice' } }, 2);
    expect(reply).toMatchObject({ text: 'twice' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(handled).toBe(before + 1);
    expect(
      await metricValue(served.metrics, 'trellis_bus_commands_handled_total', {
        type: 'test.echo',
        outcome: 'duplicate',
      }),
    ).toBeGreaterThanOrEqual(1);
  });
});

/**
 * Writes a command envelope straight to the stream (as a buggy or hostile sender could), `copies`
 * times with one id, and waits for the reply through the caller's own inbox machinery.
 */
async function sendRaw(
  bus: RedisBus,
  target: string,
  body: { type: string; payload: unknown },
  copies = 1,
): Promise<unknown> {
  // Borrow the client's inbox by sending a real request whose payload we then replace: simplest is
  // to write the envelope ourselves and read the reply stream directly.
  const inbox = bus.keys.replyStream(`raw:${randomUUID()}`);
  const id = randomUUID();
  const envelope = {
    id,
    kind: 'command',
    type: body.type,
    version: 1,
    ts: Date.now(),
    source: 'raw-test',
    correlationId: id,
    replyTo: inbox,
    deadline: Date.now() + 5000,
    payload: body.payload,
  };
  for (let i = 0; i < copies; i++)
    await bus.redis.xadd(bus.keys.commandStream(target), '*', 'm', JSON.stringify(envelope));
  const entries = await waitFor(
    async () => {
      const found = await bus.redis.xrange(inbox, '-', '+');
      return found.length > 0 ? found : undefined;
    },
    { what: 'a reply in the raw inbox' },
  );
  const reply = JSON.parse(entries[0]![1][1]!);
  if (!reply.ok) throw TrellisError.fromBody(reply.error);
  return reply.result;
}
