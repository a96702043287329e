import { Api } from '@trellis/protocol';
import type { types as msc } from 'mediasoup-client';
import type { TrellisLogger } from './Logger';
import { P2pSession } from './P2pSession';
import type { ConsumerPreferences } from './ReceivePolicy';
import type { RemoteTrackSelector } from './RemoteTrackSelector';
import type { RoomState } from './RoomState';
import { SfuSession } from './SfuSession';
import type { SfuRemoteTrack, VideoCodecPreference } from './SfuSessionTypes';
import type { ApiRequestFn } from './SignalingClientTypes';
import { TrellisClientError } from './TrellisClientError';
import { TypedEmitter } from './TypedEmitter';

type RouterRoom = Api.RoomSnapshot & {
  routerRtpCapabilities: NonNullable<Api.RoomSnapshot['routerRtpCapabilities']>;
};

/** Signals for a P2P connection not made yet (the offer may beat our own mode change) live this long. */
const PENDING_SIGNAL_TTL_MS = 10_000;
const ROUTER_POLL_MS = 250;
/**
 * Off a draining node the old path keeps publishing this long once the new one is up: the others
 * learn of the new producers, consume them and wait for a keyframe while still watching the old
 * (bench:chaos: up to ~1.5 s when a whole loaded node moves at once). It costs a second upload for that time.
 */
const DRAIN_OVERLAP_MS = 2500;
const ROUTER_POLL_ATTEMPTS = 40;

export interface MediaPathsOptions {
  room: RoomState;
  request: ApiRequestFn;
  selector: RemoteTrackSelector;
  localTracks: () => MediaStreamTrack[];
  /** The screen being shared, if any (sent beside the camera on both paths). */
  screenTrack: () => MediaStreamTrack | null;
  RTCPeerConnection?: typeof RTCPeerConnection;
  handlerFactory?: msc.HandlerFactory;
  /** Camera simulcast on the SFU (default true). */
  simulcast?: boolean;
  videoCodec?: VideoCodecPreference;
  /** What to receive of each SFU consumer (pagination, simulcast layer); applied as consumers appear. */
  receivePreferences?: (remote: SfuRemoteTrack) => ConsumerPreferences;
  logger: TrellisLogger;
}

export type MediaPathsEvents = {
  error: [TrellisClientError];
  /** A path finished building: readiness may have changed. */
  built: [];
};

/**
 * The two media paths of one participant: at most one P2P connection and one SFU session. Each is
 * built when the mode asks for it and torn down on its own; remote tracks go to the selector, which
 * decides what the application sees, so building and tearing down never touch what is on screen.
 */
export class MediaPaths extends TypedEmitter<MediaPathsEvents> {
  readonly #o: MediaPathsOptions;
  #p2p: { session: P2pSession; transitionId: string | undefined; keys: Set<string> } | undefined;
  #p2pSeq = 0;
  #sfu: SfuSession | undefined;
  #pendingSignals: Array<{ from: string; signal: Api.P2pSignal; at: number }> = [];
  #rehoming: Promise<void> = Promise.resolve();

  constructor(options: MediaPathsOptions) {
    super();
    this.#o = options;
  }

  get p2p(): P2pSession | undefined {
    return this.#p2p?.session;
  }

  get sfu(): SfuSession | undefined {
    return this.#sfu;
  }

  /**
   * Keeps or makes the P2P connection with the one other participant. With `freshPerTransition`, a
   * connection made for another transition is replaced: both sides see the same transition id, so
   * both rebuild for a retried migration.
   */
  ensureP2p(freshPerTransition: boolean): void {
    const { room } = this.#o;
    const self = room.participantId;
    if (!self) return;
    const others = room.others();
    const current = this.#p2p;
    const currentRemote = current?.session.remoteParticipantId;
    // Three in `p2p` happens after a rolled-back migration: the pair keeps its connection, the third waits.
    const remoteId =
      currentRemote && others.includes(currentRemote)
        ? currentRemote
        : others.length === 1
          ? others[0]
          : undefined;
    if (!remoteId) {
      this.closeP2p();
      return;
    }
    const stale = freshPerTransition && current?.transitionId !== room.transition?.id;
    if (current && !current.session.closed && currentRemote === remoteId && !stale) return;
    this.closeP2p();
    this.#openP2p(self, remoteId);
  }

  /** A signal from another participant: to its connection, or kept until that connection exists. */
  handleSignal(from: string, signal: Api.P2pSignal): void {
    const session = this.#p2p?.session;
    if (session && session.remoteParticipantId === from) {
      void session.handleSignal(signal);
      return;
    }
    const now = Date.now();
    this.#pendingSignals = this.#pendingSignals.filter((s) => now - s.at < PENDING_SIGNAL_TTL_MS);
    this.#pendingSignals.push({ from, signal, at: now });
  }

  closeP2p(): void {
    const entry = this.#p2p;
    if (!entry) return;
    this.#p2p = undefined;
    entry.session.close();
    for (const key of entry.keys) this.#o.selector.remove(key);
  }

  /** Keeps or starts the SFU session (getRoom for the router, Device, transports, publish, consume). */
  ensureSfu(): void {
    const { room, logger } = this.#o;
    const self = room.participantId;
    if (!self || (this.#sfu && !this.#sfu.closed)) return;
    const session = new SfuSession({
      roomId: room.roomId,
      participantId: self,
      request: this.#o.request,
      ...(this.#o.handlerFactory ? { handlerFactory: this.#o.handlerFactory } : {}),
      ...(room.iceServers.length > 0 ? { iceServers: room.iceServers } : {}),
      ...(this.#o.simulcast !== undefined ? { simulcast: this.#o.simulcast } : {}),
      ...(this.#o.videoCodec ? { videoCodec: this.#o.videoCodec } : {}),
      logger,
    });
    const { selector } = this.#o;
    session.on('consumer', (r) => {
      selector.add({
        key: `sfu:${r.consumerId}`,
        participantId: r.participantId,
        kind: r.kind,
        path: 'sfu',
        track: r.track,
        getStats: r.getStats,
        screen: r.screen,
      });
      this.#applyPreferences(session, r);
    });
    session.on('consumer-closed', (r) => selector.remove(`sfu:${r.consumerId}`));
    session.on('publish-failed', ({ error }) => this.safeEmit('error', error));
    session.on('transport-failed', ({ direction }) =>
      this.safeEmit(
        'error',
        new TrellisClientError('MEDIA_FAILED', `the SFU ${direction} transport failed`, { direction }),
      ),
    );
    this.#sfu = session;
    void this.#startSfu(session);
  }

  /** A device switch: both paths send `track` for its kind from now on, on the same senders. */
  async replaceTrack(kind: 'audio' | 'video', track: MediaStreamTrack | null): Promise<void> {
    await Promise.all([this.#p2p?.session.replaceTrack(kind, track), this.#sfu?.replaceTrack(kind, track)]);
  }

  /** Starts, changes or stops (`null`) the screen share on both paths. */
  async replaceScreen(track: MediaStreamTrack | null): Promise<void> {
    await Promise.all([this.#p2p?.session.replaceScreen(track), this.#sfu?.setScreen(track)]);
  }

  /** Re-applies the receive preferences to every SFU consumer (tiles or the active speaker changed). */
  applyPreferences(): void {
    const session = this.#sfu;
    if (!session) return;
    for (const remote of session.remoteTracks) this.#applyPreferences(session, remote);
  }

  #applyPreferences(session: SfuSession, remote: SfuRemoteTrack): void {
    const prefs = this.#o.receivePreferences?.(remote);
    if (!prefs) return;
    session.setConsumerPreferences(remote.consumerId, prefs).catch((error: unknown) =>
      this.#o.logger.debug('consumer preferences not applied', {
        consumerId: remote.consumerId,
        error: String(error),
      }),
    );
  }

  closeSfu(): void {
    const session = this.#sfu;
    if (!session) return;
    this.#sfu = undefined;
    session.close();
    this.#o.selector.removePath('sfu');
  }

  closeAll(): void {
    this.closeP2p();
    this.closeSfu();
    this.#pendingSignals = [];
  }

  /**
   * After a resumed reconnection: brings the SFU session in line with the snapshot (consume what is
   * new, drop what is gone, leave working media alone). If none of our producers is listed,
   * signaling re-homed us while we were away (its `rehome` event was lost): rebuild instead.
   */
  resumeSfu(producers: Api.ProducerInfo[]): void {
    const sfu = this.#sfu;
    if (!sfu?.started) return;
    const listed = new Set(producers.map((p) => p.id));
    const ours = sfu.producerIds;
    if (ours.length > 0 && !ours.some((id) => listed.has(id))) void this.rehome('producers lost while away');
    else sfu.reconcile(producers);
  }

  /** Our SFU node died or drains: new transports on the new node, then the old ones go. */
  rehome(reason: string, routerRtpCapabilities?: Api.RoomSnapshot['routerRtpCapabilities']): Promise<void> {
    const run = async () => {
      const session = this.#sfu;
      if (!session || session.closed) return;
      if (!session.started) {
        // Still starting: starting over lands on the new node anyway.
        this.closeSfu();
        this.ensureSfu();
        return;
      }
      // With the new node's capabilities in the event, the call's producers are the ones we track.
      const room = routerRtpCapabilities
        ? { routerRtpCapabilities, producers: [...this.#o.room.producers.values()] }
        : await this.#routerRoom(session);
      if (!room || session.closed) return;
      this.#o.logger.info('rehoming the SFU path', { reason, nodeId: session.nodeId });
      await session.rehome({
        routerRtpCapabilities: room.routerRtpCapabilities,
        producers: room.producers,
        ...(reason === 'draining' ? { overlapMs: DRAIN_OVERLAP_MS, releaseOld: true } : {}),
      });
      this.safeEmit('built');
    };
    this.#rehoming = this.#rehoming
      .then(run)
      .catch((error: unknown) => void this.safeEmit('error', TrellisClientError.from(error)));
    return this.#rehoming;
  }

  #openP2p(self: string, remoteId: string): void {
    const { room, selector } = this.#o;
    const seq = ++this.#p2pSeq;
    // Signaling names the offerer; the id order is only a fallback both sides compute alike.
    const offerer = room.p2pOfferer ? room.p2pOfferer === self : self < remoteId;
    const session = new P2pSession({
      remoteParticipantId: remoteId,
      offerer,
      iceServers: room.iceServers,
      localTracks: this.#o.localTracks(),
      screenTrack: this.#o.screenTrack(),
      sendSignal: async (signal) => {
        await this.#o.request(Api.RelaySignal, { roomId: room.roomId, to: remoteId, signal });
      },
      ...(this.#o.RTCPeerConnection ? { RTCPeerConnection: this.#o.RTCPeerConnection } : {}),
      logger: this.#o.logger,
    });
    const entry = { session, transitionId: room.transition?.id, keys: new Set<string>() };
    session.on('track', ({ kind, track, getStats, screen }) => {
      const key = `p2p:${seq}:${track.id}`;
      entry.keys.add(key);
      selector.add({ key, participantId: remoteId, kind, path: 'p2p', track, getStats, screen });
    });
    session.on('failed', () =>
      this.safeEmit(
        'error',
        new TrellisClientError('MEDIA_FAILED', 'the P2P connection failed', {
          remoteParticipantId: remoteId,
        }),
      ),
    );
    this.#p2p = entry;
    void session.start();
    const now = Date.now();
    const pending = this.#pendingSignals;
    this.#pendingSignals = [];
    for (const item of pending) {
      if (item.from === remoteId && now - item.at < PENDING_SIGNAL_TTL_MS)
        void session.handleSignal(item.signal);
    }
  }

  async #startSfu(session: SfuSession): Promise<void> {
    try {
      const room = await this.#routerRoom(session);
      if (!room || session.closed) return;
      await session.start({
        routerRtpCapabilities: room.routerRtpCapabilities,
        localTracks: this.#o.localTracks(),
        screenTrack: this.#o.screenTrack(),
        producers: [...this.#o.room.producers.values()],
      });
      this.safeEmit('built');
    } catch (error) {
      if (session.closed) return;
      this.safeEmit('error', TrellisClientError.from(error));
      // Nothing half-built is kept: the next mode change (a retried migration) starts afresh.
      session.close();
      if (this.#sfu === session) {
        this.#sfu = undefined;
        this.#o.selector.removePath('sfu');
      }
    }
  }

  /** getRoom until it carries router capabilities (signaling assigns our node on first ask). */
  async #routerRoom(session: SfuSession): Promise<RouterRoom | undefined> {
    const { room, request } = this.#o;
    for (let attempt = 0; attempt < ROUTER_POLL_ATTEMPTS && !session.closed; attempt++) {
      const snapshot = await request(Api.GetRoom, { roomId: room.roomId });
      if (session.closed) return undefined;
      room.mergeProducers(snapshot.producers);
      if (snapshot.routerRtpCapabilities) return snapshot as RouterRoom;
      if (snapshot.mode === 'idle' || snapshot.mode === 'p2p') return undefined;
      await new Promise((resolve) => setTimeout(resolve, ROUTER_POLL_MS));
    }
    if (!session.closed)
      throw new TrellisClientError('MEDIA_FAILED', 'signaling gave no SFU router capabilities');
    return undefined;
  }
}
