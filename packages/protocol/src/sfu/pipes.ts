import { z } from 'zod';
import { defineCommand, defineEvent } from '../catalog';
import { AppData, MediaId, MediaKind, PeerId, RoomId, RtpParameters } from './media';

/**
 * Node-to-node commands that stretch one call over several SFU nodes: a PipeTransport pair per
 * (call, node pair), over which the producing node forwards each producer the other node needs,
 * under the same producer id. RTX and SRTP are on: pipes may cross networks between hosts.
 */
const SrtpParameters = z.looseObject({ cryptoSuite: z.string(), keyBase64: z.string() });
const PipeEndpoint = {
  ip: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  srtpParameters: SrtpParameters,
};

/** Sent by the consuming node to the producing node: "here is my end; make yours and connect". */
export const PipeConnect = defineCommand({
  type: 'sfu.pipe-connect',
  request: z.object({
    roomId: RoomId,
    fromNodeId: z.string(),
    /** Identifies the caller's end: it names the pair. */
    linkId: MediaId,
    /** The caller process's id: a new one means the caller restarted, and its new pair replaces ours. */
    instanceId: z.string().min(1).max(64),
    /** The pair the caller lost and now replaces (a broken pipe being re-established). */
    replacesLinkId: MediaId.optional(),
    ...PipeEndpoint,
  }),
  reply: z.object({ ...PipeEndpoint, instanceId: z.string().min(1).max(64) }),
});

/** Sent by the consuming node: "forward this producer over our pipe". */
export const PipeProducer = defineCommand({
  type: 'sfu.pipe-producer',
  request: z.object({ roomId: RoomId, toNodeId: z.string(), linkId: MediaId, producerId: MediaId }),
  reply: z.object({
    producerId: MediaId,
    peerId: PeerId,
    kind: MediaKind,
    rtpParameters: RtpParameters,
    paused: z.boolean(),
    appData: AppData.optional(),
  }),
});

/** Sent by the producing node when a piped producer pauses, resumes or closes at its source. */
export const PipedProducerState = defineCommand({
  type: 'sfu.piped-producer-state',
  request: z.object({
    roomId: RoomId,
    fromNodeId: z.string(),
    producerId: MediaId,
    state: z.enum(['paused', 'resumed', 'closed']),
  }),
  reply: z.object({ applied: z.boolean() }),
});

/** Either side tears the pair down (the call left that node). */
export const PipeClose = defineCommand({
  type: 'sfu.pipe-close',
  request: z.object({ roomId: RoomId, fromNodeId: z.string() }),
  reply: z.object({ closed: z.boolean() }),
});

export const sfuPipeCommands = [PipeConnect, PipeProducer, PipedProducerState, PipeClose] as const;

/** A draining node asks signaling to move these participants elsewhere (re-join on another node). */
export const ParticipantsMustMove = defineEvent({
  type: 'sfu.participants-must-move',
  payload: z.object({
    roomId: RoomId,
    nodeId: z.string(),
    peerIds: z.array(PeerId),
    reason: z.enum(['draining']),
  }),
});

/** Broadcast once per lost node: its heartbeat expired; these calls and participants were on it. */
export const NodeLost = defineEvent({
  type: 'sfu.node-lost',
  payload: z.object({
    nodeId: z.string(),
    rooms: z.array(z.object({ roomId: RoomId, peerIds: z.array(PeerId) })),
  }),
});
