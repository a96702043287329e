import type { Api } from '@trellis/protocol';
import type { CallEffect, CallState, ParticipantRecord, ProducerRecord } from './CallStateTypes';

export type LeaveReason = Api.ClientEventPayload<'participant-left'>['reason'];

/**
 * A working copy of a call that records what each change must tell the world. Operations are
 * synchronous and pure apart from `now`, so a CAS retry simply replays them on fresh state.
 */
export class CallDraft {
  readonly state: CallState;
  readonly effects: CallEffect[] = [];
  #changed = false;

  constructor(
    state: CallState,
    readonly now: number,
  ) {
    this.state = structuredClone(state);
  }

  get changed(): boolean {
    return this.#changed;
  }

  touch(): void {
    this.#changed = true;
  }

  emit(effect: CallEffect): void {
    this.effects.push(effect);
  }

  get participantIds(): string[] {
    return Object.values(this.state.participants)
      .sort((a, b) => a.joinedAt - b.joinedAt || a.id.localeCompare(b.id))
      .map((p) => p.id);
  }

  get count(): number {
    return Object.keys(this.state.participants).length;
  }

  participant(id: string): ParticipantRecord | undefined {
    return this.state.participants[id];
  }

  addParticipant(record: ParticipantRecord): void {
    this.state.participants[record.id] = record;
    this.touch();
    this.emit({
      type: 'emit',
      to: 'room',
      except: record.id,
      event: 'participant-joined',
      payload: { participant: participantInfo(record) },
    });
  }

  /** Removes a participant, its producers and its SFU peer, and tells the others. */
  removeParticipant(id: string, reason: LeaveReason): boolean {
    const record = this.state.participants[id];
    if (!record) return false;
    for (const producer of Object.values(this.state.producers)) {
      if (producer.participantId === id) this.removeProducer(producer.id);
    }
    this.#closeSfuPeers(record);
    delete this.state.participants[id];
    const transition = this.state.transition;
    if (transition) transition.awaiting = transition.awaiting.filter((p) => p !== id);
    this.touch();
    this.emit({
      type: 'emit',
      to: 'room',
      event: 'participant-left',
      payload: { participantId: id, reason },
    });
    return true;
  }

  setConnection(id: string, connection: ParticipantRecord['connection']): void {
    const record = this.state.participants[id];
    if (!record) return;
    const wasConnected = record.connection !== undefined;
    if (connection) {
      record.connection = connection;
      delete record.disconnectedAt;
    } else {
      delete record.connection;
      record.disconnectedAt = this.now;
    }
    this.touch();
    if (wasConnected !== (connection !== undefined)) {
      this.emit({
        type: 'emit',
        to: 'room',
        except: id,
        event: 'participant-connection',
        payload: { participantId: id, connected: connection !== undefined },
      });
    }
  }

  addProducer(record: ProducerRecord): void {
    this.state.producers[record.id] = record;
    this.touch();
    this.emit({
      type: 'emit',
      to: 'room',
      except: record.participantId,
      event: 'new-producer',
      payload: { producer: producerInfo(record) },
    });
  }

  removeProducer(id: string): ProducerRecord | undefined {
    const record = this.state.producers[id];
    if (!record) return undefined;
    delete this.state.producers[id];
    if (this.state.activeSpeaker?.producerId === id) delete this.state.activeSpeaker;
    this.touch();
    // Everyone hears of it, the owner included: it may have closed on the node, not by request.
    this.emit({
      type: 'emit',
      to: 'room',
      event: 'producer-closed',
      payload: { producerId: id, participantId: record.participantId },
    });
    return record;
  }

  /** The SFU named a new dominant speaker: recorded (for later joiners) and told to the room. */
  setActiveSpeaker(participantId: string, producerId: string): void {
    const current = this.state.activeSpeaker;
    if (!this.state.producers[producerId] || current?.producerId === producerId) return;
    this.state.activeSpeaker = { participantId, producerId };
    this.touch();
    this.emit({ type: 'emit', to: 'room', event: 'active-speaker', payload: { participantId, producerId } });
  }

  /** The call leaves the SFU: every peer there is released and its producers forgotten. */
  releaseSfu(): void {
    for (const producer of Object.values(this.state.producers)) this.removeProducer(producer.id);
    for (const record of Object.values(this.state.participants)) {
      if (!record.nodeId && !record.movingFrom) continue;
      this.#closeSfuPeers(record);
      delete record.nodeId;
      delete record.movingFrom;
      this.touch();
    }
  }

  /** Releases a participant's peers on its SFU node and on the draining node it is moving off. */
  #closeSfuPeers(record: ParticipantRecord): void {
    for (const nodeId of [record.nodeId, record.movingFrom]) {
      if (nodeId) this.emit({ type: 'close-sfu-peer', participantId: record.id, nodeId });
    }
  }
}

export function participantInfo(record: ParticipantRecord): Api.ParticipantInfo {
  return {
    id: record.id,
    name: record.name,
    joinedAt: record.joinedAt,
    canPublish: record.canPublish,
    connected: record.connection !== undefined,
    muted: { audio: record.muted?.audio ?? false, video: record.muted?.video ?? false },
  };
}

export function producerInfo(record: ProducerRecord): Api.ProducerInfo {
  return {
    id: record.id,
    participantId: record.participantId,
    kind: record.kind,
    paused: record.paused,
    ...(record.appData ? { appData: record.appData } : {}),
  };
}

export function transitionInfo(state: CallState): Api.TransitionInfo | undefined {
  const t = state.transition;
  if (!t) return undefined;
  return {
    id: t.id,
    from: t.from,
    to: t.to,
    attempt: t.attempt,
    startedAt: t.startedAt,
    deadline: t.deadline,
    awaiting: [...t.awaiting],
  };
}

export function snapshotOf(state: CallState): Api.RoomSnapshot {
  const transition = transitionInfo(state);
  return {
    roomId: state.roomId,
    version: state.version,
    mode: state.mode,
    ...(transition ? { transition } : {}),
    ...(state.p2pOfferer ? { p2pOfferer: state.p2pOfferer } : {}),
    ...(state.activeSpeaker ? { activeSpeaker: { ...state.activeSpeaker } } : {}),
    participants: Object.values(state.participants)
      .sort((a, b) => a.joinedAt - b.joinedAt)
      .map(participantInfo),
    producers: Object.values(state.producers).map(producerInfo),
  };
}

export function emptyCall(roomId: string, now: number, maxParticipants: number): CallState {
  return {
    roomId,
    version: 0,
    createdAt: now,
    maxParticipants,
    mode: 'idle',
    participants: {},
    producers: {},
    transitions: 0,
  };
}
