import { z } from 'zod';
import { MediaId, PeerId, RtpCapabilities } from '../sfu/media';
import { P2pSignal } from './requests';
import { CallMode, ParticipantInfo, ProducerInfo, TransitionInfo } from './state';

/** Server → client events over Socket.IO, by event name. A client validates each with its schema. */
export const ClientEvents = {
  'participant-joined': z.object({ participant: ParticipantInfo }),
  'participant-left': z.object({
    participantId: PeerId,
    reason: z.enum(['left', 'disconnected', 'replaced', 'removed']),
  }),
  /** A participant's info changed (its mute state). */
  'participant-updated': z.object({ participant: ParticipantInfo }),
  'participant-connection': z.object({ participantId: PeerId, connected: z.boolean() }),
  'new-producer': z.object({ producer: ProducerInfo }),
  'producer-closed': z.object({ producerId: MediaId, participantId: PeerId }),
  'mode-changed': z.object({
    /** The call's version after the change: mode changes committed by different nodes may arrive out of order. */
    version: z.number().int().nonnegative(),
    mode: CallMode,
    previous: CallMode,
    transition: TransitionInfo.optional(),
    p2pOfferer: PeerId.optional(),
    reason: z.enum(['joined', 'left', 'completed', 'timed-out', 'retry', 'aborted', 'hysteresis']),
  }),
  'active-speaker': z.object({ participantId: PeerId, producerId: MediaId }),
  signal: z.object({ from: PeerId, signal: P2pSignal }),
  /**
   * The caller's SFU node is gone or draining: make new transports (they land on `nodeId`) and
   * republish. The new node's router capabilities come along when signaling could get them (the
   * router is made there first), so the client goes straight to its transports.
   */
  rehome: z.object({
    nodeId: z.string(),
    reason: z.enum(['node-lost', 'draining', 'room-closed']),
    routerRtpCapabilities: RtpCapabilities.optional(),
  }),
  /** This connection's session was taken over by a newer join of the same identity. */
  'session-replaced': z.object({ sessionId: z.string() }),
} as const;

export type ClientEventName = keyof typeof ClientEvents;
export type ClientEventPayload<N extends ClientEventName> = z.infer<(typeof ClientEvents)[N]>;

/** The Socket.IO ack of every request: the reply, or the same error body REST answers with. */
export type Ack<T> =
  | { ok: true; data: T }
  | { ok: false; error: { code: string; message: string; details?: Record<string, unknown> } };
