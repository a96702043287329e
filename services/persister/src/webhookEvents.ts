import type { Jobs } from '@trellis/protocol';

/** The webhook a persisted call event announces (metrics samples announce none). */
export function webhookBodyOf(
  name: Jobs.PersistJobName,
  data: Jobs.PersistJobData<Jobs.PersistJobName>,
): Jobs.WebhookBody | undefined {
  if (name === 'metrics.sample') return undefined;
  const e = data as Jobs.CallStartedJob;
  const common = { id: e.eventId, createdAt: e.at, roomId: e.roomId, callId: e.callId };
  switch (name) {
    case 'call.started':
      return { ...common, event: 'room_started', data: { startedAt: e.callStartedAt } };
    case 'call.ended': {
      const d = data as Jobs.CallEndedJob;
      return { ...common, event: 'room_finished', data: { startedAt: d.callStartedAt, endedAt: d.endedAt } };
    }
    case 'participant.joined': {
      const d = data as Jobs.ParticipantJoinedJob;
      return {
        ...common,
        event: 'participant_joined',
        data: {
          participantId: d.participantId,
          name: d.displayName,
          joinedAt: d.joinedAt,
          mode: d.modeAtJoin,
        },
      };
    }
    case 'participant.left': {
      const d = data as Jobs.ParticipantLeftJob;
      return {
        ...common,
        event: 'participant_left',
        data: { participantId: d.participantId, name: d.displayName, leftAt: d.leftAt, reason: d.reason },
      };
    }
    case 'track.published':
    case 'track.unpublished': {
      const d = data as Jobs.TrackJob;
      return {
        ...common,
        event: name === 'track.published' ? 'track_published' : 'track_unpublished',
        data: { participantId: d.participantId, producerId: d.producerId, kind: d.kind },
      };
    }
    case 'mode.changed': {
      const d = data as Jobs.ModeChangedJob;
      return {
        ...common,
        event: 'mode_changed',
        data: {
          mode: d.mode,
          previous: d.previous,
          reason: d.reason,
          ...(d.transition ? { transition: d.transition } : {}),
        },
      };
    }
  }
}
