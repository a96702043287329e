// Bad input against a real sfu process while a real two-party call runs on it: malformed payloads
// (sent raw, past the bus client's own validation), unknown and foreign ids, and commands in the
// wrong order or on the wrong transport must each get a typed error code — and the call must keep
// forwarding throughout (its decoded frame count keeps growing, without a freeze).
import { performance } from 'node:perf_hooks';
import {
  ClosePeer,
  CloseProducer,
  ConnectTransport,
  Consume,
  CreateWebRtcTransport,
  GetPeerStats,
  GetRouterCapabilities,
  PauseProducer,
  Produce,
  type RequestOf,
  RestartIce,
  ResumeConsumer,
  SetConsumerPreferences,
} from '@trellis/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SfuHarness, startSfuHarness, uid } from './support/harness';
import { describeVideo, longestGapSince, MIN_FRAMES, waitForFrames } from './support/media';
import { errorCodeOf, sendRawCommand } from './support/rawCommand';
import type { ConsumedVideo, PublishedVideo, SfuTestPeer } from './support/SfuTestPeer';

// Well-formed but made up: the node must look ids up, not trust them.
const FAKE_ID = '00000000-0000-4000-8000-000000000000';
const FAKE_DTLS = {
  role: 'client' as const,
  fingerprints: [{ algorithm: 'sha-256', value: Array.from({ length: 32 }, () => 'AB').join(':') }],
};

describe('sfu: bad input while a call is running', () => {
  let h: SfuHarness;
  let roomId: string;
  let alice: SfuTestPeer;
  let bob: SfuTestPeer;
  let video: PublishedVideo;
  let bobSees: ConsumedVideo;
  let started: number;
  let framesAtStart: number;

  beforeAll(async () => {
    h = await startSfuHarness('bad-input');
    roomId = uid('room');
    alice = await h.join(roomId, uid('alice'));
    bob = await h.join(roomId, uid('bob'));
    video = await alice.publishVideo();
    bobSees = await bob.consumeVideo(video.producerId);
    await waitForFrames(h, bobSees);
    started = performance.now();
    framesAtStart = bobSees.frames.frames;
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  }, 30_000);

  const raw = (type: string, payload: unknown) => errorCodeOf(sendRawCommand(h.bus, h.nodeId, type, payload));

  it('answers malformed payloads with VALIDATION_FAILED and unknown commands with UNKNOWN_COMMAND', async () => {
    const scope = { roomId, peerId: alice.peerId };
    const cases: Array<[string, string, unknown]> = [
      [
        'wrong kind, numeric transport id',
        Produce.type,
        { ...scope, transportId: 42, kind: 'smell', rtpParameters: { codecs: [] } },
      ],
      [
        'rtpParameters not an object',
        Produce.type,
        { ...scope, transportId: alice.sendTransport.id, kind: 'video', rtpParameters: 'vp8 please' },
      ],
      ['unknown direction', CreateWebRtcTransport.type, { ...scope, direction: 'sideways' }],
      [
        'no fingerprints',
        ConnectTransport.type,
        { ...scope, transportId: alice.sendTransport.id, dtlsParameters: { fingerprints: [] } },
      ],
      [
        'capabilities a string',
        Consume.type,
        {
          ...scope,
          transportId: alice.recvTransport.id,
          producerId: video.producerId,
          rtpCapabilities: 'all',
        },
      ],
      [
        'neither layers nor priority',
        SetConsumerPreferences.type,
        { roomId, peerId: bob.peerId, consumerId: bobSees.consumerId },
      ],
      [
        'priority 0',
        SetConsumerPreferences.type,
        { roomId, peerId: bob.peerId, consumerId: bobSees.consumerId, priority: 0 },
      ],
      [
        'spatial layer -1',
        SetConsumerPreferences.type,
        { roomId, peerId: bob.peerId, consumerId: bobSees.consumerId, preferredLayers: { spatialLayer: -1 } },
      ],
      ['room id with braces and spaces', GetRouterCapabilities.type, { roomId: 'a {room} with spaces' }],
      ['missing peer id', GetPeerStats.type, { roomId }],
      ['null payload', ClosePeer.type, null],
    ];
    // All at once: a burst of garbage must not starve or break the call.
    const codes = await Promise.all(cases.map(([, type, payload]) => raw(type, payload)));
    expect(Object.fromEntries(cases.map(([what], i) => [what, codes[i]]))).toEqual(
      Object.fromEntries(cases.map(([what]) => [what, 'VALIDATION_FAILED'])),
    );
    expect(await raw('sfu.self-destruct', { roomId })).toBe('UNKNOWN_COMMAND');
  }, 30_000);

  it('answers unknown and foreign ids with NOT_FOUND codes', async () => {
    const a = { roomId, peerId: alice.peerId };
    const b = { roomId, peerId: bob.peerId };
    const caps = bob.device.rtpCapabilities as RequestOf<typeof Consume>['rtpCapabilities'];
    const cases = {
      'unknown room': h.failureCode(GetPeerStats, { roomId: uid('no-room'), peerId: alice.peerId }),
      'unknown peer': h.failureCode(GetPeerStats, { roomId, peerId: uid('nobody') }),
      'unknown transport (connect)': h.failureCode(ConnectTransport, {
        ...a,
        transportId: FAKE_ID,
        dtlsParameters: FAKE_DTLS,
      }),
      'unknown transport (restart ICE)': h.failureCode(RestartIce, { ...a, transportId: FAKE_ID }),
      'unknown producer (consume)': h.failureCode(Consume, {
        ...b,
        transportId: bob.recvTransport.id,
        producerId: FAKE_ID,
        rtpCapabilities: caps,
      }),
      'unknown producer (pause)': h.failureCode(PauseProducer, { ...a, producerId: FAKE_ID }),
      'unknown consumer (resume)': h.failureCode(ResumeConsumer, { ...b, consumerId: FAKE_ID }),
      'unknown consumer (layers)': h.failureCode(SetConsumerPreferences, {
        ...b,
        consumerId: FAKE_ID,
        priority: 5,
      }),
      // A peer can never touch another peer's objects, even knowing their ids.
      "bob connects alice's transport": h.failureCode(ConnectTransport, {
        ...b,
        transportId: alice.sendTransport.id,
        dtlsParameters: FAKE_DTLS,
      }),
      "bob closes alice's producer": h.failureCode(CloseProducer, { ...b, producerId: video.producerId }),
      "alice resumes bob's consumer": h.failureCode(ResumeConsumer, { ...a, consumerId: bobSees.consumerId }),
    };
    const codes = Object.fromEntries(
      await Promise.all(Object.entries(cases).map(async ([what, p]) => [what, await p] as const)),
    );
    expect(codes).toEqual({
      'unknown room': 'ROOM_NOT_FOUND',
      'unknown peer': 'PEER_NOT_FOUND',
      'unknown transport (connect)': 'TRANSPORT_NOT_FOUND',
      'unknown transport (restart ICE)': 'TRANSPORT_NOT_FOUND',
      'unknown producer (consume)': 'PRODUCER_NOT_FOUND',
      'unknown producer (pause)': 'PRODUCER_NOT_FOUND',
      'unknown consumer (resume)': 'CONSUMER_NOT_FOUND',
      'unknown consumer (layers)': 'CONSUMER_NOT_FOUND',
      "bob connects alice's transport": 'TRANSPORT_NOT_FOUND',
      "bob closes alice's producer": 'PRODUCER_NOT_FOUND',
      "alice resumes bob's consumer": 'CONSUMER_NOT_FOUND',
    });
  }, 30_000);

  it('answers out-of-order and wrong-transport commands with typed codes', async () => {
    const a = { roomId, peerId: alice.peerId };
    const b = { roomId, peerId: bob.peerId };
    const rtpParameters = video.producer.rtpParameters as RequestOf<typeof Produce>['rtpParameters'];
    const caps = bob.device.rtpCapabilities as RequestOf<typeof Consume>['rtpCapabilities'];

    // Consume before connect is the normal mediasoup-client order (the recv transport's DTLS
    // connect is triggered by the first local consume): it must succeed, and start paused.
    const carolId = uid('carol');
    const carolRecv = await h.request(CreateWebRtcTransport, { roomId, peerId: carolId, direction: 'recv' });
    const early = await h.request(Consume, {
      roomId,
      peerId: carolId,
      transportId: carolRecv.transportId,
      producerId: video.producerId,
      rtpCapabilities: caps,
    });
    expect(early).toMatchObject({ kind: 'video', paused: true });

    // A peer that has left is gone: its next command finds no peer.
    const carolSend = await h.request(CreateWebRtcTransport, { roomId, peerId: carolId, direction: 'send' });
    expect((await h.request(ClosePeer, { roomId, peerId: carolId })).closed).toBe(true);

    const cases = {
      'produce on a recv transport': h.failureCode(Produce, {
        ...a,
        transportId: alice.recvTransport.id,
        kind: 'video',
        rtpParameters,
      }),
      'consume on a send transport': h.failureCode(Consume, {
        ...b,
        transportId: bob.sendTransport.id,
        producerId: video.producerId,
        rtpCapabilities: caps,
      }),
      'connect an already connected transport': h.failureCode(ConnectTransport, {
        ...a,
        transportId: alice.sendTransport.id,
        dtlsParameters: FAKE_DTLS,
      }),
      'consume own producer': h.failureCode(Consume, {
        ...a,
        transportId: alice.recvTransport.id,
        producerId: video.producerId,
        rtpCapabilities: alice.device.rtpCapabilities as typeof caps,
      }),
      'consume without a usable codec': h.failureCode(Consume, {
        ...b,
        transportId: bob.recvTransport.id,
        producerId: video.producerId,
        rtpCapabilities: { codecs: [], headerExtensions: [] },
      }),
      'produce after leaving': h.failureCode(Produce, {
        roomId,
        peerId: carolId,
        transportId: carolSend.transportId,
        kind: 'video',
        rtpParameters,
      }),
    };
    const codes = Object.fromEntries(
      await Promise.all(Object.entries(cases).map(async ([what, p]) => [what, await p] as const)),
    );
    expect(codes).toEqual({
      'produce on a recv transport': 'CONFLICT',
      'consume on a send transport': 'CONFLICT',
      'connect an already connected transport': 'CONFLICT',
      'consume own producer': 'CANNOT_CONSUME',
      'consume without a usable codec': 'CANNOT_CONSUME',
      'produce after leaving': 'PEER_NOT_FOUND',
    });
  }, 30_000);

  it("answers mediasoup's refusals with typed codes: UNSUPPORTED_MEDIA, MEDIA_ERROR", async () => {
    const base = video.producer.rtpParameters as RequestOf<typeof Produce>['rtpParameters'];
    const produce = (rtpParameters: RequestOf<typeof Produce>['rtpParameters']) =>
      h.failureCode(Produce, {
        roomId,
        peerId: alice.peerId,
        transportId: alice.sendTransport.id,
        kind: 'video',
        rtpParameters,
      });
    // A codec the router doesn't offer.
    const h265 = {
      ...base,
      mid: 'x-h265',
      codecs: base.codecs.map((c) => ({ ...c, mimeType: 'video/H265' })),
    };
    expect(await produce(h265)).toBe('UNSUPPORTED_MEDIA');
    // The same stream produced twice: its mid and SSRCs are taken (mediasoup's worker refuses).
    expect(await produce(base)).toBe('MEDIA_ERROR');
  }, 30_000);

  it('kept forwarding the call through all of it', async () => {
    await waitForFrames(h, bobSees, framesAtStart + MIN_FRAMES);
    const gapMs = longestGapSince(bobSees, started);
    console.info(
      `[bad-input] during the bad-input tests: ${bobSees.frames.frames - framesAtStart} more frames in ` +
        `${(performance.now() - started).toFixed(0)} ms, longest gap ${gapMs.toFixed(0)} ms; ${describeVideo(bobSees)}`,
    );
    expect(gapMs).toBeLessThan(2_000);
    expect(h.sfu.process.running).toBe(true);
    const info = await h.registryEntry(undefined, 'the registry entry');
    expect(info.state).toBe('serving');
    // The node's own view of the call is intact.
    const stats = await h.request(GetPeerStats, { roomId, peerId: bob.peerId });
    expect(stats.consumers).toMatchObject([{ id: bobSees.consumerId, paused: false }]);
  }, 30_000);
});
