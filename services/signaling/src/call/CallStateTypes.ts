import type { Api } from '@trellis/protocol';
import type { CallRecord } from './callRecords';

/**
 * A call as it is kept in Redis: one JSON document per room, replaced whole by compare-and-set on
 * its version. Any signaling node can read it, change it and act on the change, so none keeps call
 * state of its own. Small even at 50 participants (a few kB), which is what makes whole-document
 * CAS cheaper and simpler than a key per field.
 */
export interface CallState {
  roomId: string;
  version: number;
  createdAt: number;
  maxParticipants: number;
  mode: Api.CallMode;
  participants: Record<string, ParticipantRecord>;
  /** SFU producers only: P2P media never touches the server. */
  producers: Record<string, ProducerRecord>;
  transition?: TransitionRecord;
  p2pOfferer?: string;
  /** When the call last dropped to two or fewer while on the SFU (the hysteresis clock). */
  shrunkAt?: number;
  /** After a rolled-back migration: not before this time is the next attempt made. */
  retryAt?: number;
  /** How many migrations were attempted so far, rolled back ones included. */
  transitions: number;
  /** The attempt number of the last migration that did not complete (retries count up from it). */
  lastAttempt?: number;
  /** The SFU's dominant speaker: kept so a participant joining later is told who it is. */
  activeSpeaker?: { participantId: string; producerId: string };
}

export interface ParticipantRecord {
  id: string;
  name: string;
  sessionId: string;
  joinedAt: number;
  canPublish: boolean;
  canSubscribe: boolean;
  admin: boolean;
  /** The SFU node its transports live on; set on first SFU use, cleared when the call leaves the SFU. */
  nodeId?: string;
  /**
   * A draining SFU node it is moving off: its old path there still carries media until it asks to
   * release it (releaseNode), or until it leaves.
   */
  movingFrom?: string;
  /** The signaling node and socket it is connected through; absent while it reconnects. */
  connection?: { nodeId: string; socketId: string };
  /** When its connection dropped: it is removed once the resume grace period has passed. */
  disconnectedAt?: number;
  /** Muted kinds (SetMuted); absent means nothing muted. */
  muted?: { audio: boolean; video: boolean };
}

export interface ProducerRecord {
  id: string;
  participantId: string;
  kind: 'audio' | 'video';
  nodeId: string;
  paused: boolean;
  appData?: Record<string, unknown>;
}

export interface TransitionRecord {
  id: string;
  from: Api.CallMode;
  to: Api.MediaPath;
  attempt: number;
  startedAt: number;
  deadline: number;
  awaiting: string[];
  /** Longest frame gap each participant reported across the switch. */
  gaps: Record<string, number>;
}

export interface CallTimings {
  p2pHysteresisMs: number;
  migrationTimeoutMs: number;
  migrationRetryMs: number;
  resumeGraceMs: number;
}

/**
 * What a state change asks the world to do, run by whichever node committed it. Effects follow
 * from committed state only, so a node that loses a CAS race does nothing twice.
 */
export type CallEffect =
  | { type: 'emit'; to: 'room'; except?: string; event: Api.ClientEventName; payload: unknown }
  | { type: 'emit'; to: 'participant'; participantId: string; event: Api.ClientEventName; payload: unknown }
  | { type: 'emit'; to: 'socket'; socketId: string; event: Api.ClientEventName; payload: unknown }
  /** Release a participant's SFU peer (transports, producers, consumers) on its node. */
  | { type: 'close-sfu-peer'; participantId: string; nodeId: string }
  | {
      type: 'transition-ended';
      transition: TransitionRecord;
      result: 'completed' | 'rolled-back' | 'aborted';
    }
  | { type: 'call-ended' }
  /** History for the persister: queued, never awaited (see callRecords.ts). */
  | { type: 'record'; records: CallRecord[] };

export interface Outcome<T> {
  /** The new state, `null` to delete the call, or `undefined` when nothing changed. */
  state: CallState | null | undefined;
  effects: CallEffect[];
  result: T;
}
