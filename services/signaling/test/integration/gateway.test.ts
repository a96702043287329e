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

describe('signaling gateway over a real Redis and sfu process', () => {
  let stack: Stack;
  let a: InProcessSignaling;
  let b: InProcessSignaling;

  beforeAll(async () => {
    stack = await startStack({ sfuNodes: 1 });
    a = await startSignaling(stack.redis.url);
    b = await startSignaling(stack.redis.url);
  }, 60_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await stack?.close();
  });

  it('serves the same request over REST and Socket.IO, and moves a third join to the SFU', async () => {
    const roomId = uid('room');
    const alice = await connectSocket(a.url, await stack.token(roomId, 'alice'));
    const bob = await connectSocket(b.url, await stack.token(roomId, 'bob'));
    const modes: string[] = [];
    alice.on('mode-changed', (e: { mode: string }) => modes.push(e.mode));

    const joined = await ask<{ participantId: string; room: { mode: string } }>(alice, 'join', { roomId });
    expect(joined).toMatchObject({ ok: true, data: { participantId: 'alice', room: { mode: 'idle' } } });
    const bobJoined = await ask<{ room: { mode: string; p2pOfferer: string } }>(bob, 'join', { roomId });
    expect(bobJoined).toMatchObject({ ok: true, data: { room: { mode: 'p2p', p2pOfferer: 'alice' } } });

    // A 1:1 call holds no SFU resources: transports are refused.
    const refused = await ask(alice, 'createTransport', { roomId, direction: 'send' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });

    // The P2P relay reaches the other participant across signaling nodes.
    const relayed = new Promise((resolve) => bob.once('signal', resolve));
    await ask(alice, 'signal', {
      roomId,
      to: 'bob',
      signal: { kind: 'description', description: { type: 'offer', sdp: 'v=0' } },
    });
    expect(await relayed).toEqual({
      from: 'alice',
      signal: { kind: 'description', description: { type: 'offer', sdp: 'v=0' } },
    });

    // Carol joins over REST: the same handler, the same schema.
    const carolToken = await stack.token(roomId, 'carol');
    const res = await fetch(`${a.url}/v1/rooms/${roomId}/participants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${carolToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({}),
    });
    expect(res.status).toBe(200);
    const carol = (await res.json()) as { room: { mode: string; transition: { awaiting: string[] } } };
    expect(carol.room.mode).toBe('migrating_to_sfu');
    expect(carol.room.transition.awaiting).toEqual(['alice', 'bob', 'carol']);

    const room = await ask<{ routerRtpCapabilities: { codecs: unknown[] } }>(alice, 'getRoom', { roomId });
    expect(room.ok && room.data.routerRtpCapabilities.codecs.length).toBeGreaterThan(0);
    const transport = await ask<{ transportId: string; nodeId: string }>(alice, 'createTransport', {
      roomId,
      direction: 'send',
    });
    expect(transport).toMatchObject({ ok: true, data: { nodeId: stack.sfus[0]!.nodeId } });
    expect(modes).toContain('migrating_to_sfu');

    const rest = await fetch(`${b.url}/v1/rooms/${roomId}`, {
      headers: { authorization: `Bearer ${carolToken}` },
    });
    expect(((await rest.json()) as { participants: unknown[] }).participants).toHaveLength(3);

    alice.close();
    bob.close();
  });

  it('answers bad input with typed errors', async () => {
    const roomId = uid('room');
    const socket = await connectSocket(a.url, await stack.token(roomId, 'dave'));
    expect(await ask(socket, 'join', { roomId: 'other-room' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    expect(await ask(socket, 'join', { roomId: 'bad id!' })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION_FAILED' },
    });
    expect(await ask(socket, 'nope', {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_COMMAND' } });
    expect(await ask(socket, 'getRoom', { roomId })).toMatchObject({
      ok: false,
      error: { code: 'PEER_NOT_FOUND' },
    });
    const res = await fetch(`${a.url}/v1/rooms/${roomId}/participants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"roomId": ',
    });
    expect(res.status).toBe(401);
    const malformed = await fetch(`${a.url}/v1/rooms/${roomId}/participants`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await stack.token(roomId, 'dave')}`,
        'content-type': 'application/json',
      },
      body: '{"roomId": ',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(connectSocket(a.url, 'not-a-token')).rejects.toMatchObject({
      data: { code: 'UNAUTHENTICATED' },
    });
    socket.close();
  });
});
