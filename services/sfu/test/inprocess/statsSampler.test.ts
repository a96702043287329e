import { RedisBus } from '@trellis/bus';
import { loadConfig, sfuConfig } from '@trellis/config';
import { Jobs, ResumeConsumer } from '@trellis/protocol';
import { createMetricsRegistry } from '@trellis/telemetry';
import { type RedisServer, startRedis, waitFor } from '@trellis/testkit';
import { openUdpSocket, sendRtpStream, vp8Payload } from '@trellis/testkit/media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SfuNode } from '../../src/SfuNode';
import { StatsSampler } from '../../src/StatsSampler';
import { commandsTo, freePorts, plainRtpPair, quietLogger, VP8_PT } from './fixtures';

describe('StatsSampler: metrics.sample jobs from real mediasoup stats', () => {
  let redis: RedisServer;
  let nodeBus: RedisBus;
  let client: RedisBus;
  let node: SfuNode;
  const published: { name: string; data: Jobs.MetricsSampleJob }[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const [port] = await freePorts(1);
    const config = loadConfig(sfuConfig, {
      NODE_ID: 'sfu-sampler',
      REDIS_URL: redis.url,
      SFU_WORKERS: '1',
      SFU_RTC_PORT: String(port),
    });
    const logger = quietLogger();
    const connect = (nodeId: string) =>
      RedisBus.connect({
        nodeId,
        redis: config.redis,
        logger,
        metrics: createMetricsRegistry({ service: 't', nodeId }),
      });
    nodeBus = await connect('sfu-sampler');
    client = await connect('sampler-test');
    node = await SfuNode.create({
      config,
      bus: nodeBus,
      logger,
      metrics: createMetricsRegistry({ service: 'sfu', nodeId: 'x' }),
    });
    await node.start();
  });

  afterAll(async () => {
    await node?.close();
    await client?.close();
    await nodeBus?.close();
    await redis?.stop();
  });

  it('samples each producer, consumer and transport, with rates and loss over the interval', async () => {
    const call = commandsTo(() => client, 'sfu-sampler');
    const roomId = 'sampled';
    const { ingest, producerId, receiver, egress, consumer } = await plainRtpPair(call, roomId, 0x3333);
    await call(ResumeConsumer, { roomId, peerId: 'sub', consumerId: consumer.consumerId });

    const sampler = new StatsSampler({
      node,
      intervalMs: 1000,
      logger: quietLogger(),
      publisher: {
        publish: (name, data) => published.push({ name, data: data as Jobs.MetricsSampleJob }) > 0,
      },
    });
    const socket = await openUdpSocket();
    // 1.5 s of real RTP, sampled once in the middle and once at the end.
    const sending = sendRtpStream({
      host: ingest.ip,
      port: ingest.port,
      count: 300,
      intervalMs: 5,
      payloadType: VP8_PT,
      ssrc: 0x3333,
      payload: vp8Payload(),
      socket,
    });
    await new Promise((r) => setTimeout(r, 700));
    expect(await sampler.sampleOnce()).toBe(4);
    await sending;
    socket.close();
    await waitFor(() => receiver.rtpPackets >= 280, { what: 'forwarded RTP' });
    expect(await sampler.sampleOnce()).toBe(4);
    await receiver.close();
    await sampler.close();

    expect(published).toHaveLength(2);
    const last = published[1]?.data as Jobs.MetricsSampleJob;
    // What the persister will accept, naming the node, the room's router and the interval.
    expect(Jobs.MetricsSampleJob.parse(last)).toEqual(last);
    expect(last).toMatchObject({ roomId, nodeId: 'sfu-sampler', intervalMs: 1000 });
    expect(last.routerId).toBe(node.rooms.get(roomId)?.routers[0]?.router.id);
    expect(new Set(published.map((p) => p.data.eventId)).size).toBe(2);
    const row = (source: string, id: string) =>
      last.rows.find((r) => r.source === source && r.sourceId === id);
    expect(row('producer', producerId)).toMatchObject({ participantId: 'pub', kind: 'video', packetLoss: 0 });
    expect(row('producer', producerId)?.bitrateIn).toBeGreaterThan(10_000);
    expect(row('consumer', consumer.consumerId)).toMatchObject({ participantId: 'sub', kind: 'video' });
    expect(row('consumer', consumer.consumerId)?.bitrateOut).toBeGreaterThan(10_000);
    expect(row('transport', ingest.transportId)?.bitrateIn).toBeGreaterThan(10_000);
    expect(row('transport', egress.transportId)?.bitrateOut).toBeGreaterThan(10_000);
  }, 30_000);
});
