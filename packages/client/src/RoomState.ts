import type { Api } from '@trellis/protocol';

/**
 * What this client knows of its call, as signaling last told it (join/resume replies, getRoom
 * snapshots, events). Shared by TrellisCall (which updates it) and MediaPaths (which reads it).
 */
export class RoomState {
  readonly participants = new Map<string, Api.ParticipantInfo>();
  readonly producers = new Map<string, Api.ProducerInfo>();
  participantId: string | undefined;
  sessionId: string | undefined;
  iceServers: RTCIceServer[] = [];
  /** The call's version as of the last snapshot or mode change applied: older mode changes are ignored. */
  version = -1;
  mode: Api.CallMode = 'idle';
  transition: Api.TransitionInfo | undefined;
  /** Date.now() when this client first saw the current transition. */
  transitionSeenAt = 0;
  /** Kept after signaling drops it (in migrating_to_sfu): it only matters when a P2P connection is made. */
  p2pOfferer: string | undefined;

  constructor(readonly roomId: string) {}

  /** The other participants' ids. */
  others(): string[] {
    return [...this.participants.keys()].filter((id) => id !== this.participantId);
  }

  /** A participant's info changed: a muted kind is a paused producer (readiness won't wait for it). */
  updateParticipant(participant: Api.ParticipantInfo): void {
    this.participants.set(participant.id, participant);
    for (const producer of this.producers.values()) {
      if (producer.participantId === participant.id)
        this.producers.set(producer.id, { ...producer, paused: participant.muted[producer.kind] });
    }
  }

  /** Whether this participant's grant lets it publish (assumed so until the roster says otherwise). */
  canPublish(): boolean {
    const self = this.participantId === undefined ? undefined : this.participants.get(this.participantId);
    return self?.canPublish ?? true;
  }

  /** The kinds a participant publishes unpaused. */
  publishedKinds(participantId: string): Set<'audio' | 'video'> {
    const kinds = new Set<'audio' | 'video'>();
    for (const p of this.producers.values())
      if (p.participantId === participantId && !p.paused) kinds.add(p.kind);
    return kinds;
  }

  /** Producers heard closed since the last full replace: an older snapshot must not bring them back. */
  readonly #closedProducers = new Set<string>();

  /** From a join/resume reply: authoritative, whatever was heard before. */
  replaceProducers(producers: Api.ProducerInfo[]): void {
    this.producers.clear();
    this.#closedProducers.clear();
    for (const producer of producers) this.producers.set(producer.id, producer);
  }

  /**
   * From a getRoom snapshot taken while events kept coming: another signaling node's event may be
   * newer than the snapshot, so producers heard of are kept and producers heard closed stay closed.
   */
  mergeProducers(producers: Api.ProducerInfo[]): void {
    for (const producer of producers) {
      if (!this.#closedProducers.has(producer.id)) this.producers.set(producer.id, producer);
    }
  }

  addProducer(producer: Api.ProducerInfo): void {
    if (!this.#closedProducers.has(producer.id)) this.producers.set(producer.id, producer);
  }

  removeProducer(producerId: string): void {
    this.producers.delete(producerId);
    this.#closedProducers.add(producerId);
  }
}
