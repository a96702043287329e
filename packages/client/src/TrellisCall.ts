import { Api } from '@trellis/protocol';
import { ConnectionQuality, type ConnectionQualityEvent } from './ConnectionQuality';
import { callStats } from './callStats';
import { followMode } from './followMode';
import { LocalMedia } from './LocalMedia';
import { consoleLogger, type TrellisLogger } from './Logger';
import { listenToSignaling } from './listenToSignaling';
import { MediaPaths } from './MediaPaths';
import { PathReadiness } from './PathReadiness';
import { ReceivePolicy, type VideoView } from './ReceivePolicy';
import { RemoteStreams } from './RemoteStreams';
import { RemoteTrackSelector } from './RemoteTrackSelector';
import type { MediaKind } from './RemoteTrackSelectorTypes';
import { RoomState } from './RoomState';
import { SignalingClient } from './SignalingClient';
import type { ApiRequestFn, SignalingChannel } from './SignalingClientTypes';
import type {
  ModeChangedEvent,
  TrellisCallEvents,
  TrellisCallOptions,
  TrellisCallState,
  TrellisCallStats,
  TrellisJoinResult,
} from './TrellisCallTypes';
import { TrellisClientError } from './TrellisClientError';
import { TypedEmitter } from './TypedEmitter';

type JoinReply = Api.ApiReplyOf<typeof Api.JoinRoom>;
type LeaveReason = TrellisCallEvents['participant-left'][0]['reason'];

/**
 * A participant in a Trellis call. It follows signaling's call mode: peer to peer for two, SFU for
 * three and more. During a migration it runs both paths; per remote participant it keeps exposing
 * the old path's track until the new path's track delivers (make-before-break), and it reports the
 * new path ready once that path delivers from everyone. Several calls can live in one process.
 */
export class TrellisCall extends TypedEmitter<TrellisCallEvents> {
  readonly roomId: string;
  /** The signaling connection: a SignalingClient unless one was passed in (e.g. `dropConnection()`). */
  readonly signaling: SignalingChannel;
  readonly #logger: TrellisLogger;
  readonly #room: RoomState;
  readonly #selector: RemoteTrackSelector;
  readonly #paths: MediaPaths;
  readonly #request: ApiRequestFn;
  readonly #readiness: PathReadiness;
  readonly #streams = new RemoteStreams();
  readonly #policy = new ReceivePolicy();
  readonly #quality: ConnectionQuality;
  readonly #local: LocalMedia;
  #state: TrellisCallState = 'new';
  /** Events that arrive while a join or resume reply is being applied run right after it. */
  #deferred: Array<() => void> = [];

  constructor(options: TrellisCallOptions) {
    super();
    this.roomId = options.roomId;
    this.#logger = options.logger ?? consoleLogger();
    this.#room = new RoomState(options.roomId);
    this.signaling = options.signaling ?? callSignaling(options, this.#logger);
    this.#request = (def, payload) => this.signaling.request(def, payload);
    this.#local = new LocalMedia(options.localTracks ?? []);
    this.#selector = new RemoteTrackSelector(options.trackSelection);
    this.#selector.on('exposed', (exposed) => {
      const stream = this.#streams.expose(exposed);
      this.safeEmit('remote-track', { ...exposed, ...(stream ? { stream } : {}) });
    });
    this.#selector.on('ended', (ended) => {
      this.#streams.end(ended.participantId, ended.kind, ended.screen);
      this.safeEmit('remote-track-ended', ended);
    });
    this.#quality = new ConnectionQuality({ sources: () => this.#selector.exposedStats() });
    this.#quality.on('change', (event) => this.safeEmit('connection-quality', event));
    this.#selector.on('flow', () => this.#readiness.check());
    this.#paths = new MediaPaths({
      room: this.#room,
      request: this.#request,
      selector: this.#selector,
      localTracks: () => this.#publishableTracks(),
      screenTrack: () => (this.#room.canPublish() ? this.#local.screen : null),
      ...(options.webrtc?.RTCPeerConnection ? { RTCPeerConnection: options.webrtc.RTCPeerConnection } : {}),
      ...(options.handlerFactory ? { handlerFactory: options.handlerFactory } : {}),
      ...(options.simulcast !== undefined ? { simulcast: options.simulcast } : {}),
      ...(options.videoCodec ? { videoCodec: options.videoCodec } : {}),
      receivePreferences: (remote) => this.#policy.preferences(remote, this.#room.mode === 'sfu'),
      logger: this.#logger,
    });
    this.#paths.on('error', (error) => this.#emitError(error));
    this.#paths.on('built', () => this.#readiness.check());
    this.#readiness = new PathReadiness({
      room: this.#room,
      paths: this.#paths,
      selector: this.#selector,
      publishGraceMs: options.publishGraceMs ?? 5_000,
    });
    this.#readiness.on('ready', (ready) => {
      this.safeEmit('path-ready', ready);
      this.#request(Api.ReportPathReady, { roomId: this.roomId, ...ready }).catch((error: unknown) =>
        this.#logger.warn('pathReady report failed', {
          transitionId: ready.transitionId,
          error: String(error),
        }),
      );
    });
    this.#listen();
  }

  get state(): TrellisCallState {
    return this.#state;
  }

  get mode(): Api.CallMode {
    return this.#room.mode;
  }

  get transition(): Api.TransitionInfo | undefined {
    return this.#room.transition;
  }

  get participantId(): string | undefined {
    return this.#room.participantId;
  }

  get sessionId(): string | undefined {
    return this.#room.sessionId;
  }

  /** Everyone in the call as signaling lists them, this participant included. */
  get participants(): Api.ParticipantInfo[] {
    return [...this.#room.participants.values()];
  }

  get localTracks(): MediaStreamTrack[] {
    return this.#local.tracks;
  }

  /** This participant's mute state (SetMuted). */
  get muted(): { audio: boolean; video: boolean } {
    return this.#local.muted;
  }

  get activeSpeaker(): string | undefined {
    return this.#policy.activeSpeaker;
  }

  get connectionQuality(): ConnectionQualityEvent | undefined {
    return this.#quality.current;
  }

  /** A remote participant's stream: one object for the whole call, whichever path carries it. */
  remoteStream(participantId: string): MediaStream | undefined {
    return this.#streams.get(participantId);
  }

  /**
   * Mutes or unmutes a kind: the local track is disabled (silence / black on P2P), signaling tells
   * the others and pauses the SFU producers. Resolves once signaling has recorded it.
   */
  async setMuted(kind: MediaKind, muted: boolean): Promise<void> {
    this.#local.setMuted(kind, muted);
    if (this.#state !== 'joined' && this.#state !== 'resuming') return;
    const { participant } = await this.#request(Api.SetMuted, { roomId: this.roomId, kind, muted });
    this.#room.participants.set(participant.id, participant);
    this.safeEmit('participant-updated', { participant });
  }

  /**
   * Sends `track` instead of the current local track of its kind (a device switch), or stops
   * sending it (`null`). Both paths keep their senders, so no renegotiation and no new consumers.
   */
  async replaceTrack(kind: MediaKind, track: MediaStreamTrack | null): Promise<void> {
    this.#local.replace(kind, track);
    if (this.#room.canPublish()) await this.#paths.replaceTrack(kind, track);
  }

  /** Shares a screen beside the camera (others: `remote-track` with `screen`, `remoteScreen(id)`). */
  async startScreenShare(track: MediaStreamTrack): Promise<void> {
    this.#local.screen = track;
    if (this.#room.canPublish()) await this.#paths.replaceScreen(track);
  }

  /** Stops sharing: the others' screen tile goes. The track is the application's to stop. */
  async stopScreenShare(): Promise<void> {
    this.#local.screen = null;
    await this.#paths.replaceScreen(null);
  }

  /** A remote participant's screen share stream (stable like `remoteStream`), empty when not sharing. */
  remoteScreen(participantId: string): MediaStream | undefined {
    return this.#streams.get(participantId, true);
  }

  /**
   * What the application shows of each participant's video: off-page video is paused on the SFU and
   * each tile gets the simulcast layer that fits it (see ReceivePolicy). Call it when tiles change.
   */
  setVideoViews(views: Record<string, VideoView>): void {
    this.#policy.setViews(views);
    this.#paths.applyPreferences();
  }

  /** Connects, joins the room and starts whatever media path its mode calls for. */
  async join(): Promise<TrellisJoinResult> {
    if (this.#state !== 'new')
      throw new TrellisClientError('INVALID_STATE', `join() in state ${this.#state}`);
    this.#state = 'joining';
    try {
      await this.signaling.connect();
      const reply = await this.signaling.request(Api.JoinRoom, { roomId: this.roomId }, { bypassHold: true });
      if (this.#state !== 'joining')
        throw new TrellisClientError('CLOSED', 'the call was closed while joining');
      this.#adopt(reply);
      this.#enterJoined();
      return { participantId: reply.participantId, sessionId: reply.sessionId, mode: this.#room.mode };
    } catch (error) {
      this.#shutdown('closed');
      throw TrellisClientError.from(error, 'CONNECTION_FAILED');
    }
  }

  /** Tells signaling this participant leaves (best effort), then closes. */
  async leave(): Promise<void> {
    if (this.#state === 'closed') return;
    if (this.#state === 'joined') {
      try {
        await this.signaling.request(
          Api.LeaveRoom,
          { roomId: this.roomId },
          { timeoutMs: 3_000, bypassHold: true },
        );
      } catch (error) {
        this.#logger.debug('leave request failed', { error: String(error) });
      }
    }
    this.#shutdown('left');
  }

  /** Closes every path and the connection without telling signaling (it notices the socket). */
  close(): void {
    this.#shutdown('closed');
  }

  stats(): TrellisCallStats {
    return callStats(this.#state, this.#room, this.#selector, this.#paths);
  }

  /** The P2P connection's whole stats report (its selected candidate pair shows the peer), if any. */
  p2pStats(): Promise<RTCStatsReport | undefined> {
    return this.#paths.p2p?.getStats() ?? Promise.resolve(undefined);
  }

  /**
   * The receiver stats of the track shown for a participant's audio, video or screen, on whichever
   * path exposes it: its `inbound-rtp` entry names the codec (`codecId`) and counts decoded frames.
   */
  remoteTrackStats(
    participantId: string,
    kind: MediaKind,
    screen = false,
  ): Promise<RTCStatsReport | undefined> {
    return this.#selector.exposedStatsOf(participantId, kind, screen)?.() ?? Promise.resolve(undefined);
  }

  // --- signaling events -------------------------------------------------------------------------

  #listen(): void {
    listenToSignaling(this.signaling, (handler) => this.#dispatch(handler), {
      room: this.#room,
      paths: this.#paths,
      readiness: this.#readiness,
      policy: this.#policy,
      logger: this.#logger,
      emit: (event, ...args) => this.safeEmit(event, ...args),
      state: () => this.#state,
      removeParticipant: (id, reason) => this.#removeParticipant(id, reason),
      applyMode: (event) => this.#applyMode(event),
      emitError: (error) => this.#emitError(error),
      shutdown: (reason) => this.#shutdown(reason),
      resume: () => void this.#resume(),
    });
  }

  #dispatch(handler: () => void): void {
    if (this.#state === 'joined') handler();
    else if (this.#state === 'joining' || this.#state === 'resuming') this.#deferred.push(handler);
  }

  #enterJoined(): void {
    this.#state = 'joined';
    this.signaling.releaseHeldRequests();
    const deferred = this.#deferred;
    this.#deferred = [];
    for (const handler of deferred) handler();
    this.#readiness.setEnabled(true);
  }

  /** Rejoins with the old session id: within the grace period signaling gives the participant back. */
  async #resume(): Promise<void> {
    if (this.#state !== 'joined' && this.#state !== 'resuming') return;
    this.#state = 'resuming';
    this.#readiness.setEnabled(false);
    const { sessionId } = this.#room;
    try {
      const reply = await this.signaling.request(
        Api.JoinRoom,
        { roomId: this.roomId, ...(sessionId ? { resumeSessionId: sessionId } : {}) },
        { bypassHold: true },
      );
      if (this.#state !== 'resuming') return;
      // Not resumed: signaling let us go, our SFU producers and transports are gone. Start over.
      if (!reply.resumed) {
        this.#paths.closeAll();
        this.#selector.clear();
        // A new participant in a call that may have been recreated: its versions start over too.
        this.#room.version = -1;
      }
      this.#adopt(reply);
      this.#enterJoined();
      this.safeEmit('reconnected', { resumed: reply.resumed });
    } catch (error) {
      if (this.#state !== 'resuming') return;
      // Still connected means signaling refused; otherwise the next reconnection tries again.
      if (this.signaling.connected) {
        this.#emitError(TrellisClientError.from(error, 'DISCONNECTED'));
        this.#shutdown('disconnected');
      }
    }
  }

  /**
   * Takes in a join or resume reply: who we are, who is there, what is published, and the mode to
   * follow. Working media is kept: the mode rules below only build what is missing.
   */
  #adopt(reply: JoinReply): void {
    const room = this.#room;
    const announce = room.participantId !== undefined;
    room.participantId = reply.participantId;
    room.sessionId = reply.sessionId;
    room.iceServers = reply.iceServers as RTCIceServer[];
    const snapshot = reply.room;
    const present = new Set(snapshot.participants.map((p) => p.id));
    for (const id of [...room.participants.keys()]) if (!present.has(id)) this.#removeParticipant(id, 'left');
    for (const participant of snapshot.participants) {
      const known = room.participants.has(participant.id);
      room.participants.set(participant.id, participant);
      if (announce && !known && participant.id !== reply.participantId) {
        this.safeEmit('participant-joined', { participant });
      }
    }
    room.replaceProducers(snapshot.producers);
    if (snapshot.activeSpeaker && this.#policy.setActiveSpeaker(snapshot.activeSpeaker.participantId)) {
      this.#paths.applyPreferences();
      this.safeEmit('active-speaker', snapshot.activeSpeaker);
    }
    if (reply.resumed) this.#paths.resumeSfu(snapshot.producers);
    // A mode change newer than this snapshot may already have been applied (it reached us first).
    if (snapshot.version < room.version) return;
    room.version = snapshot.version;
    this.#applyMode({
      mode: snapshot.mode,
      previous: room.mode,
      reason: 'snapshot',
      ...(snapshot.transition ? { transition: snapshot.transition } : {}),
      ...(snapshot.p2pOfferer ? { p2pOfferer: snapshot.p2pOfferer } : {}),
    });
  }

  #removeParticipant(participantId: string, reason: LeaveReason): void {
    const room = this.#room;
    if (!room.participants.delete(participantId)) return;
    for (const [id, producer] of room.producers) {
      if (producer.participantId !== participantId) continue;
      room.removeProducer(id);
      this.#paths.sfu?.removeProducer(id);
    }
    if (this.#paths.p2p?.remoteParticipantId === participantId) this.#paths.closeP2p();
    this.#selector.removeParticipant(participantId);
    this.#streams.remove(participantId);
    this.#policy.forget(participantId);
    this.safeEmit('participant-left', { participantId, reason });
    this.#readiness.check();
  }

  #applyMode(event: ModeChangedEvent): void {
    const { previous, changed } = followMode(this.#room, this.#selector, this.#paths, event);
    this.#readiness.update();
    if (changed) this.safeEmit('mode-changed', { ...event, previous });
    this.#readiness.check();
  }

  #publishableTracks(): MediaStreamTrack[] {
    if (!this.#room.canPublish()) return [];
    return this.#local.live;
  }

  #emitError(error: TrellisClientError): void {
    this.#logger.warn(error.message, { code: error.code, ...error.details });
    this.safeEmit('error', error);
  }

  #shutdown(reason: TrellisCallEvents['closed'][0]['reason']): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#deferred = [];
    this.#readiness.close();
    this.#quality.close();
    this.#paths.closeAll();
    this.#streams.clear();
    this.#selector.clear();
    this.#selector.close();
    this.signaling.close();
    this.safeEmit('closed', { reason });
    this.removeAllListeners();
  }
}

/** The SignalingClient of a call: requests wait while it reconnects, until the resume is applied. */
function callSignaling(o: TrellisCallOptions, logger: TrellisLogger): SignalingClient {
  return new SignalingClient({
    url: o.url,
    token: o.token,
    holdRequestsWhileReconnecting: true,
    logger,
    ...(o.requestTimeoutMs ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    ...(o.socketOptions ? { socketOptions: o.socketOptions } : {}),
  });
}
