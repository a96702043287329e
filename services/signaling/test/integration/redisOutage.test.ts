import { SignalingClient } from '@trellis/client';
import { Api } from '@trellis/protocol';
import { waitFor, whileRedisDown } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ask,
  connectSocket,
  type InProcessSignaling,
  type Stack,
  startSignaling,
  startStack,
  uid,
} from '../support/stack';

/**
 * Seen before: REST joins sent while Redis was down got no answer for 10 s, and three of them were
 * recorded as participants once it came back. Now each is refused at once, leaves nothing behind,
 * and the SDK asks again until Redis is back.
 */
describe('requests during a Redis outage', () => {
  let stack: Stack;
  let sig: InProcessSignaling;

  beforeAll(async () => {
    stack = await startStack({ sfuNodes: 0, dedicatedRedis: true });
    sig = await startSignaling(stack.redis.url);
  }, 60_000);
  afterAll(async () => {
    await sig?.close();
    await stack?.close();
  });

  const storeDown = () =>
    waitFor(() => sig.bus.redis.status !== 'ready', { what: 'signaling to see Redis go' });
  const restJoin = (roomId: string, token: string) =>
    fetch(`${sig.url}/v1/rooms/${roomId}/participants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
  const storeUp = () => waitFor(() => sig.bus.redis.status === 'ready', { what: 'signaling to reconnect' });

  it('refuses at once with UNAVAILABLE and Retry-After, and leaves no participant behind', async () => {
    const roomId = uid('outage');
    const token = await stack.token(roomId, 'ghost');
    const socket = await connectSocket(sig.url, await stack.token(roomId, 'socket-user'));
    await whileRedisDown(stack.redis, async () => {
      await storeDown();
      const began = performance.now();
      const rest = await restJoin(roomId, token);
      const ms = performance.now() - began;
      expect(rest.status).toBe(503);
      expect(rest.headers.get('retry-after')).toBe('1');
      expect(await rest.json()).toMatchObject({ code: 'UNAVAILABLE', details: { retryAfterMs: 1000 } });
      // An answer, not a hang until the client's own timeout.
      expect(ms).toBeLessThan(3_000);
      expect(await ask(socket, 'join', { roomId })).toMatchObject({
        ok: false,
        error: { code: 'UNAVAILABLE' },
      });
    });
    await storeUp();
    // Nothing was queued behind the outage: the next to join finds nobody else in the room.
    const witness = await restJoin(roomId, await stack.token(roomId, 'witness'));
    expect(witness.status).toBe(200);
    const joined = (await witness.json()) as { room: { participants: Array<{ id: string }> } };
    expect(joined.room.participants.map((p) => p.id)).toEqual(['witness']);
    socket.disconnect();
  });

  it('the SDK asks again within its deadline and joins once Redis is back', async () => {
    const roomId = uid('outage-sdk');
    const client = new SignalingClient({
      url: sig.url,
      token: await stack.token(roomId, 'patient'),
      requestTimeoutMs: 15_000,
    });
    try {
      await client.connect();
      // Wrapped in an object: returned bare, the pending join would be awaited with Redis still down.
      const { joining } = await whileRedisDown(stack.redis, async () => {
        await storeDown();
        const joining = client.request(Api.JoinRoom, { roomId });
        await new Promise((r) => setTimeout(r, 2_500));
        return { joining };
      });
      const reply = await joining;
      expect(reply.participantId).toBe('patient');
      expect(reply.room.participants.map((p) => p.id)).toEqual(['patient']);
    } finally {
      client.close();
      await storeUp();
    }
  });
});
