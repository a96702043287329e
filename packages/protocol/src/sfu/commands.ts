import { z } from 'zod';
import { defineCommand } from '../catalog';
import {
  AppData,
  ConsumerLayers,
  DtlsParameters,
  IceCandidate,
  IceParameters,
  MediaId,
  MediaKind,
  PeerId,
  RoomId,
  RtpCapabilities,
  RtpParameters,
  SctpParameters,
} from './media';

/**
 * Commands an SFU node serves on `cmd:{nodeId}`. Every one names its room and peer: the node keeps
 * one Router per room, and a peer owns the transports, producers and consumers it made, so a peer
 * can never touch another peer's objects.
 */
const PeerScope = { roomId: RoomId, peerId: PeerId };

export const GetRouterCapabilities = defineCommand({
  type: 'sfu.get-router-capabilities',
  request: z.object({ roomId: RoomId }),
  reply: z.object({ rtpCapabilities: RtpCapabilities }),
});

export const CreateWebRtcTransport = defineCommand({
  type: 'sfu.create-webrtc-transport',
  request: z.object({
    ...PeerScope,
    direction: z.enum(['send', 'recv']),
    /** Ask for TCP candidates first: for networks that block UDP. */
    preferTcp: z.boolean().default(false),
    enableSctp: z.boolean().default(false),
    appData: AppData.optional(),
  }),
  reply: z.object({
    transportId: MediaId,
    iceParameters: IceParameters,
    iceCandidates: z.array(IceCandidate),
    dtlsParameters: DtlsParameters,
    sctpParameters: SctpParameters.optional(),
  }),
});

export const ConnectTransport = defineCommand({
  type: 'sfu.connect-transport',
  request: z.object({ ...PeerScope, transportId: MediaId, dtlsParameters: DtlsParameters }),
  reply: z.object({ transportId: MediaId }),
});

/**
 * Plain RTP (no ICE/DTLS) for server-side ingest and egress — recorders, RTMP/WHIP gateways,
 * load generators — on loopback or a private network.
 */
export const CreatePlainTransport = defineCommand({
  type: 'sfu.create-plain-transport',
  request: z.object({
    ...PeerScope,
    direction: z.enum(['send', 'recv']),
    /** Learn the remote address from the first packet (ingest from a sender behind NAT). */
    comedia: z.boolean().default(false),
    rtcpMux: z.boolean().default(true),
    enableSrtp: z.boolean().default(false),
    appData: AppData.optional(),
  }),
  reply: z.object({
    transportId: MediaId,
    ip: z.string(),
    port: z.number().int(),
    rtcpPort: z.number().int().optional(),
    srtpParameters: z.looseObject({ cryptoSuite: z.string(), keyBase64: z.string() }).optional(),
  }),
});

export const ConnectPlainTransport = defineCommand({
  type: 'sfu.connect-plain-transport',
  request: z.object({
    ...PeerScope,
    transportId: MediaId,
    ip: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    rtcpPort: z.number().int().min(1).max(65535).optional(),
    srtpParameters: z.looseObject({ cryptoSuite: z.string(), keyBase64: z.string() }).optional(),
  }),
  reply: z.object({ transportId: MediaId }),
});

export const RestartIce = defineCommand({
  type: 'sfu.restart-ice',
  request: z.object({ ...PeerScope, transportId: MediaId }),
  reply: z.object({ iceParameters: IceParameters }),
});

export const Produce = defineCommand({
  type: 'sfu.produce',
  request: z.object({
    ...PeerScope,
    transportId: MediaId,
    kind: MediaKind,
    rtpParameters: RtpParameters,
    paused: z.boolean().default(false),
    appData: AppData.optional(),
  }),
  reply: z.object({ producerId: MediaId }),
});

const ProducerScope = { ...PeerScope, producerId: MediaId };
export const PauseProducer = defineCommand({
  type: 'sfu.pause-producer',
  request: z.object(ProducerScope),
  reply: z.object({ producerId: MediaId, paused: z.boolean() }),
});
export const ResumeProducer = defineCommand({
  type: 'sfu.resume-producer',
  request: z.object(ProducerScope),
  reply: z.object({ producerId: MediaId, paused: z.boolean() }),
});
export const CloseProducer = defineCommand({
  type: 'sfu.close-producer',
  request: z.object(ProducerScope),
  reply: z.object({ producerId: MediaId }),
});

export const Consume = defineCommand({
  type: 'sfu.consume',
  request: z.object({
    ...PeerScope,
    transportId: MediaId,
    producerId: MediaId,
    /** The receiving device's capabilities: consuming is refused (CANNOT_CONSUME) if it can't decode. */
    rtpCapabilities: RtpCapabilities,
    preferredLayers: ConsumerLayers.optional(),
    /** The node the producer lives on, when it is another node: the call spans nodes. */
    producerNodeId: z.string().optional(),
    appData: AppData.optional(),
  }),
  reply: z.object({
    consumerId: MediaId,
    producerId: MediaId,
    kind: MediaKind,
    rtpParameters: RtpParameters,
    type: z.enum(['simple', 'simulcast', 'svc', 'pipe']),
    /** Consumers start paused; the client resumes once its track is ready, so no keyframe is wasted. */
    paused: z.boolean(),
    producerPaused: z.boolean(),
  }),
});

const ConsumerScope = { ...PeerScope, consumerId: MediaId };
export const PauseConsumer = defineCommand({
  type: 'sfu.pause-consumer',
  request: z.object(ConsumerScope),
  reply: z.object({ consumerId: MediaId, paused: z.boolean() }),
});
export const ResumeConsumer = defineCommand({
  type: 'sfu.resume-consumer',
  request: z.object(ConsumerScope),
  reply: z.object({ consumerId: MediaId, paused: z.boolean() }),
});

export const SetConsumerPreferences = defineCommand({
  type: 'sfu.set-consumer-preferences',
  request: z
    .object({
      ...ConsumerScope,
      preferredLayers: ConsumerLayers.optional(),
      /** Bandwidth share under congestion, 1-255: the active speaker's video gets more. */
      priority: z.number().int().min(1).max(255).optional(),
    })
    .refine((r) => r.preferredLayers !== undefined || r.priority !== undefined, {
      message: 'give preferredLayers, priority or both',
    }),
  reply: z.object({
    consumerId: MediaId,
    preferredLayers: ConsumerLayers.optional(),
    priority: z.number().int(),
  }),
});

const StatsRecord = z.record(z.string(), z.unknown());
export const GetPeerStats = defineCommand({
  type: 'sfu.get-peer-stats',
  request: z.object(PeerScope),
  reply: z.object({
    transports: z.array(z.object({ id: MediaId, stats: z.array(StatsRecord) })),
    producers: z.array(
      z.object({ id: MediaId, kind: MediaKind, score: z.array(StatsRecord), stats: z.array(StatsRecord) }),
    ),
    consumers: z.array(
      z.object({
        id: MediaId,
        producerId: MediaId,
        kind: MediaKind,
        paused: z.boolean(),
        producerPaused: z.boolean(),
        currentLayers: ConsumerLayers.optional(),
        stats: z.array(StatsRecord),
      }),
    ),
  }),
});

export const ClosePeer = defineCommand({
  type: 'sfu.close-peer',
  request: z.object(PeerScope),
  reply: z.object({ closed: z.boolean() }),
});

/** Operator command: stop taking calls, move the participants away after `maxMs`, then exit. */
export const DrainNode = defineCommand({
  type: 'sfu.drain',
  request: z.object({ maxMs: z.number().int().min(0).max(3_600_000).optional() }),
  reply: z.object({
    state: z.enum(['starting', 'serving', 'draining', 'stopped']),
    deadline: z.number().int(),
  }),
});

export const sfuCommands = [
  GetRouterCapabilities,
  CreateWebRtcTransport,
  ConnectTransport,
  CreatePlainTransport,
  ConnectPlainTransport,
  RestartIce,
  Produce,
  PauseProducer,
  ResumeProducer,
  CloseProducer,
  Consume,
  PauseConsumer,
  ResumeConsumer,
  SetConsumerPreferences,
  GetPeerStats,
  ClosePeer,
  DrainNode,
] as const;
