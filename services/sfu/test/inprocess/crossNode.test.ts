import { RedisBus } from '@trellis/bus';
import { loadConfig, sfuConfig } from '@trellis/config';
import {
  CloseProducer,
  ConnectPlainTransport,
  Consume,
  ConsumerClosed,
  CreatePlainTransport,
  GetPeerStats,
  GetRouterCapabilities,
  PauseProducer,
  Produce,
  ResumeConsumer,
} from '@trellis/protocol';
import { createMetricsRegistry } from '@trellis/telemetry';
import { type RedisServer, startRedis, waitFor } from '@trellis/testkit';
import {
  createRtpReceiver,
  openUdpSocket,
  type RtpReceiver,
  sendRtpStream,
  vp8Payload,
} from '@trellis/testkit/media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SfuNode } from '../../src/SfuNode';
import { freePorts, quietLogger, VP8_PT, vp8Parameters } from './fixtures';

const NODES = ['sfu-a', 'sfu-b', 'sfu-c'] as const;
type NodeId = (typeof NODES)[number];

describe('one call across three SFU nodes (in process, plain RTP)', () => {
  let redis: RedisServer;
  let client: RedisBus;
  const nodes = new Map<NodeId, { node: SfuNode; bus: RedisBus }>();
  const receivers: RtpReceiver[] = [];
  const closedConsumers: Array<{ roomId: string; nodeId: string; peerId: string; reason: string }> = [];

  beforeAll(async () => {
    redis = await startRedis();
    const logger = quietLogger();
    const ports = await freePorts(3);
    const connect = (nodeId: string) =>
      RedisBus.connect({
        nodeId,
        redis: { mode: 'single', url: redis.url, keyPrefix: 'trellis:' },
        logger,
        metrics: createMetricsRegistry({ service: 't', nodeId }),
      });
    for (const [i, nodeId] of NODES.entries()) {
      const config = loadConfig(sfuConfig, {
        NODE_ID: nodeId,
        REDIS_URL: redis.url,
        SFU_WORKERS: '1',
        SFU_RTC_PORT: String(ports[i]),
      });
      const bus = await connect(nodeId);
      const node = await SfuNode.create({
        config,
        bus,
        logger,
        metrics: createMetricsRegistry({ service: 'sfu', nodeId }),
      });
      await node.start();
      nodes.set(nodeId, { node, bus });
    }
    client = await connect('signaling-test');
    await client
      .consumeEvents('cross-node-test')
      .on(ConsumerClosed, (p) => {
        closedConsumers.push({ roomId: p.roomId, nodeId: p.nodeId, peerId: p.peerId, reason: p.reason });
      })
      .start();
  });

  afterAll(async () => {
    for (const r of receivers) await r.close();
    for (const { node, bus } of nodes.values()) {
      await node.close();
      await bus.close();
    }
    await client?.close();
    await redis?.stop();
  });

  const on = <C extends Parameters<RedisBus['commands']['request']>[1]>(
    nodeId: NodeId,
    def: C,
    payload: object,
  ) => client.commands.request(nodeId, def, payload as never);

  async function subscribe(nodeId: NodeId, peerId: string, roomId: string, producerId: string) {
    const { rtpCapabilities } = await on(nodeId, GetRouterCapabilities, { roomId });
    const receiver = await createRtpReceiver();
    receivers.push(receiver);
    const t = await on(nodeId, CreatePlainTransport, { roomId, peerId, direction: 'recv' });
    await on(nodeId, ConnectPlainTransport, {
      roomId,
      peerId,
      transportId: t.transportId,
      ip: '127.0.0.1',
      port: receiver.port,
    });
    const c = await on(nodeId, Consume, {
      roomId,
      peerId,
      transportId: t.transportId,
      producerId,
      rtpCapabilities,
      producerNodeId: 'sfu-a',
    });
    await on(nodeId, ResumeConsumer, { roomId, peerId, consumerId: c.consumerId });
    return { receiver, ssrc: c.rtpParameters.encodings![0]!.ssrc! };
  }

  it('pipes a producer from A to B and to C directly, over SRTP, and propagates pause and close', async () => {
    const roomId = 'spanning-call';
    const ingest = await on('sfu-a', CreatePlainTransport, {
      roomId,
      peerId: 'alice',
      direction: 'send',
      comedia: true,
    });
    const { producerId } = await on('sfu-a', Produce, {
      roomId,
      peerId: 'alice',
      transportId: ingest.transportId,
      kind: 'video',
      rtpParameters: vp8Parameters(0x3333),
    });
    // A local subscriber on A as the baseline, and one on each other node.
    const atA = await subscribe('sfu-a', 'amy', roomId, producerId);
    const atB = await subscribe('sfu-b', 'bob', roomId, producerId);
    const atC = await subscribe('sfu-c', 'carol', roomId, producerId);

    // C pipes from A itself, not through B: A holds a pair to each, B and C only to A.
    const spanOf = (id: NodeId) => nodes.get(id)!.node.room(roomId).span.nodeIds.sort();
    expect(spanOf('sfu-a')).toEqual(['sfu-b', 'sfu-c']);
    expect(spanOf('sfu-b')).toEqual(['sfu-a']);
    expect(spanOf('sfu-c')).toEqual(['sfu-a']);
    const pipe = await nodes.get('sfu-b')!.node.room(roomId).span.linkTo('sfu-a');
    expect(pipe.transport.srtpParameters?.cryptoSuite).toMatch(/AES/);

    const socket = await openUdpSocket();
    await sendRtpStream({
      host: ingest.ip,
      port: ingest.port,
      count: 200,
      intervalMs: 5,
      payloadType: VP8_PT,
      ssrc: 0x3333,
      payload: vp8Payload(),
      socket,
    });
    for (const [name, at] of [
      ['A', atA],
      ['B', atB],
      ['C', atC],
    ] as const) {
      await waitFor(() => at.receiver.countBySsrc(at.ssrc) >= 190, {
        what: `subscriber on ${name} to receive the stream`,
      });
    }

    await on('sfu-a', PauseProducer, { roomId, peerId: 'alice', producerId });
    for (const [nodeId, peerId] of [
      ['sfu-b', 'bob'],
      ['sfu-c', 'carol'],
    ] as const) {
      await waitFor(
        async () =>
          (await on(nodeId, GetPeerStats, { roomId, peerId })).consumers[0]?.producerPaused === true,
        {
          what: `the pause to reach ${nodeId}`,
        },
      );
    }

    await on('sfu-a', CloseProducer, { roomId, peerId: 'alice', producerId });
    await waitFor(() => closedConsumers.filter((c) => c.reason === 'producer-closed').length === 3, {
      what: 'the consumers on all three nodes to close',
    });
    expect(closedConsumers.map((c) => c.nodeId).sort()).toEqual(['sfu-a', 'sfu-b', 'sfu-c']);
    socket.close();
  }, 30_000);

  it('opens one pair when two nodes need each other at the same moment', async () => {
    const roomId = 'simultaneous-call';
    const produceOn = async (nodeId: NodeId, peerId: string, ssrc: number) => {
      const t = await on(nodeId, CreatePlainTransport, { roomId, peerId, direction: 'send', comedia: true });
      return (
        await on(nodeId, Produce, {
          roomId,
          peerId,
          transportId: t.transportId,
          kind: 'video',
          rtpParameters: vp8Parameters(ssrc),
        })
      ).producerId;
    };
    const onB = await produceOn('sfu-b', 'bea', 0x5551);
    const onC = await produceOn('sfu-c', 'cal', 0x5552);
    const consumeFrom = async (
      nodeId: NodeId,
      peerId: string,
      producerId: string,
      producerNodeId: NodeId,
    ) => {
      const { rtpCapabilities } = await on(nodeId, GetRouterCapabilities, { roomId });
      const t = await on(nodeId, CreatePlainTransport, { roomId, peerId, direction: 'recv' });
      return on(nodeId, Consume, {
        roomId,
        peerId,
        transportId: t.transportId,
        producerId,
        rtpCapabilities,
        producerNodeId,
      });
    };
    const started = Date.now();
    // B needs C's producer while C needs B's: both start opening a pair towards the other.
    await Promise.all([consumeFrom('sfu-b', 'bea', onC, 'sfu-c'), consumeFrom('sfu-c', 'cal', onB, 'sfu-b')]);
    expect(Date.now() - started).toBeLessThan(5000);
    const linkOn = (id: NodeId, other: NodeId) => nodes.get(id)!.node.room(roomId).span.linkTo(other);
    expect((await linkOn('sfu-b', 'sfu-c')).linkId).toBe((await linkOn('sfu-c', 'sfu-b')).linkId);
    expect(nodes.get('sfu-b')!.node.room(roomId).span.nodeIds).toEqual(['sfu-c']);
  }, 30_000);

  it('re-establishes a broken pipe: a new pair replaces the old one and media flows again', async () => {
    const roomId = 'broken-pipe-call';
    const ingest = await on('sfu-a', CreatePlainTransport, {
      roomId,
      peerId: 'alice',
      direction: 'send',
      comedia: true,
    });
    const { producerId } = await on('sfu-a', Produce, {
      roomId,
      peerId: 'alice',
      transportId: ingest.transportId,
      kind: 'video',
      rtpParameters: vp8Parameters(0x4444),
    });
    const first = await subscribe('sfu-b', 'bob', roomId, producerId);
    const spanB = nodes.get('sfu-b')!.node.room(roomId).span;
    const oldPair = await spanB.linkTo('sfu-a');
    // B loses its end (as after a local failure) without A hearing of it: A still holds the old pair.
    await spanB.drop('sfu-a', false);
    expect(oldPair.closed).toBe(true);
    const again = await subscribe('sfu-b', 'bert', roomId, producerId);
    const newPair = await spanB.linkTo('sfu-a');
    expect(newPair.linkId).not.toBe(oldPair.linkId);
    // A swapped its end for the new pair: still exactly one pair between the two nodes.
    const onA = await nodes.get('sfu-a')!.node.room(roomId).span.linkTo('sfu-b');
    expect(onA.linkId).toBe(newPair.linkId);

    const socket = await openUdpSocket();
    await sendRtpStream({
      host: ingest.ip,
      port: ingest.port,
      count: 150,
      intervalMs: 5,
      payloadType: VP8_PT,
      ssrc: 0x4444,
      payload: vp8Payload(),
      socket,
    });
    socket.close();
    await waitFor(() => again.receiver.countBySsrc(again.ssrc) >= 140, {
      what: 'media over the re-established pipe',
    });
    // The consumer on the broken pair was closed with it, not left silent.
    expect(first.receiver.countBySsrc(first.ssrc)).toBe(0);
    await waitFor(
      () =>
        closedConsumers.some(
          (c) => c.roomId === roomId && c.peerId === 'bob' && c.reason === 'producer-closed',
        ),
      {
        what: 'the consumer of the broken pipe to close',
      },
    );
  }, 30_000);
});
