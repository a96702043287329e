import { z } from 'zod';
import { defineEvent } from '../catalog';
import { AppData, ConsumerLayers, MediaId, MediaKind, PeerId, RoomId } from './media';

/**
 * Events an SFU node appends to a room's stream (`events:{roomId}`); signaling consumes them as one
 * group and tells the clients. Each carries the node id: a call may span nodes.
 */
const RoomScope = { roomId: RoomId, nodeId: z.string() };

export const ProducerAdded = defineEvent({
  type: 'sfu.producer-added',
  payload: z.object({
    ...RoomScope,
    peerId: PeerId,
    producerId: MediaId,
    kind: MediaKind,
    paused: z.boolean(),
    appData: AppData.optional(),
  }),
});

export const ProducerClosed = defineEvent({
  type: 'sfu.producer-closed',
  payload: z.object({
    ...RoomScope,
    peerId: PeerId,
    producerId: MediaId,
    reason: z.enum(['closed-by-peer', 'transport-closed', 'peer-left', 'room-closed']),
  }),
});

export const ProducerPaused = defineEvent({
  type: 'sfu.producer-paused',
  payload: z.object({ ...RoomScope, peerId: PeerId, producerId: MediaId }),
});
export const ProducerResumed = defineEvent({
  type: 'sfu.producer-resumed',
  payload: z.object({ ...RoomScope, peerId: PeerId, producerId: MediaId }),
});

export const ConsumerClosed = defineEvent({
  type: 'sfu.consumer-closed',
  payload: z.object({
    ...RoomScope,
    peerId: PeerId,
    consumerId: MediaId,
    producerId: MediaId,
    reason: z.enum(['producer-closed', 'transport-closed', 'closed']),
  }),
});

export const ConsumerLayersChanged = defineEvent({
  type: 'sfu.consumer-layers-changed',
  payload: z.object({ ...RoomScope, peerId: PeerId, consumerId: MediaId, layers: ConsumerLayers.nullable() }),
});

export const ConsumerScore = defineEvent({
  type: 'sfu.consumer-score',
  payload: z.object({
    ...RoomScope,
    peerId: PeerId,
    consumerId: MediaId,
    /** 0-10: how well this consumer's stream reaches its peer. */
    score: z.number().int().min(0).max(10),
    producerScore: z.number().int().min(0).max(10),
  }),
});

export const ActiveSpeaker = defineEvent({
  type: 'sfu.active-speaker',
  payload: z.object({ ...RoomScope, peerId: PeerId, producerId: MediaId }),
});

export const TransportClosed = defineEvent({
  type: 'sfu.transport-closed',
  payload: z.object({
    ...RoomScope,
    peerId: PeerId,
    transportId: MediaId,
    reason: z.enum(['closed', 'dtls-failed', 'ice-failed', 'peer-left', 'room-closed']),
  }),
});

export const RoomClosed = defineEvent({
  type: 'sfu.room-closed',
  payload: z.object({
    ...RoomScope,
    reason: z.enum(['empty', 'worker-died', 'node-stopping']),
    /** Peers that were in the room when it closed: after a worker death they must rejoin. */
    peerIds: z.array(PeerId),
  }),
});

/** Broadcast to every node: a mediasoup worker died and was replaced; these rooms were closed. */
export const WorkerDied = defineEvent({
  type: 'sfu.worker-died',
  payload: z.object({
    nodeId: z.string(),
    workerPid: z.number().int(),
    replacementPid: z.number().int().optional(),
    roomIds: z.array(RoomId),
  }),
});

export const sfuRoomEvents = [
  ProducerAdded,
  ProducerClosed,
  ProducerPaused,
  ProducerResumed,
  ConsumerClosed,
  ConsumerLayersChanged,
  ConsumerScore,
  ActiveSpeaker,
  TransportClosed,
  RoomClosed,
] as const;
