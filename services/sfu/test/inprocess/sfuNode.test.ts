import { RedisBus } from '@trellis/bus';
import { loadConfig, sfuConfig } from '@trellis/config';
import {
  ClosePeer,
  ConnectPlainTransport,
  ConnectTransport,
  CreatePlainTransport,
  CreateWebRtcTransport,
  GetPeerStats,
  GetRouterCapabilities,
  PauseProducer,
  Produce,
  ProducerAdded,
  ProducerPaused,
  ProducerResumed,
  ResumeConsumer,
  ResumeProducer,
  RoomClosed,
  SetConsumerPreferences,
  type TrellisError,
} from '@trellis/protocol';
import { createMetricsRegistry } from '@trellis/telemetry';
import { type RedisServer, startRedis, waitFor } from '@trellis/testkit';
import { openUdpSocket, sendRtpStream, vp8Payload } from '@trellis/testkit/media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SfuNode } from '../../src/SfuNode';
import { commandsTo, freePorts, plainRtpPair, quietLogger, VP8_PT } from './fixtures';

describe('SfuNode served over the bus (in process)', () => {
  let redis: RedisServer;
  let nodeBus: RedisBus;
  let client: RedisBus;
  let node: SfuNode;
  const sfuMetrics = createMetricsRegistry({ service: 'sfu', nodeId: 'sfu-inproc' });
  const events: Array<{ type: string; payload: Record<string, unknown> }> = [];

  beforeAll(async () => {
    redis = await startRedis();
    const [port] = await freePorts(1);
    const config = loadConfig(sfuConfig, {
      NODE_ID: 'sfu-inproc',
      REDIS_URL: redis.url,
      SFU_WORKERS: '1',
      SFU_RTC_PORT: String(port),
      SFU_HEARTBEAT_INTERVAL_MS: '200',
      SFU_HEARTBEAT_TTL_MS: '1000',
    });
    const logger = quietLogger();
    const connect = (nodeId: string) =>
      RedisBus.connect({
        nodeId,
        redis: config.redis,
        logger,
        metrics: createMetricsRegistry({ service: 't', nodeId }),
      });
    nodeBus = await connect('sfu-inproc');
    client = await connect('signaling-test');
    node = await SfuNode.create({
      config,
      bus: nodeBus,
      logger,
      metrics: sfuMetrics,
    });
    await node.start();
    const source = client.consumeEvents('inproc-test');
    for (const def of [ProducerAdded, ProducerPaused, ProducerResumed, RoomClosed]) {
      source.on(def, (payload) => {
        events.push({ type: def.type, payload: payload as Record<string, unknown> });
      });
    }
    await source.start();
  });

  afterAll(async () => {
    await node?.close();
    await client?.close();
    await nodeBus?.close();
    await redis?.stop();
  });

  const call = commandsTo(() => client, 'sfu-inproc');

  it('forwards plain RTP between peers set up entirely through bus commands, and reports it', async () => {
    const roomId = 'call-1';
    const { ingest, producerId, receiver, consumer } = await plainRtpPair(call, roomId, 0x2222);
    expect(consumer).toMatchObject({ paused: true, kind: 'video', type: 'simple' });
    await call(ResumeConsumer, { roomId, peerId: 'sub', consumerId: consumer.consumerId });
    await call(SetConsumerPreferences, {
      roomId,
      peerId: 'sub',
      consumerId: consumer.consumerId,
      priority: 200,
    });

    const socket = await openUdpSocket();
    await sendRtpStream({
      host: ingest.ip,
      port: ingest.port,
      count: 150,
      intervalMs: 5,
      payloadType: VP8_PT,
      ssrc: 0x2222,
      payload: vp8Payload(),
      socket,
    });
    socket.close();
    await waitFor(() => receiver.rtpPackets >= 140, { what: 'forwarded RTP at the subscriber' });
    await receiver.close();

    const stats = await call(GetPeerStats, { roomId, peerId: 'sub' });
    expect(stats.consumers[0]).toMatchObject({ producerId, paused: false });
    expect(stats.consumers[0]!.stats.length).toBeGreaterThan(0);
    // The scrape reads the same stats: media in and out, one inbound and one outbound stream.
    const scraped = await sfuMetrics.registry.getMetricsAsJSON();
    const value = (name: string, labels: Record<string, string> = {}) =>
      scraped
        .find((m) => m.name === name)
        ?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
    expect(value('trellis_sfu_bitrate_bps', { direction: 'in' })).toBeGreaterThan(0);
    expect(value('trellis_sfu_sampled_streams')).toBe(2);
    expect(value('trellis_sfu_packet_loss_ratio', { direction: 'in' })).toBe(0);
    expect(value('trellis_sfu_node_state', { state: 'serving' })).toBe(1);

    await call(PauseProducer, { roomId, peerId: 'pub', producerId });
    await call(ResumeProducer, { roomId, peerId: 'pub', producerId });
    await waitFor(() => events.some((e) => e.type === ProducerResumed.type), { what: 'pause/resume events' });
    expect(events.filter((e) => e.payload.roomId === roomId).map((e) => e.type)).toEqual([
      ProducerAdded.type,
      ProducerPaused.type,
      ProducerResumed.type,
    ]);

    const described = await node.describe();
    expect(described).toMatchObject({ nodeId: 'sfu-inproc', kind: 'sfu', state: 'serving' });
    expect(described.workers[0]).toMatchObject({ routers: 1, producers: 1, consumers: 1 });
    expect((await client.registry.get('sfu-inproc'))?.state).toBe('serving');

    expect(await call(ClosePeer, { roomId, peerId: 'sub' })).toEqual({ closed: true });
    expect(await call(ClosePeer, { roomId, peerId: 'sub' })).toEqual({ closed: false });
    await call(ClosePeer, { roomId, peerId: 'pub' });
    await waitFor(() => events.some((e) => e.type === RoomClosed.type && e.payload.roomId === roomId), {
      what: 'room closed',
    });
    expect(node.rooms.has(roomId)).toBe(false);
  }, 30_000);

  it('answers bad commands with typed errors and keeps serving', async () => {
    const codeOf = (promise: Promise<unknown>) =>
      promise.then(
        () => 'resolved',
        (e: TrellisError) => e.code,
      );
    expect(
      await codeOf(
        call(ConnectTransport, {
          roomId: 'nowhere',
          peerId: 'p',
          transportId: 't',
          dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] },
        }),
      ),
    ).toBe('ROOM_NOT_FOUND');
    const t = await call(CreateWebRtcTransport, { roomId: 'call-2', peerId: 'p', direction: 'send' });
    expect(t.iceCandidates.map((c) => c.protocol).sort()).toEqual(['tcp', 'udp']);
    expect(
      await codeOf(
        call(ConnectTransport, {
          roomId: 'call-2',
          peerId: 'q',
          transportId: t.transportId,
          dtlsParameters: t.dtlsParameters,
        }),
      ),
    ).toBe('PEER_NOT_FOUND');
    expect(
      await codeOf(
        call(ConnectPlainTransport, {
          roomId: 'call-2',
          peerId: 'p',
          transportId: t.transportId,
          ip: '127.0.0.1',
          port: 9,
        }),
      ),
    ).toBe('CONFLICT');
    expect(
      await codeOf(
        call(Produce, {
          roomId: 'call-2',
          peerId: 'p',
          transportId: t.transportId,
          kind: 'video',
          rtpParameters: { codecs: [{ mimeType: 'video/NOPE', payloadType: 100, clockRate: 90000 }] },
        }),
      ),
    ).toBe('UNSUPPORTED_MEDIA');
    expect(
      await codeOf(
        call(Produce, { roomId: 'call-2', peerId: 'p', transportId: t.transportId, kind: 'video' } as never),
      ),
    ).toBe('VALIDATION_FAILED');
    await call(ClosePeer, { roomId: 'call-2', peerId: 'p' });
    const again = await call(GetRouterCapabilities, { roomId: 'call-3' });
    expect(again.rtpCapabilities.codecs?.some((c) => c.mimeType === 'video/VP8')).toBe(true);
  });

  it('closes its rooms and leaves the registry when it stops', async () => {
    await call(CreatePlainTransport, { roomId: 'call-4', peerId: 'p', direction: 'send' });
    await node.close();
    expect(node.state).toBe('stopped');
    expect(await client.registry.get('sfu-inproc')).toBeUndefined();
    await waitFor(
      () =>
        events.some(
          (e) =>
            e.type === RoomClosed.type &&
            e.payload.roomId === 'call-4' &&
            e.payload.reason === 'node-stopping',
        ),
      {
        what: 'room closed by the node stopping',
      },
    );
    await expect(node.getOrCreateRoom('call-5')).rejects.toMatchObject({ code: 'NODE_DRAINING' });
  });
});
