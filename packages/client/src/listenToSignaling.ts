import type { Api } from '@trellis/protocol';
import type { TrellisLogger } from './Logger';
import type { MediaPaths } from './MediaPaths';
import type { PathReadiness } from './PathReadiness';
import type { ReceivePolicy } from './ReceivePolicy';
import type { RoomState } from './RoomState';
import type { SignalingChannel } from './SignalingClientTypes';
import type { ModeChangedEvent, TrellisCallEvents, TrellisCallState } from './TrellisCallTypes';
import { TrellisClientError } from './TrellisClientError';

type LeaveReason = TrellisCallEvents['participant-left'][0]['reason'];

/** The parts of a TrellisCall that signaling events act on. */
export interface SignalingEventTarget {
  room: RoomState;
  paths: MediaPaths;
  readiness: PathReadiness;
  policy: ReceivePolicy;
  logger: TrellisLogger;
  emit<E extends keyof TrellisCallEvents>(event: E, ...args: TrellisCallEvents[E]): void;
  state(): TrellisCallState;
  removeParticipant(participantId: string, reason: LeaveReason): void;
  applyMode(event: ModeChangedEvent): void;
  emitError(error: TrellisClientError): void;
  shutdown(reason: TrellisCallEvents['closed'][0]['reason']): void;
  resume(): void;
}

/**
 * What each signaling event does to a call. Room events go through `dispatch`, which runs them now
 * when joined and defers them while a join or resume reply is being applied.
 */
export function listenToSignaling(
  signaling: SignalingChannel,
  dispatch: (handler: () => void) => void,
  t: SignalingEventTarget,
): void {
  const { room } = t;
  const on = <N extends Api.ClientEventName>(
    name: N,
    handler: (payload: Api.ClientEventPayload<N>) => void,
  ) => {
    const listener = (payload: Api.ClientEventPayload<N>) => dispatch(() => handler(payload));
    (signaling.on as (event: N, l: typeof listener) => void)(name, listener);
  };
  on('participant-joined', ({ participant }) => {
    const known = room.participants.has(participant.id);
    room.participants.set(participant.id, participant);
    if (!known) t.emit('participant-joined', { participant });
  });
  on('participant-left', ({ participantId, reason }) => t.removeParticipant(participantId, reason));
  on('participant-updated', ({ participant }) => {
    if (!room.participants.has(participant.id)) return;
    room.updateParticipant(participant);
    t.emit('participant-updated', { participant });
  });
  on('participant-connection', ({ participantId, connected }) => {
    const known = room.participants.get(participantId);
    if (known) room.participants.set(participantId, { ...known, connected });
    t.emit('participant-connection', { participantId, connected });
  });
  on('new-producer', ({ producer }) => {
    room.addProducer(producer);
    t.paths.sfu?.addProducer(producer);
    t.readiness.check();
  });
  on('producer-closed', ({ producerId }) => {
    room.removeProducer(producerId);
    t.paths.sfu?.removeProducer(producerId);
  });
  on('mode-changed', (event) => {
    // Signaling nodes commit and emit independently: a change older than what we know is stale.
    if (event.version <= room.version) {
      t.logger.debug('ignored a stale mode change', { version: event.version, known: room.version });
      return;
    }
    room.version = event.version;
    t.applyMode(event);
  });
  on('active-speaker', (event) => {
    if (t.policy.setActiveSpeaker(event.participantId)) t.paths.applyPreferences();
    t.emit('active-speaker', event);
  });
  on('signal', ({ from, signal }) => t.paths.handleSignal(from, signal));
  on('rehome', ({ reason, routerRtpCapabilities }) => void t.paths.rehome(reason, routerRtpCapabilities));
  on('session-replaced', () => {
    t.emitError(new TrellisClientError('SESSION_REPLACED', 'another join with this identity took over'));
    t.shutdown('replaced');
  });
  signaling.on('disconnected', (reason, willReconnect) => {
    const state = t.state();
    if (state === 'closed' || state === 'new') return;
    if (!willReconnect) {
      t.emitError(new TrellisClientError('DISCONNECTED', `signaling ended the connection (${reason})`));
      t.shutdown('disconnected');
      return;
    }
    // Media keeps flowing on its own; only signaling is being restored.
    t.emit('reconnecting', { reason });
  });
  signaling.on('reconnected', () => t.resume());
}
