// One call on three sfu processes, wrtc participants on each: everyone decodes everyone else's
// video, which crosses SRTP pipes between the nodes (one pair per node pair, reused both ways).
import { RedisBus } from '@trellis/bus';
import { ConsumerClosed } from '@trellis/protocol';
import { createMetricsRegistry } from '@trellis/telemetry';
import { type RedisServer, startRedis, waitFor } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietLogger } from '../inprocess/fixtures';
import { type ConsumedVideo, SfuTestPeer } from '../support/SfuTestPeer';
import { type SpawnedSfu, spawnSfu } from '../support/spawnSfu';

const NODES = ['sfu-a', 'sfu-b', 'sfu-c'];

describe('one call across three sfu processes, real WebRTC', () => {
  let redis: RedisServer;
  let bus: RedisBus;
  const sfus: SpawnedSfu[] = [];
  const peers: SfuTestPeer[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    for (const nodeId of NODES) {
      sfus.push(await spawnSfu({ redisUrl: redis.url, nodeId, env: { SFU_DRAIN_TIMEOUT_MS: '0' } }));
    }
    bus = await RedisBus.connect({
      nodeId: 'signaling-test',
      redis: { mode: 'single', url: redis.url, keyPrefix: 'trellis:' },
      logger: quietLogger(),
      metrics: createMetricsRegistry({ service: 't', nodeId: 'signaling-test' }),
    });
  }, 60_000);

  afterAll(async () => {
    for (const peer of peers) peer.close();
    for (const sfu of sfus) await sfu.process.stop('SIGINT');
    await bus?.close();
    await redis?.stop();
  }, 30_000);

  it('every participant decodes every other participant’s video across the nodes', async () => {
    const roomId = 'spanning-webrtc';
    // One participant per node; each publishes small VP8 (three encoders share two cores).
    for (const [i, nodeId] of NODES.entries()) {
      peers.push(await SfuTestPeer.join({ bus, nodeId, roomId, peerId: `p${i}` }));
    }
    const published = await Promise.all(peers.map((peer) => peer.publishVideo({ width: 320, height: 180 })));
    const watched: Array<{ viewer: string; from: string; video: ConsumedVideo }> = [];
    for (const [i, viewer] of peers.entries()) {
      for (const [j, video] of published.entries()) {
        if (i === j) continue;
        watched.push({
          viewer: viewer.peerId,
          from: peers[j]!.peerId,
          video: await viewer.consumeVideo(video.producerId, { producerNodeId: NODES[j] }),
        });
      }
    }
    for (const { viewer, from, video } of watched) {
      await waitFor(() => video.frames.framesOfSize(320, 180) >= 20, {
        what: `${viewer} to decode ${from}'s video`,
        timeoutMs: 20_000,
      });
    }
    const gaps = watched.map((w) => Math.round(w.video.frames.longestGapMs));
    console.info(`[three-nodes] 6 cross-node streams decoding; longest frame gaps ${gaps.join(', ')} ms`);

    // Closing a producer on its node closes its consumers on the two other nodes.
    const closedOn = new Set<string>();
    await bus
      .consumeEvents('three-nodes-test')
      .on(ConsumerClosed, (p) => {
        if (p.producerId === published[0]!.producerId && p.reason === 'producer-closed')
          closedOn.add(p.nodeId);
      })
      .start();
    // Each node holds exactly one pipe pair to each other node, whichever side opened it.
    for (const sfu of sfus) {
      const text = await (await fetch(`http://127.0.0.1:${sfu.metricsPort}/metrics`)).text();
      expect(text).toMatch(/trellis_sfu_pipe_transports\{[^}]*\} 2\b/);
      expect(text).toMatch(/trellis_sfu_piped_producers\{[^}]*\} 2\b/);
    }
    await peers[0]!.closeProducer(published[0]!.producerId);
    await waitFor(() => closedOn.size === 2, { what: "p0's consumers on sfu-b and sfu-c to close" });
    expect([...closedOn].sort()).toEqual(['sfu-b', 'sfu-c']);
  }, 90_000);
});
