// Simulcast through a real sfu process: a wrtc publisher sends three VP8 layers of 1280x720
// (1/4, 1/2, full size); the subscriber's preferred spatial layer, set over the bus, decides which
// layer the node forwards, and so the resolution the subscriber decodes.
import { performance } from 'node:perf_hooks';
import { ConsumerLayersChanged, GetPeerStats } from '@trellis/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SfuHarness, startSfuHarness, uid } from './support/harness';
import { describeVideo, waitForFrames } from './support/media';
import type { ConsumedVideo, SfuTestPeer } from './support/SfuTestPeer';

const LAYERS = [
  { width: 320, height: 180 },
  { width: 640, height: 360 },
  { width: 1280, height: 720 },
] as const;
// Frames at the new size that prove the switch took (not one stray keyframe).
const SWITCH_FRAMES = 15;
// Going up waits for the node's bandwidth estimate towards the subscriber to reach ~1 Mbps.
const UPSWITCH_TIMEOUT_MS = 30_000;

describe('sfu: simulcast layer selection', () => {
  let h: SfuHarness;

  beforeAll(async () => {
    h = await startSfuHarness('simulcast');
  }, 45_000);

  afterAll(async () => {
    await h?.close();
  }, 30_000);

  /** Sets the preferred layer and waits for SWITCH_FRAMES decoded at that layer's size; returns ms taken. */
  async function switchTo(bob: SfuTestPeer, consumed: ConsumedVideo, spatialLayer: 0 | 1 | 2) {
    const size = LAYERS[spatialLayer];
    const before = consumed.frames.framesOfSize(size.width, size.height);
    const started = performance.now();
    const reply = await bob.setPreferredLayers(consumed.consumerId, { spatialLayer });
    expect(reply.preferredLayers?.spatialLayer).toBe(spatialLayer);
    // Polled (every 25 ms): the counter keeps per-size totals, not each frame's size.
    let firstAtSize: number | undefined;
    await h.waitFor(
      () => {
        const fresh = consumed.frames.framesOfSize(size.width, size.height) - before;
        if (fresh > 0) firstAtSize ??= performance.now();
        return fresh >= SWITCH_FRAMES;
      },
      `${SWITCH_FRAMES} frames at ${size.width}x${size.height} after preferring layer ${spatialLayer} (have ${describeVideo(consumed)})`,
      UPSWITCH_TIMEOUT_MS,
    );
    const switchMs = (firstAtSize ?? Number.NaN) - started;
    await h.events.next(
      ConsumerLayersChanged,
      (e) => e.consumerId === consumed.consumerId && e.layers?.spatialLayer === spatialLayer,
      { what: `ConsumerLayersChanged to spatial layer ${spatialLayer}` },
    );
    return switchMs;
  }

  it('the preferred spatial layer sets the decoded resolution (180p, 720p, 360p, 180p)', async () => {
    const roomId = uid('room');
    const alice = await h.join(roomId, uid('alice'));
    const bob = await h.join(roomId, uid('bob'));
    const video = await alice.publishVideo({ width: 1280, height: 720, simulcast: true });
    expect(video.producer.rtpParameters.encodings).toHaveLength(3);

    // Start at the lowest layer, as a thumbnail would.
    const consumed = await bob.consumeVideo(video.producerId, { preferredLayers: { spatialLayer: 0 } });
    expect(consumed.type).toBe('simulcast');
    await waitForFrames(h, consumed, SWITCH_FRAMES, LAYERS[0]);

    const upMs = await switchTo(bob, consumed, 2);
    const midMs = await switchTo(bob, consumed, 1);
    const downMs = await switchTo(bob, consumed, 0);
    // The last decoded frame is at the layer last asked for: the switch stuck.
    expect({ width: consumed.frames.width, height: consumed.frames.height }).toEqual(LAYERS[0]);

    const stats = await h.request(GetPeerStats, { roomId, peerId: bob.peerId });
    const onNode = stats.consumers.find((c) => c.id === consumed.consumerId);
    expect(onNode?.currentLayers?.spatialLayer).toBe(0);

    const sizes = LAYERS.map(
      (l) => `${l.width}x${l.height}: ${consumed.frames.framesOfSize(l.width, l.height)}`,
    );
    console.info(
      `[simulcast] ${describeVideo(consumed)}; frames by size ${sizes.join(', ')}; ` +
        `switch to first new-size frame: 180p→720p ${upMs.toFixed(0)} ms, 720p→360p ${midMs.toFixed(0)} ms, ` +
        `360p→180p ${downMs.toFixed(0)} ms`,
    );
  }, 90_000);
});
