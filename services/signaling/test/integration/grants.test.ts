import { DEV_JWT_SECRET } from '@trellis/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/mintToken';
import {
  ask,
  connectSocket,
  type InProcessSignaling,
  type Stack,
  startSignaling,
  startStack,
  uid,
} from '../support/stack';
import { joiner, sfuCall, type TestParticipant } from '../support/TestParticipant';

describe('grants: what a token does not allow, a participant cannot do', () => {
  let stack: Stack;
  let sig: InProcessSignaling;
  const people: TestParticipant[] = [];

  beforeAll(async () => {
    stack = await startStack({ sfuNodes: 1 });
    sig = await startSignaling(stack.redis.url);
  }, 60_000);

  afterAll(async () => {
    for (const p of people) p.close();
    await sig?.close();
    await stack?.close();
  });

  it('refuses consuming without canSubscribe, publishing without canPublish, and touching others’ producers', async () => {
    const roomId = uid('room');
    await sfuCall(joiner(stack, roomId, people), ['a', 'b', 'c'], sig.url);
    await people[1]!.waitForFrames('a', 'sfu', 5);
    const state = (await sig.node.store.get(roomId))!;
    const aliceProducer = Object.values(state.producers).find((p) => p.participantId === 'a')!;

    const viewer = await connectSocket(sig.url, await stack.token(roomId, 'viewer', { canPublish: false }));
    expect(await ask(viewer, 'join', { roomId })).toMatchObject({ ok: true });
    const transport = await ask<{ transportId: string }>(viewer, 'createTransport', {
      roomId,
      direction: 'send',
    });
    expect(transport.ok).toBe(true);
    const produced = await ask(viewer, 'produce', {
      roomId,
      transportId: transport.ok ? transport.data.transportId : 'x',
      kind: 'video',
      rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }] },
    });
    expect(produced).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN', details: { grant: 'canPublish' } },
    });

    const deaf = await connectSocket(sig.url, await stack.token(roomId, 'deaf', { canSubscribe: false }));
    expect(await ask(deaf, 'join', { roomId })).toMatchObject({ ok: true });
    const consumed = await ask(deaf, 'consume', {
      roomId,
      transportId: 'any',
      producerId: aliceProducer.id,
      rtpCapabilities: { codecs: [] },
    });
    expect(consumed).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN', details: { grant: 'canSubscribe' } },
    });

    // Bob may publish, but not close Alice's producer; her media goes on.
    const bobSocket = await connectSocket(sig.url, await stack.token(roomId, 'bob-admin-attempt'));
    expect(await ask(bobSocket, 'join', { roomId })).toMatchObject({ ok: true });
    expect(await ask(bobSocket, 'closeProducer', { roomId, producerId: aliceProducer.id })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    expect(await ask(bobSocket, 'createRoom', { roomId })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN', details: { grant: 'admin' } },
    });
    await people[1]!.waitForFrames('a', 'sfu', 15);
    expect((await sig.node.store.get(roomId))!.producers[aliceProducer.id]).toBeDefined();

    // Tokens that do not check out: expired, forged, for another room.
    const expired = await mintToken({
      secret: DEV_JWT_SECRET,
      issuer: 'trellis',
      audience: 'trellis',
      identity: 'late',
      grant: { room: roomId },
      ttlSeconds: 60,
      now: Date.now() - 3600_000,
    });
    await expect(connectSocket(sig.url, expired)).rejects.toMatchObject({ data: { code: 'TOKEN_EXPIRED' } });
    const rest = await fetch(`${sig.url}/v1/rooms/${roomId}`, {
      headers: { authorization: `Bearer ${expired}` },
    });
    expect(rest.status).toBe(401);
    expect(await rest.json()).toMatchObject({ code: 'TOKEN_EXPIRED' });
    const forged = await mintToken({
      secret: 'x'.repeat(40),
      issuer: 'trellis',
      audience: 'trellis',
      identity: 'mallory',
      grant: { room: roomId, admin: true },
      ttlSeconds: 60,
    });
    await expect(connectSocket(sig.url, forged)).rejects.toMatchObject({ data: { code: 'UNAUTHENTICATED' } });
    const elsewhere = await connectSocket(sig.url, await stack.token('other-room', 'eve'));
    expect(await ask(elsewhere, 'getRoom', { roomId })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    const restElsewhere = await fetch(`${sig.url}/v1/rooms/${roomId}`, {
      headers: { authorization: `Bearer ${await stack.token('other-room', 'eve')}` },
    });
    expect(restElsewhere.status).toBe(403);
    for (const s of [viewer, deaf, bobSocket, elsewhere]) s.close();
  }, 120_000);
});
