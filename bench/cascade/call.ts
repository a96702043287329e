// One call spread over the cluster's nodes, built through bus commands as signaling would: each
// participant is a peer on its node that publishes VP8 + Opus (a comedia PlainTransport fed by the
// load generator's replay of the clip) and consumes every other participant's audio and a rotating
// selection of videos. A consumer of a producer on another node names it (producerNodeId), so the
// subscriber's node pipes the producer in from there.
//
// "Probe" participants receive for real, on two sockets: one for streams whose publisher is on the
// same node, one for streams that crossed a pipe, so each has its own latency histogram. The others'
// transports send to a sink where the kernel drops the packets (sink.ts): the SFU does the same work
// for them, and the load generator, which shares this machine, does not read them.
import {
  ClosePeer,
  ConnectPlainTransport,
  Consume,
  CreatePlainTransport,
  GetRouterCapabilities,
  Produce,
  ResumeConsumer,
} from '@trellis/protocol';
import { producerParameters } from '../sfu-forwarding/drivers';
import type { CapturedMedia } from '../sfu-forwarding/media';
import { offsetFor, randomSsrc } from '../sfu-forwarding/scenario';
import { type OutStream, Pacer, type Publisher, type Subscriber, Traffic } from '../sfu-forwarding/traffic';
import { mapLimit } from '../sfu-forwarding/util';
import type { Cluster } from './cluster';
import { openSink, type SinkKind } from './sink';

export interface CallPlan {
  roomId: string;
  participants: number;
  /** Node of participant i: nodeIds[i % nodeIds.length] (17/17/16 for 50 over 3). */
  nodeIds: readonly string[];
  /** Videos each participant receives: the next video publishers after it, in index order. */
  videosPerSubscriber: number;
  /** Participants that are measured receivers; the others send to the sink. */
  probes: ReadonlySet<number>;
  /**
   * 'by-node': subscribers are set up one node at a time (each pipe pair is opened from one side);
   * 'concurrent': all at once, so two nodes may open a pair towards each other at the same moment.
   */
  setup: 'by-node' | 'concurrent';
  sink: SinkKind;
}

export interface Participant {
  index: number;
  peerId: string;
  nodeId: string;
  publisher: Publisher;
  producerIds: { video: string; audio: string };
}

/** Every consumer of the call (probes' and sinks'), with where its media comes from. */
export interface ConsumerEntry {
  subscriber: number;
  nodeId: string;
  sourceNodeId: string;
  producerId: string;
  kind: 'audio' | 'video';
  source: OutStream;
}

export interface BuiltCall {
  plan: CallPlan;
  participants: Participant[];
  consumers: ConsumerEntry[];
  /** PlainTransports made on each node (send + recv, two recv for probes): pipes are the rest. */
  plainTransports: Record<string, number>;
  /** The probes' receiving sockets (to tell their drops from the SFUs' in /proc/net/udp). */
  probePorts: number[];
  sinkPort: number;
  /** The publishers' replay; the probes' receivers, split by whether the stream crossed a pipe. */
  traffic: { publishers: Traffic; sameNode: Traffic; crossNode: Traffic };
  setup_s: number;
  close(): Promise<void>;
}

/** Parallel bus commands per participant, and participants set up at once. */
const COMMANDS_IN_FLIGHT = 16;
const PARTICIPANTS_IN_FLIGHT = 6;

/** Which participants' videos participant `s` receives: the next ones after it, wrapping. */
export function videoSources(s: number, participants: number, videos: number): number[] {
  const picked: number[] = [];
  for (let k = 1; k < participants && picked.length < videos; k++) picked.push((s + k) % participants);
  return picked;
}

export async function buildCall(cluster: Cluster, media: CapturedMedia, plan: CallPlan): Promise<BuiltCall> {
  const started = performance.now();
  const pacer = new Pacer();
  const traffic = {
    publishers: new Traffic(media, pacer),
    sameNode: new Traffic(media, pacer),
    crossNode: new Traffic(media, pacer),
  };
  const { roomId } = plan;
  const nodeOf = (i: number) => plan.nodeIds[i % plan.nodeIds.length]!;
  const plainTransports: Record<string, number> = Object.fromEntries(plan.nodeIds.map((n) => [n, 0]));
  const participants: Participant[] = [];
  const consumers: ConsumerEntry[] = [];
  const probePorts: number[] = [];
  const joined = new Set<number>();
  const sink = await openSink(plan.sink);
  const close = async () => {
    await Promise.all(Object.values(traffic).map((t) => t.close()));
    await sink.close();
    await mapLimit([...joined], COMMANDS_IN_FLIGHT, (i) =>
      cluster.request(nodeOf(i), ClosePeer, { roomId, peerId: `p${i}` }).catch(() => undefined),
    );
  };
  try {
    const getCapabilities = (nodeId: string) => cluster.request(nodeId, GetRouterCapabilities, { roomId });
    const capabilities = new Map<string, Awaited<ReturnType<typeof getCapabilities>>>();
    for (const nodeId of plan.nodeIds) capabilities.set(nodeId, await getCapabilities(nodeId));
    traffic.publishers.start();

    // Publishers first: every producer exists before anyone consumes.
    const indices = Array.from({ length: plan.participants }, (_, i) => i);
    await mapLimit(indices, PARTICIPANTS_IN_FLIGHT, async (i) => {
      const nodeId = nodeOf(i);
      const peerId = `p${i}`;
      joined.add(i);
      const ingest = await cluster.request(nodeId, CreatePlainTransport, {
        roomId,
        peerId,
        direction: 'send',
        comedia: true,
        rtcpMux: true,
        enableSrtp: false,
      });
      plainTransports[nodeId]!++;
      const ssrcs = { video: randomSsrc(), audio: randomSsrc() };
      const produce = (kind: 'video' | 'audio') =>
        cluster.request(nodeId, Produce, {
          roomId,
          peerId,
          transportId: ingest.transportId,
          kind,
          rtpParameters: producerParameters(media[kind], ssrcs[kind]) as never,
          paused: false,
        });
      const [video, audio] = await Promise.all([produce('video'), produce('audio')]);
      const publisher = await traffic.publishers.addPublisher(
        { ip: ingest.ip, port: ingest.port },
        ssrcs,
        offsetFor(i),
      );
      participants[i] = {
        index: i,
        peerId,
        nodeId,
        publisher,
        producerIds: { video: video.producerId, audio: audio.producerId },
      };
    });

    const subscribe = async (s: number) => {
      const nodeId = nodeOf(s);
      const peerId = `p${s}`;
      const recv = async (remotePort: number) => {
        const t = await cluster.request(nodeId, CreatePlainTransport, {
          roomId,
          peerId,
          direction: 'recv',
          comedia: false,
          rtcpMux: true,
          enableSrtp: false,
        });
        plainTransports[nodeId]!++;
        await cluster.request(nodeId, ConnectPlainTransport, {
          roomId,
          peerId,
          transportId: t.transportId,
          ip: '127.0.0.1',
          port: remotePort,
        });
        return t.transportId;
      };
      const probe = plan.probes.has(s);
      let same: { sub: Subscriber; transportId: string } | undefined;
      let cross: typeof same;
      let sinkTransport: string | undefined;
      if (probe) {
        const a = await traffic.sameNode.addSubscriber();
        const b = await traffic.crossNode.addSubscriber();
        probePorts.push(a.port, b.port);
        same = { sub: a, transportId: await recv(a.port) };
        cross = { sub: b, transportId: await recv(b.port) };
      } else {
        sinkTransport = await recv(sink.port);
      }
      const wanted = [
        ...indices.filter((p) => p !== s).map((p) => ({ p, kind: 'audio' as const })),
        ...videoSources(s, plan.participants, plan.videosPerSubscriber).map((p) => ({
          p,
          kind: 'video' as const,
        })),
      ];
      const made = await mapLimit(wanted, COMMANDS_IN_FLIGHT, async ({ p, kind }) => {
        const from = participants[p]!;
        const local = from.nodeId === nodeId;
        const to = probe ? (local ? same! : cross!) : undefined;
        const reply = await cluster.request(nodeId, Consume, {
          roomId,
          peerId,
          transportId: to ? to.transportId : sinkTransport!,
          producerId: from.producerIds[kind],
          rtpCapabilities: capabilities.get(nodeId)!.rtpCapabilities,
          ...(local ? {} : { producerNodeId: from.nodeId }),
        });
        const source = from.publisher[kind];
        to?.sub.expect(Number(reply.rtpParameters.encodings?.[0]?.ssrc), source, `${nodeId}<${from.nodeId}`);
        consumers.push({
          subscriber: s,
          nodeId,
          sourceNodeId: from.nodeId,
          producerId: from.producerIds[kind],
          kind,
          source,
        });
        return reply.consumerId;
      });
      await mapLimit(made, COMMANDS_IN_FLIGHT, (consumerId) =>
        cluster.request(nodeId, ResumeConsumer, { roomId, peerId, consumerId }),
      );
    };
    if (plan.setup === 'concurrent') {
      await mapLimit(indices, PARTICIPANTS_IN_FLIGHT, subscribe);
    } else {
      // One node's subscribers at a time: that node opens its missing pipe pairs while no other node
      // is opening one towards it (simultaneous opens hit a race in RoomSpan: see repro-pipe-race.ts).
      for (const nodeId of plan.nodeIds) {
        await mapLimit(
          indices.filter((i) => nodeOf(i) === nodeId),
          PARTICIPANTS_IN_FLIGHT,
          subscribe,
        );
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    plan,
    participants,
    consumers,
    plainTransports,
    probePorts,
    sinkPort: sink.port,
    traffic,
    setup_s: (performance.now() - started) / 1000,
    close,
  };
}

/** Per node: consumers this call should hold there, and the pipe pairs it should need. */
export function expectedLayout(call: BuiltCall): Record<string, { consumers: number; pipes: number }> {
  const layout: Record<string, { consumers: number; pipes: number }> = {};
  const links = new Set<string>();
  const exported = new Set<string>();
  for (const nodeId of call.plan.nodeIds) layout[nodeId] = { consumers: 0, pipes: 0 };
  for (const c of call.consumers) {
    layout[c.nodeId]!.consumers++;
    if (c.sourceNodeId === c.nodeId) continue;
    links.add([c.nodeId, c.sourceNodeId].sort().join('|'));
    // The producing node consumes each producer once per importing node, on its pipe.
    const key = `${c.producerId}>${c.nodeId}`;
    if (!exported.has(key)) {
      exported.add(key);
      layout[c.sourceNodeId]!.consumers++;
    }
  }
  for (const link of links) for (const nodeId of link.split('|')) layout[nodeId]!.pipes++;
  return layout;
}
