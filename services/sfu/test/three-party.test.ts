// Three wrtc participants in one room of a real sfu process, every server step a bus command:
// each publishes real VP8 and Opus, discovers the others' producers from the room's events (as
// signaling would), consumes them, and decodes frames and audio.
import { GetPeerStats, ProducerAdded } from '@trellis/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SfuHarness, startSfuHarness, uid } from './support/harness';
import {
  describeAudio,
  describeVideo,
  firstFrameMs,
  MIN_AUDIO_PEAK,
  MIN_FRAMES,
  waitForFrames,
  waitForSound,
} from './support/media';
import type { ConsumedAudio, ConsumedVideo } from './support/SfuTestPeer';

const WIDTH = 320;
const HEIGHT = 180;

describe('sfu: three participants, real media', () => {
  let h: SfuHarness;

  beforeAll(async () => {
    h = await startSfuHarness('three-party');
  }, 45_000);

  afterAll(async () => {
    await h?.close();
  }, 30_000);

  it('each participant decodes the other two participants’ video and audio', async () => {
    const roomId = uid('room');
    // Joined concurrently, as clients arriving together would: the room is created exactly once.
    const peers = await Promise.all(['alice', 'bob', 'carol'].map((name) => h.join(roomId, uid(name))));
    const published = await Promise.all(
      peers.map(async (peer, i) => ({
        peer,
        video: await peer.publishVideo({ width: WIDTH, height: HEIGHT }),
        audio: await peer.publishAudio({ amplitude: 0.3, frequencyHz: 300 + 200 * i }),
      })),
    );

    const added = await h.events.waitForCount(ProducerAdded, (e) => e.roomId === roomId, 6, {
      what: 'ProducerAdded for 3 peers x (video + audio)',
    });
    for (const { peer, video, audio } of published) {
      expect(added).toContainEqual(
        expect.objectContaining({ peerId: peer.peerId, producerId: video.producerId, kind: 'video' }),
      );
      expect(added).toContainEqual(
        expect.objectContaining({ peerId: peer.peerId, producerId: audio.producerId, kind: 'audio' }),
      );
    }
    expect(added.every((e) => e.nodeId === h.nodeId && e.paused === false)).toBe(true);

    // Everyone consumes what the events announced from the other two.
    const received = await Promise.all(
      peers.map(async (peer) => {
        const videos: ConsumedVideo[] = [];
        const audios: ConsumedAudio[] = [];
        for (const event of added.filter((e) => e.peerId !== peer.peerId)) {
          if (event.kind === 'video') videos.push(await peer.consumeVideo(event.producerId));
          else audios.push(await peer.consumeAudio(event.producerId));
        }
        return { peer, videos, audios };
      }),
    );

    for (const { videos, audios } of received) {
      expect(videos).toHaveLength(2);
      expect(audios).toHaveLength(2);
      for (const consumed of [...videos, ...audios]) {
        expect(consumed.createdPaused).toBe(true);
        expect(consumed.type).toBe('simple');
        expect(consumed.consumer.rtpParameters.codecs[0]?.mimeType).toBe(
          consumed.kind === 'video' ? 'video/VP8' : 'audio/opus',
        );
      }
    }
    await Promise.all(
      received.flatMap(({ videos, audios }) => [
        ...videos.map((v) => waitForFrames(h, v, MIN_FRAMES, { width: WIDTH, height: HEIGHT })),
        ...audios.map((a) => waitForSound(h, a)),
      ]),
    );

    for (const { peer, videos, audios } of received) {
      for (const v of videos) console.info(`[three-party] ${peer.peerId} video: ${describeVideo(v)}`);
      for (const a of audios) console.info(`[three-party] ${peer.peerId} audio: ${describeAudio(a)}`);
      for (const v of videos) {
        expect(v.frames.width).toBe(WIDTH);
        expect(v.frames.height).toBe(HEIGHT);
        expect(firstFrameMs(v)).toBeLessThan(10_000);
      }
      for (const a of audios) expect(a.audio.peak).toBeGreaterThanOrEqual(MIN_AUDIO_PEAK);
      expect(peer.sendTransport.connectionState).toBe('connected');
      expect(peer.recvTransport.connectionState).toBe('connected');
    }

    // The node's view agrees: per peer, 2 transports, 2 producers, 4 resumed consumers.
    const stats = await h.request(GetPeerStats, { roomId, peerId: peers[0]!.peerId });
    expect(stats.transports).toHaveLength(2);
    expect(stats.producers.map((p) => p.kind).sort()).toEqual(['audio', 'video']);
    expect(stats.consumers).toHaveLength(4);
    expect(stats.consumers.every((c) => !c.paused)).toBe(true);
  }, 60_000);
});
