import { waitFor } from '@trellis/testkit';
import { countVideoFrames, type WrtcMediaStreamTrack } from '@trellis/testkit/media';
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
import { joiner, sfuCall, TestParticipant } from '../support/TestParticipant';

type Muted = { audio: boolean; video: boolean };

/** Frames of `other` `viewer` shows during `ms`, after letting in-flight frames drain. */
async function framesDuring(viewer: TestParticipant, other: string, ms: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 500));
  const before = viewer.shownFrom(other);
  await new Promise((r) => setTimeout(r, ms));
  return viewer.shownFrom(other) - before;
}

describe('media control requests: mute, receive preferences, ICE restart', () => {
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

  it('setMuted is call state everyone sees; restartIce needs SFU transports and returns new credentials', async () => {
    const roomId = uid('room');
    const alice = await connectSocket(sig.url, await stack.token(roomId, 'alice'));
    const bob = await connectSocket(sig.url, await stack.token(roomId, 'bob'));
    const carol = await connectSocket(sig.url, await stack.token(roomId, 'carol'));
    try {
      await ask(alice, 'join', { roomId });
      await ask(bob, 'join', { roomId });
      // P2P: no SFU node yet, so no transport to restart.
      expect(await ask(alice, 'restartIce', { roomId, transportId: 'x' })).toMatchObject({
        ok: false,
        error: { code: 'CONFLICT' },
      });

      const updated = new Promise<{ participant: { id: string; muted: Muted } }>((resolve) =>
        bob.once('participant-updated', resolve),
      );
      const muted = await ask<{ participant: { muted: Muted } }>(alice, 'setMuted', {
        roomId,
        kind: 'audio',
        muted: true,
      });
      expect(muted).toMatchObject({
        ok: true,
        data: { participant: { muted: { audio: true, video: false } } },
      });
      expect(await updated).toMatchObject({
        participant: { id: 'alice', muted: { audio: true, video: false } },
      });
      const room = await ask<{ participants: Array<{ id: string; muted: Muted }> }>(bob, 'getRoom', {
        roomId,
      });
      expect(room.ok && room.data.participants.find((p) => p.id === 'alice')?.muted).toEqual({
        audio: true,
        video: false,
      });
      expect(await ask(alice, 'setMuted', { roomId, kind: 'screen', muted: true })).toMatchObject({
        ok: false,
        error: { code: 'VALIDATION_FAILED' },
      });
      expect(await ask(alice, 'setConsumerPreferences', { roomId, consumerId: 'c1' })).toMatchObject({
        ok: false,
        error: { code: 'VALIDATION_FAILED' },
      });

      // A third moves the call to the SFU: now alice has a node and transports.
      await ask(carol, 'join', { roomId });
      await ask(alice, 'getRoom', { roomId });
      const transport = await ask<{
        transportId: string;
        iceParameters: { usernameFragment: string; password: string };
      }>(alice, 'createTransport', { roomId, direction: 'recv' });
      expect(transport.ok).toBe(true);
      if (!transport.ok) return;
      const restarted = await ask<{ iceParameters: { usernameFragment: string; password: string } }>(
        alice,
        'restartIce',
        { roomId, transportId: transport.data.transportId },
      );
      expect(restarted.ok).toBe(true);
      if (!restarted.ok) return;
      expect(restarted.data.iceParameters.usernameFragment).not.toBe(
        transport.data.iceParameters.usernameFragment,
      );
      expect(restarted.data.iceParameters.password).not.toBe(transport.data.iceParameters.password);
      // Someone else's transport is not found on alice's peer.
      expect(
        await ask(bob, 'restartIce', { roomId, transportId: transport.data.transportId }).then((r) => r.ok),
      ).toBe(false);
    } finally {
      for (const s of [alice, bob, carol]) s.close();
    }
  }, 60_000);

  it('on the SFU a muted camera pauses its producer, and an off-page tile pauses its consumer', async () => {
    const roomId = uid('room');
    const join = joiner(stack, roomId, people);
    const [alice, bob, carol] = (await sfuCall(join, ['alice', 'bob', 'carol'], sig.url)) as [
      TestParticipant,
      TestParticipant,
      TestParticipant,
    ];
    await bob.waitForFrames('alice', 'sfu', 15);
    await carol.waitForFrames('alice', 'sfu', 15);

    // Mute: the server pauses alice's video producer, so nobody receives her frames.
    const seen = new Promise<Muted>((resolve) =>
      bob.call.on('participant-updated', ({ participant }) => {
        if (participant.id === 'alice') resolve(participant.muted);
      }),
    );
    await alice.call.setMuted('video', true);
    expect(await seen).toEqual({ audio: false, video: true });
    expect(await framesDuring(bob, 'alice', 1_000)).toBeLessThan(3);
    await alice.call.setMuted('video', false);
    await bob.waitForFrames('alice', 'sfu', 15);

    // Bob shows only carol: his consumer of alice is paused; carol still receives alice.
    bob.call.setVideoViews({ carol: { visible: true, width: 320 } });
    expect(await framesDuring(bob, 'alice', 1_000)).toBeLessThan(3);
    expect(bob.shownFrom('carol')).toBeGreaterThan(0);
    await carol.waitForFrames('alice', 'sfu', 15);
    bob.call.setVideoViews({ alice: { visible: true, width: 320 }, carol: { visible: true, width: 320 } });
    await bob.waitForFrames('alice', 'sfu', 15);
  }, 90_000);

  it('the simulcast layer follows the tile width: a small tile receives the 1/4 layer, a large one full size', async () => {
    const roomId = uid('room');
    const join = joiner(stack, roomId, people);
    const alice = await TestParticipant.join({
      url: sig.url,
      token: await stack.token(roomId, 'alice'),
      roomId,
      id: 'alice',
      size: { width: 1280, height: 720 },
    });
    people.push(alice);
    const [bob] = (await sfuCall(join, ['bob', 'carol'], sig.url)) as [TestParticipant, TestParticipant];
    await alice.waitForMode('sfu', 30_000);
    await bob.waitForFrames('alice', 'sfu', 15);
    const track = bob.call.remoteStream('alice')?.getVideoTracks()[0];
    expect(track).toBeDefined();
    const counter = countVideoFrames(track as unknown as WrtcMediaStreamTrack);
    try {
      bob.call.setVideoViews({ alice: { visible: true, width: 300 }, carol: { visible: true, width: 300 } });
      await waitFor(() => counter.width === 320, { timeoutMs: 20_000, what: 'the 320x180 layer' });
      expect(counter.height).toBe(180);
      bob.call.setVideoViews({ alice: { visible: true, width: 1920 }, carol: { visible: true, width: 300 } });
      await waitFor(() => counter.width === 1280, { timeoutMs: 20_000, what: 'the 1280x720 layer' });
      expect(counter.height).toBe(720);
    } finally {
      counter.stop();
    }
  }, 90_000);
});
