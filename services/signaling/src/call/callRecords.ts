import { callIdOf } from '@trellis/jobs';
import type { Api, Jobs } from '@trellis/protocol';
import type { CallEffect, CallState } from './CallStateTypes';

export type CallRecord = {
  [N in Exclude<Jobs.PersistJobName, 'metrics.sample'>]: { name: N; data: Jobs.PersistJobData<N> };
}[Exclude<Jobs.PersistJobName, 'metrics.sample'>];

export interface CommittedChange {
  roomId: string;
  /** The document before the change; undefined when this change created the call. */
  before: CallState | undefined;
  /** The document written; null when the change deleted it (the call ended). */
  after: CallState | null;
  /** The state the change was applied to (the new call's initial state when it created one). */
  base: CallState;
  effects: readonly CallEffect[];
  now: number;
}

/**
 * What a committed call change means for the call's history: read off the effects it produced
 * (the same ones the participants are told about) and the document before and after. Event ids
 * are built from the call and what happened, so the persister stores a replayed one once.
 */
export function callRecordsOf(change: CommittedChange): CallRecord[] {
  const { roomId, before, after, base, effects, now } = change;
  const callId = callIdOf(roomId, base.createdAt);
  const ref = { callId, roomId, callStartedAt: base.createdAt, at: now };
  const records: CallRecord[] = [];
  const id = (...parts: (string | number)[]) => [callId, ...parts].join('/');
  const version = after?.version ?? base.version + 1;
  let modeChanges = 0;
  let ended: NonNullable<Jobs.ModeChangedJob['transition']> | undefined;

  if (!before) {
    records.push({
      name: 'call.started',
      data: { ...ref, eventId: id('started'), maxParticipants: base.maxParticipants },
    });
  }
  for (const effect of effects) {
    if (effect.type === 'transition-ended') {
      const t = effect.transition;
      ended = {
        id: t.id,
        from: t.from,
        to: t.to,
        attempt: t.attempt,
        startedAt: t.startedAt,
        endedAt: now,
        result: effect.result,
        gaps: { ...t.gaps },
      };
      continue;
    }
    if (effect.type === 'call-ended') {
      records.push({ name: 'call.ended', data: { ...ref, eventId: id('ended'), endedAt: now } });
      continue;
    }
    if (effect.type !== 'emit' || effect.to !== 'room') continue;
    switch (effect.event) {
      case 'participant-joined': {
        const { participant } = effect.payload as Api.ClientEventPayload<'participant-joined'>;
        records.push({
          name: 'participant.joined',
          data: {
            ...ref,
            eventId: id('joined', participant.id, participant.joinedAt),
            participantId: participant.id,
            displayName: participant.name,
            joinedAt: participant.joinedAt,
            modeAtJoin: before?.mode ?? 'idle',
          },
        });
        break;
      }
      case 'participant-left': {
        const { participantId, reason } = effect.payload as Api.ClientEventPayload<'participant-left'>;
        const p = before?.participants[participantId];
        if (!p) break;
        records.push({
          name: 'participant.left',
          data: {
            ...ref,
            eventId: id('left', participantId, p.joinedAt),
            participantId,
            displayName: p.name,
            joinedAt: p.joinedAt,
            leftAt: now,
            reason,
            ...(p.nodeId ? { nodeId: p.nodeId } : {}),
          },
        });
        break;
      }
      case 'new-producer': {
        const { producer } = effect.payload as Api.ClientEventPayload<'new-producer'>;
        const record = after?.producers[producer.id];
        const owner = after?.participants[producer.participantId];
        if (!record || !owner) break;
        records.push({
          name: 'track.published',
          data: {
            ...ref,
            eventId: id('track', producer.id, 'published'),
            participantId: producer.participantId,
            participantJoinedAt: owner.joinedAt,
            producerId: producer.id,
            kind: record.kind,
            nodeId: record.nodeId,
          },
        });
        break;
      }
      case 'producer-closed': {
        const { producerId, participantId } = effect.payload as Api.ClientEventPayload<'producer-closed'>;
        const record = before?.producers[producerId];
        const owner = before?.participants[participantId];
        if (!record || !owner) break;
        records.push({
          name: 'track.unpublished',
          data: {
            ...ref,
            eventId: id('track', producerId, 'unpublished'),
            participantId,
            participantJoinedAt: owner.joinedAt,
            producerId,
            kind: record.kind,
            nodeId: record.nodeId,
          },
        });
        break;
      }
      case 'mode-changed': {
        const payload = effect.payload as Api.ClientEventPayload<'mode-changed'>;
        // One change can move the mode more than once (a migration ends and the next begins):
        // the ordinal keeps them apart and in order.
        const ordinal = version * 8 + modeChanges;
        modeChanges += 1;
        const started = payload.transition;
        const transition = ended
          ? ended
          : started
            ? {
                id: started.id,
                from: started.from,
                to: started.to,
                attempt: started.attempt,
                startedAt: started.startedAt,
              }
            : undefined;
        ended = undefined;
        records.push({
          name: 'mode.changed',
          data: {
            ...ref,
            eventId: id('mode', ordinal),
            version: ordinal,
            mode: payload.mode,
            previous: payload.previous,
            reason: payload.reason,
            ...(transition ? { transition } : {}),
          },
        });
        break;
      }
    }
  }
  return records;
}
