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

describe('rate limits', () => {
  let stack: Stack;
  let sig: InProcessSignaling;

  beforeAll(async () => {
    stack = await startStack({ sfuNodes: 0 });
    sig = await startSignaling(stack.redis.url);
  }, 60_000);

  afterAll(async () => {
    await sig?.close();
    await stack?.close();
  });

  it('answers a flood with 429 and Retry-After, and leaves other clients and requests alone', async () => {
    const roomId = uid('room');
    const flooderToken = await stack.token(roomId, 'flooder');
    const calm = await connectSocket(sig.url, await stack.token(roomId, 'calm'));
    const flooder = await connectSocket(sig.url, flooderToken);
    expect(await ask(flooder, 'join', { roomId })).toMatchObject({ ok: true });
    expect(await ask(calm, 'join', { roomId })).toMatchObject({ ok: true });

    // getRoom allows 30 a second per participant: 60 at once must hit the limit over REST.
    const answers = await Promise.all(
      Array.from({ length: 60 }, () =>
        fetch(`${sig.url}/v1/rooms/${roomId}`, { headers: { authorization: `Bearer ${flooderToken}` } }),
      ),
    );
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(25);
    expect(answers.filter((r) => r.status === 200).length).toBeLessThanOrEqual(30);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited[0]!.json()).toMatchObject({ code: 'RATE_LIMITED', details: { request: 'getRoom' } });

    // The same bucket over Socket.IO: the participant's budget, not the transport's.
    expect(await ask(flooder, 'getRoom', { roomId })).toMatchObject({
      ok: false,
      error: { code: 'RATE_LIMITED' },
    });
    // Its other requests and other participants are unaffected.
    expect(
      await ask(flooder, 'signal', {
        roomId,
        to: 'calm',
        signal: { kind: 'candidate', candidate: { candidate: '' } },
      }),
    ).toMatchObject({ ok: true });
    expect(await ask(calm, 'getRoom', { roomId })).toMatchObject({ ok: true });
    flooder.close();
    calm.close();
  });
});
