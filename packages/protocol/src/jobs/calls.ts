import { z } from 'zod';
import { CallMode, MediaPath } from '../api/state';
import { MediaId, MediaKind, PeerId, RoomId } from '../sfu/media';

/**
 * What signaling records about a call for the persister, one job per event. Every event carries an
 * id derived from the call and what happened (never random), so the job id derived from it makes a
 * replayed or re-sent event a no-op, and enough context (call id, room, times) that the persister
 * can apply events in any order: each one is an upsert.
 */

/** A call is one life of a room's call document: the room plus when that document was created. */
export const CallId = z.string().regex(/^[0-9a-f]{32}$/, 'expected 32 hex digits');
export const EventId = z.string().min(1).max(300);
const Millis = z.number().int().nonnegative();

const CallRef = {
  eventId: EventId,
  callId: CallId,
  roomId: RoomId,
  /** When the call document was created (ms since the epoch): lets any event create the session row. */
  callStartedAt: Millis,
  /** When the event happened. */
  at: Millis,
};

export const CallStartedJob = z.object({ ...CallRef, maxParticipants: z.number().int().positive() });

export const ParticipantJoinedJob = z.object({
  ...CallRef,
  participantId: PeerId,
  displayName: z.string().max(200),
  joinedAt: Millis,
  /** The call's mode when the participant joined (before the mode machine reacted to the join). */
  modeAtJoin: CallMode,
});

export const ParticipantLeftJob = z.object({
  ...CallRef,
  participantId: PeerId,
  displayName: z.string().max(200),
  joinedAt: Millis,
  leftAt: Millis,
  reason: z.string().max(64),
  /** The SFU node it was on, when it was on one. */
  nodeId: z.string().max(128).optional(),
});

export const TransitionResult = z.enum(['completed', 'rolled-back', 'aborted']);

export const ModeChangedJob = z.object({
  ...CallRef,
  /** The call document's version after the change: the persister keeps the newest mode only. */
  version: z.number().int().positive(),
  mode: CallMode,
  previous: CallMode,
  reason: z.string().max(64),
  /** The migration this change started or ended, if any. */
  transition: z
    .object({
      id: z.string().min(1).max(64),
      from: CallMode,
      to: MediaPath,
      attempt: z.number().int().positive(),
      startedAt: Millis,
      /** Set when the change ended the migration. */
      endedAt: Millis.optional(),
      result: TransitionResult.optional(),
      /** Longest media gap each participant reported across the switch, ms. */
      gaps: z.record(z.string(), z.number().nonnegative()).optional(),
    })
    .optional(),
});

export const TrackJob = z.object({
  ...CallRef,
  participantId: PeerId,
  /** Names the participant's stay (with the call and identity) for the persister. */
  participantJoinedAt: Millis,
  producerId: MediaId,
  kind: MediaKind,
  nodeId: z.string().max(128),
});

export const CallEndedJob = z.object({ ...CallRef, endedAt: Millis });

export type CallStartedJob = z.infer<typeof CallStartedJob>;
export type ParticipantJoinedJob = z.infer<typeof ParticipantJoinedJob>;
export type ParticipantLeftJob = z.infer<typeof ParticipantLeftJob>;
export type ModeChangedJob = z.infer<typeof ModeChangedJob>;
export type TrackJob = z.infer<typeof TrackJob>;
export type CallEndedJob = z.infer<typeof CallEndedJob>;
