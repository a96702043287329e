import { z } from 'zod';
import { Consume, CreateWebRtcTransport } from '../sfu/commands';
import {
  AppData,
  ConsumerLayers,
  DtlsParameters,
  MediaId,
  MediaKind,
  PeerId,
  RoomId,
  RtpCapabilities,
  RtpParameters,
} from '../sfu/media';
import { defineRequest } from './define';
import { historyRequests } from './history';
import { mediaControlRequests } from './mediaControl';
import { CallMode, IceServer, MediaPath, RoomSnapshot } from './state';

/**
 * The client API: the seed's nine requests (create/join room, room state with router capabilities,
 * create transport, connect transport, produce, consume, resume consumer, close producer, leave)
 * plus what the P2P↔SFU switch needs (path ready, P2P relay). Every request names its room in the
 * path; it must be the token's room.
 */
const InRoom = { roomId: RoomId };

const normal = { points: 30, perSeconds: 1 } as const;
const media = { points: 100, perSeconds: 1 } as const;

export const CreateRoom = defineRequest({
  name: 'createRoom',
  summary: 'Create a room ahead of its first participant (idempotent)',
  http: { method: 'POST', path: '/v1/rooms/{roomId}' },
  access: 'admin',
  rateLimit: { points: 10, perSeconds: 1 },
  request: z.object({ ...InRoom, maxParticipants: z.number().int().min(2).max(50).default(50) }),
  reply: z.object({ roomId: RoomId, created: z.boolean(), maxParticipants: z.number().int() }),
});

export const JoinRoom = defineRequest({
  name: 'join',
  summary: "Join the token's room as its identity (creating the room on first join), or resume a session",
  http: { method: 'POST', path: '/v1/rooms/{roomId}/participants' },
  access: 'none',
  rateLimit: { points: 5, perSeconds: 1 },
  request: z.object({
    ...InRoom,
    /** The session a reconnecting client had: within the grace period it gets its participant back. */
    resumeSessionId: z.string().uuid().optional(),
  }),
  reply: z.object({
    participantId: PeerId,
    sessionId: z.string(),
    resumed: z.boolean(),
    iceServers: z.array(IceServer),
    room: RoomSnapshot,
  }),
});

export const GetRoom = defineRequest({
  name: 'getRoom',
  summary: "The room's mode, participants and producers, and the caller's SFU router capabilities",
  http: { method: 'GET', path: '/v1/rooms/{roomId}' },
  access: 'participant',
  rateLimit: normal,
  request: z.object(InRoom),
  reply: RoomSnapshot,
});

export const CreateTransport = defineRequest({
  name: 'createTransport',
  summary: "Create a WebRTC transport on the caller's SFU node",
  http: { method: 'POST', path: '/v1/rooms/{roomId}/transports' },
  access: 'participant',
  rateLimit: { points: 10, perSeconds: 1 },
  request: z.object({
    ...InRoom,
    direction: z.enum(['send', 'recv']),
    preferTcp: z.boolean().default(false),
  }),
  reply: CreateWebRtcTransport.reply.omit({ sctpParameters: true }).extend({ nodeId: z.string() }),
});

export const ConnectTransport = defineRequest({
  name: 'connectTransport',
  summary: 'Complete DTLS on a transport the caller created',
  http: { method: 'POST', path: '/v1/rooms/{roomId}/transports/{transportId}/connect' },
  access: 'participant',
  rateLimit: normal,
  request: z.object({ ...InRoom, transportId: MediaId, dtlsParameters: DtlsParameters }),
  reply: z.object({ transportId: MediaId }),
});

export const Produce = defineRequest({
  name: 'produce',
  summary: 'Publish a track on a send transport',
  http: { method: 'POST', path: '/v1/rooms/{roomId}/producers' },
  access: 'publish',
  rateLimit: normal,
  request: z.object({
    ...InRoom,
    transportId: MediaId,
    kind: MediaKind,
    rtpParameters: RtpParameters,
    paused: z.boolean().default(false),
    appData: AppData.optional(),
  }),
  reply: z.object({ producerId: MediaId }),
});

export const ConsumeProducer = defineRequest({
  name: 'consume',
  summary: "Receive another participant's producer on a recv transport (starts paused)",
  http: { method: 'POST', path: '/v1/rooms/{roomId}/consumers' },
  access: 'subscribe',
  rateLimit: media,
  request: z.object({
    ...InRoom,
    transportId: MediaId,
    producerId: MediaId,
    rtpCapabilities: RtpCapabilities,
    preferredLayers: ConsumerLayers.optional(),
  }),
  reply: Consume.reply.extend({ participantId: PeerId }),
});

export const ResumeConsumer = defineRequest({
  name: 'resumeConsumer',
  summary: 'Start a consumer once its track is ready to render',
  http: { method: 'POST', path: '/v1/rooms/{roomId}/consumers/{consumerId}/resume' },
  access: 'subscribe',
  rateLimit: media,
  request: z.object({ ...InRoom, consumerId: MediaId }),
  reply: z.object({ consumerId: MediaId, paused: z.boolean() }),
});

export const CloseProducer = defineRequest({
  name: 'closeProducer',
  summary: "Stop publishing one of the caller's tracks",
  http: { method: 'DELETE', path: '/v1/rooms/{roomId}/producers/{producerId}' },
  access: 'publish',
  rateLimit: normal,
  request: z.object({ ...InRoom, producerId: MediaId }),
  reply: z.object({ producerId: MediaId }),
});

export const ReleaseNode = defineRequest({
  name: 'releaseNode',
  summary:
    "After moving to another SFU node: free the caller's old path on the node it left (its producers close for everyone)",
  http: { method: 'POST', path: '/v1/rooms/{roomId}/nodes/{nodeId}/release' },
  access: 'participant',
  rateLimit: normal,
  request: z.object({ ...InRoom, nodeId: z.string().min(1).max(128) }),
  reply: z.object({ producersClosed: z.number().int().nonnegative() }),
});

export const LeaveRoom = defineRequest({
  name: 'leave',
  summary: 'Leave the room; its SFU resources are released at once',
  http: { method: 'POST', path: '/v1/rooms/{roomId}/leave' },
  access: 'participant',
  rateLimit: normal,
  request: z.object(InRoom),
  reply: z.object({ left: z.boolean() }),
});

export const ReportPathReady = defineRequest({
  name: 'pathReady',
  summary: 'During a migration: the new media path delivers frames from every other participant',
  http: { method: 'POST', path: '/v1/rooms/{roomId}/transitions/{transitionId}/ready' },
  access: 'participant',
  rateLimit: normal,
  request: z.object({
    ...InRoom,
    transitionId: z.string().min(1).max(64),
    path: MediaPath,
    /** The longest gap between rendered frames the client saw across the switch (for metrics). */
    mediaGapMs: z.number().nonnegative().max(600_000).optional(),
  }),
  reply: z.object({ mode: CallMode, transitionId: z.string().optional() }),
});

const SessionDescription = z.object({
  type: z.enum(['offer', 'answer']),
  sdp: z.string().min(1).max(100_000),
});
const Candidate = z.object({
  candidate: z.string().max(2_000),
  sdpMid: z.string().max(64).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(255).nullable().optional(),
});
export const P2pSignal = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('description'), description: SessionDescription }),
  z.object({ kind: z.literal('candidate'), candidate: Candidate }),
]);
export type P2pSignal = z.infer<typeof P2pSignal>;

export const RelaySignal = defineRequest({
  name: 'signal',
  summary: 'Relay a P2P offer, answer or ICE candidate to the other participant',
  http: { method: 'POST', path: '/v1/rooms/{roomId}/signal' },
  access: 'participant',
  rateLimit: media,
  request: z.object({ ...InRoom, to: PeerId, signal: P2pSignal }),
  reply: z.object({ delivered: z.boolean() }),
});

export const apiRequests = [
  CreateRoom,
  JoinRoom,
  GetRoom,
  CreateTransport,
  ConnectTransport,
  Produce,
  ConsumeProducer,
  ResumeConsumer,
  CloseProducer,
  ReleaseNode,
  LeaveRoom,
  ReportPathReady,
  RelaySignal,
  ...mediaControlRequests,
  ...historyRequests,
] as const;

export type ApiRequest = (typeof apiRequests)[number];
