// Close cascades through a real sfu process, observed the way signaling observes them: the room's
// events on the bus, and what the node answers afterwards. A closed producer takes its consumers;
// a peer that leaves takes everything it owned; the last peer out closes the room and its router.
import {
  ClosePeer,
  CloseProducer,
  Consume,
  ConsumerClosed,
  GetPeerStats,
  ProducerClosed,
  type RequestOf,
  ResumeConsumer,
  RoomClosed,
  TransportClosed,
} from '@trellis/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SfuHarness, startSfuHarness, uid } from './support/harness';
import { waitForFrames, waitForSound } from './support/media';

describe('sfu: close cascades', () => {
  let h: SfuHarness;

  beforeAll(async () => {
    h = await startSfuHarness('close-cascade');
  }, 45_000);

  afterAll(async () => {
    await h?.close();
  }, 30_000);

  it('closing a producer closes its consumers and says so in ProducerClosed and ConsumerClosed', async () => {
    const roomId = uid('room');
    const [alice, bob, carol] = await Promise.all(
      ['alice', 'bob', 'carol'].map((n) => h.join(roomId, uid(n))),
    );
    const video = await alice!.publishVideo();
    const audio = await alice!.publishAudio();
    const bobVideo = await bob!.consumeVideo(video.producerId);
    const carolVideo = await carol!.consumeVideo(video.producerId);
    await Promise.all([waitForFrames(h, bobVideo), waitForFrames(h, carolVideo)]);

    await alice!.closeProducer(video.producerId);

    const inRoom = { roomId, nodeId: h.nodeId };
    expect(
      await h.events.next(ProducerClosed, (e) => e.producerId === video.producerId, {
        what: 'ProducerClosed for the closed video',
      }),
    ).toEqual({ ...inRoom, peerId: alice!.peerId, producerId: video.producerId, reason: 'closed-by-peer' });
    const consumerClosed = await h.events.waitForCount(
      ConsumerClosed,
      (e) => e.producerId === video.producerId,
      2,
      { what: "ConsumerClosed for bob's and carol's consumers of the closed video" },
    );
    expect(consumerClosed).toEqual(
      expect.arrayContaining([
        {
          ...inRoom,
          peerId: bob!.peerId,
          consumerId: bobVideo.consumerId,
          producerId: video.producerId,
          reason: 'producer-closed',
        },
        {
          ...inRoom,
          peerId: carol!.peerId,
          consumerId: carolVideo.consumerId,
          producerId: video.producerId,
          reason: 'producer-closed',
        },
      ]),
    );

    // The node forgot them: commands naming them are answered with NOT_FOUND codes.
    const scope = { roomId, peerId: bob!.peerId };
    expect(await h.failureCode(ResumeConsumer, { ...scope, consumerId: bobVideo.consumerId })).toBe(
      'CONSUMER_NOT_FOUND',
    );
    const consumeClosed = {
      ...scope,
      transportId: bob!.recvTransport.id,
      producerId: video.producerId,
      rtpCapabilities: bob!.device.rtpCapabilities as RequestOf<typeof Consume>['rtpCapabilities'],
    };
    expect(await h.failureCode(Consume, consumeClosed)).toBe('PRODUCER_NOT_FOUND');
    expect(
      await h.failureCode(CloseProducer, { roomId, peerId: alice!.peerId, producerId: video.producerId }),
    ).toBe('PRODUCER_NOT_FOUND');
    expect((await h.request(GetPeerStats, scope)).consumers).toEqual([]);
    // The producer's sibling is untouched: its audio still reaches a new consumer.
    await waitForSound(h, await bob!.consumeAudio(audio.producerId));

    // Everyone leaves: the room closes as empty.
    for (const peer of [alice!, bob!, carol!]) expect(await peer.leave()).toBe(true);
    expect(await h.events.next(RoomClosed, (e) => e.roomId === roomId)).toMatchObject({ reason: 'empty' });
  }, 45_000);

  it('a peer that leaves takes everything it owned; the last one out closes the room and its router', async () => {
    const roomId = uid('room');
    const alice = await h.join(roomId, uid('alice'));
    const bob = await h.join(roomId, uid('bob'));
    const aliceVideo = await alice.publishVideo();
    const aliceAudio = await alice.publishAudio();
    const bobAudio = await bob.publishAudio();
    const bobSees = await bob.consumeVideo(aliceVideo.producerId);
    const bobHears = await bob.consumeAudio(aliceAudio.producerId);
    const aliceHears = await alice.consumeAudio(bobAudio.producerId);
    await Promise.all([waitForFrames(h, bobSees), waitForSound(h, bobHears), waitForSound(h, aliceHears)]);
    const routersWithRoom = await h.registryEntry(
      (info) => info.workers.some((w) => w.routers > 0 && w.consumers >= 3),
      'a router with the call',
    );
    expect(routersWithRoom.workers.reduce((sum, w) => sum + w.routers, 0)).toBe(1);

    expect(await alice.leave()).toBe(true);

    const ofAlice = (e: { roomId: string; peerId: string }) =>
      e.roomId === roomId && e.peerId === alice.peerId;
    const producers = await h.events.waitForCount(ProducerClosed, ofAlice, 2, {
      what: "alice's ProducerClosed",
    });
    expect(producers.map((e) => [e.producerId, e.reason]).sort()).toEqual(
      [
        [aliceVideo.producerId, 'peer-left'],
        [aliceAudio.producerId, 'peer-left'],
      ].sort(),
    );
    const transports = await h.events.waitForCount(TransportClosed, ofAlice, 2, {
      what: "alice's TransportClosed",
    });
    expect(transports.map((e) => [e.transportId, e.reason]).sort()).toEqual(
      [
        [alice.sendTransport.id, 'peer-left'],
        [alice.recvTransport.id, 'peer-left'],
      ].sort(),
    );
    // Her own consumer went with her recv transport; bob's consumers of her went with her producers.
    expect(await h.events.next(ConsumerClosed, ofAlice, { what: "alice's ConsumerClosed" })).toMatchObject({
      consumerId: aliceHears.consumerId,
      reason: 'transport-closed',
    });
    const bobsClosed = await h.events.waitForCount(
      ConsumerClosed,
      (e) => e.roomId === roomId && e.peerId === bob.peerId,
      2,
      { what: "ConsumerClosed for bob's consumers of alice" },
    );
    expect(bobsClosed.map((e) => [e.consumerId, e.reason]).sort()).toEqual(
      [
        [bobSees.consumerId, 'producer-closed'],
        [bobHears.consumerId, 'producer-closed'],
      ].sort(),
    );

    expect(await h.failureCode(GetPeerStats, { roomId, peerId: alice.peerId })).toBe('PEER_NOT_FOUND');
    const bobStats = await h.request(GetPeerStats, { roomId, peerId: bob.peerId });
    expect(bobStats.consumers).toEqual([]);
    expect(bobStats.producers.map((p) => p.id)).toEqual([bobAudio.producerId]);
    // Leaving twice (a retry after a lost reply) is harmless.
    expect((await h.request(ClosePeer, { roomId, peerId: alice.peerId })).closed).toBe(false);
    expect(h.events.all(RoomClosed, (e) => e.roomId === roomId)).toEqual([]);

    expect(await bob.leave()).toBe(true);
    const closed = await h.events.next(RoomClosed, (e) => e.roomId === roomId, { what: 'RoomClosed' });
    expect(closed).toMatchObject({ roomId, nodeId: h.nodeId, reason: 'empty' });
    // RoomClosed is the room's last word: every close of bob's came before it.
    expect(h.events.ofRoom(roomId).at(-1)?.type).toBe(RoomClosed.type);
    expect(h.events.all(ProducerClosed, (e) => e.producerId === bobAudio.producerId)).toMatchObject([
      { reason: 'peer-left' },
    ]);
    expect(await h.failureCode(GetPeerStats, { roomId, peerId: bob.peerId })).toBe('ROOM_NOT_FOUND');
    // The router is gone from the node's load report (both rooms of this file are closed now).
    await h.registryEntry(
      (info) => info.workers.every((w) => w.routers === 0 && w.transports === 0 && w.consumers === 0),
      'no routers, transports or consumers left',
    );
  }, 45_000);
});
