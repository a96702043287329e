import { z } from 'zod';
import { MediaId, MediaKind, PeerId, RoomId, RtpCapabilities } from '../sfu/media';

/**
 * How a call carries media. Two participants talk peer to peer; a third moves everyone to the SFU.
 * The migrating modes are make-before-break: the old path keeps carrying media until every
 * participant has reported the new one flowing.
 */
export const CallMode = z.enum(['idle', 'p2p', 'migrating_to_sfu', 'sfu', 'migrating_to_p2p']);
export type CallMode = z.infer<typeof CallMode>;

export const MediaPath = z.enum(['p2p', 'sfu']);
export type MediaPath = z.infer<typeof MediaPath>;

export const ParticipantInfo = z.object({
  id: PeerId,
  name: z.string(),
  joinedAt: z.number().int(),
  canPublish: z.boolean(),
  /** False while its client is reconnecting (its signaling connection dropped; media may still flow). */
  connected: z.boolean(),
  /** Muted by its owner (SetMuted): a muted kind sends nothing worth rendering. */
  muted: z.object({ audio: z.boolean(), video: z.boolean() }).default({ audio: false, video: false }),
});
export type ParticipantInfo = z.infer<typeof ParticipantInfo>;

export const ProducerInfo = z.object({
  id: MediaId,
  participantId: PeerId,
  kind: MediaKind,
  paused: z.boolean(),
  appData: z.record(z.string(), z.unknown()).optional(),
});
export type ProducerInfo = z.infer<typeof ProducerInfo>;

/** A migration in progress: who must still report the new path, and when it is abandoned. */
export const TransitionInfo = z.object({
  id: z.string(),
  from: CallMode,
  to: MediaPath,
  attempt: z.number().int().positive(),
  startedAt: z.number().int(),
  deadline: z.number().int(),
  awaiting: z.array(PeerId),
});
export type TransitionInfo = z.infer<typeof TransitionInfo>;

/** RTCIceServer as a browser takes it; TURN entries carry short-lived credentials. */
export const IceServer = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});
export type IceServer = z.infer<typeof IceServer>;

export const RoomSnapshot = z.object({
  roomId: RoomId,
  /** Grows with every change of the call: a client ignores events older than its snapshot. */
  version: z.number().int().nonnegative(),
  mode: CallMode,
  transition: TransitionInfo.optional(),
  /** In p2p and migrating_to_p2p: which of the two sends the offer, so they never both do. */
  p2pOfferer: PeerId.optional(),
  participants: z.array(ParticipantInfo),
  producers: z.array(ProducerInfo),
  /** The SFU's current dominant speaker, if any (later changes come as `active-speaker`). */
  activeSpeaker: z.object({ participantId: PeerId, producerId: MediaId }).optional(),
  /** The asking participant's SFU router, once it has one (SFU and migrating modes). */
  routerRtpCapabilities: RtpCapabilities.optional(),
});
export type RoomSnapshot = z.infer<typeof RoomSnapshot>;
