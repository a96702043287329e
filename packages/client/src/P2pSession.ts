import type { Api } from '@trellis/protocol';
import { silentLogger, type TrellisLogger } from './Logger';
import type { P2pRemoteTrack, P2pSessionEvents, P2pSessionOptions } from './P2pSessionTypes';
import { receiverStats, sharedStats } from './statsSources';
import { TrellisClientError } from './TrellisClientError';
import { TypedEmitter } from './TypedEmitter';

const KINDS = ['audio', 'video'] as const;
/** ICE restarts the offerer tries after `failed` before giving up on the connection. */
const MAX_ICE_RESTARTS = 2;

/**
 * One RTCPeerConnection to one remote participant. Negotiation is "perfect negotiation lite": the
 * offerer rule replaces rollback (only one side ever offers), trickle ICE candidates that arrive
 * before the remote description are queued, and every signal is applied in arrival order.
 */
export class P2pSession extends TypedEmitter<P2pSessionEvents> {
  readonly remoteParticipantId: string;
  readonly offerer: boolean;
  readonly #pc: RTCPeerConnection;
  readonly #logger: TrellisLogger;
  readonly #sendSignal: (signal: Api.P2pSignal) => Promise<void>;
  #localTracks: MediaStreamTrack[];
  readonly #pcStats: () => Promise<RTCStatsReport>;
  /** By kind, and `screen` for the second video transceiver. */
  readonly #remoteTracks = new Map<'audio' | 'video' | 'screen', P2pRemoteTrack>();
  #screenTrack: MediaStreamTrack | null;
  /** Candidates received before any remote description: addIceCandidate would reject them. */
  #pendingCandidates: RTCIceCandidateInit[] = [];
  /** Signals are applied one at a time: SRD is async and candidates must wait for it. */
  #queue: Promise<void> = Promise.resolve();
  #started = false;
  #closed = false;
  #iceRestarts = 0;

  constructor(options: P2pSessionOptions) {
    super();
    this.remoteParticipantId = options.remoteParticipantId;
    this.offerer = options.offerer;
    this.#logger = options.logger ?? silentLogger;
    this.#sendSignal = options.sendSignal;
    this.#localTracks = [...(options.localTracks ?? [])];
    this.#screenTrack = options.screenTrack ?? null;
    const PeerConnection = options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    if (!PeerConnection) {
      throw new TrellisClientError(
        'MEDIA_FAILED',
        'no RTCPeerConnection: pass webrtc.RTCPeerConnection (or install wrtc globals)',
      );
    }
    this.#pc = new PeerConnection({ iceServers: options.iceServers ?? [] });
    this.#pcStats = sharedStats(() => this.#pc.getStats());
    this.#pc.onicecandidate = (event) => this.#onLocalCandidate(event.candidate);
    this.#pc.ontrack = (event) => this.#onTrack(event.track, event.receiver);
    this.#pc.onconnectionstatechange = () => this.#onConnectionState();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get connectionState(): RTCPeerConnectionState {
    return this.#closed ? 'closed' : this.#pc.connectionState;
  }

  get remoteTracks(): P2pRemoteTrack[] {
    return [...this.#remoteTracks.values()];
  }

  /** The connection's whole stats report. */
  getStats(): Promise<RTCStatsReport> {
    return this.#pcStats();
  }

  /**
   * Adds the local tracks and, on the offerer, sends the first offer. The answerer only prepares:
   * its transceivers come from the offer (`handleSignal`).
   */
  start(): Promise<void> {
    if (this.#started || this.#closed) return this.#queue;
    this.#started = true;
    if (!this.offerer) return this.#queue;
    for (const kind of KINDS) {
      const track = this.#localTracks.find((t) => t.kind === kind);
      // Both kinds are always offered sendrecv, so a side without a camera still receives the
      // other's video and can start sending later by replaceTrack, with no renegotiation.
      this.#pc.addTransceiver(track ?? kind, { direction: 'sendrecv' });
    }
    // The screen share's transceiver is negotiated from the start: sharing is a replaceTrack.
    this.#pc.addTransceiver(this.#screenTrack ?? 'video', { direction: 'sendrecv' });
    return this.#enqueue(() => this.#offer(false));
  }

  /**
   * Sends `track` instead of the current local track of its kind (a device switch), or nothing
   * (`null`). The transceiver stays: the remote side keeps its track and sees new frames on it.
   */
  async replaceTrack(kind: 'audio' | 'video', track: MediaStreamTrack | null): Promise<void> {
    this.#localTracks = [...this.#localTracks.filter((t) => t.kind !== kind), ...(track ? [track] : [])];
    if (this.#closed) return;
    const transceiver = this.#transceiversOf(kind)[0];
    // Before negotiation the answerer attaches its tracks when the offer arrives.
    if (!transceiver) return;
    await transceiver.sender.replaceTrack(track);
  }

  /** Starts (a track) or stops (`null`) sending a screen share, on the second video transceiver. */
  async replaceScreen(track: MediaStreamTrack | null): Promise<void> {
    this.#screenTrack = track;
    if (this.#closed) return;
    const transceiver = this.#transceiversOf('video')[1];
    if (!transceiver) return;
    await transceiver.sender.replaceTrack(track);
  }

  /** Negotiated transceivers of `kind`, in m-line order (video: camera, then screen). */
  #transceiversOf(kind: 'audio' | 'video'): RTCRtpTransceiver[] {
    return this.#pc
      .getTransceivers()
      .filter((t) => t.receiver.track.kind === kind && t.mid !== null && t.currentDirection !== 'stopped');
  }

  /** Applies a signal from the remote participant. Never rejects: failures are logged. */
  handleSignal(signal: Api.P2pSignal): Promise<void> {
    return this.#enqueue(async () => {
      if (signal.kind === 'candidate') await this.#addCandidate(signal.candidate);
      else await this.#applyDescription(signal.description);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pc.onicecandidate = null;
    this.#pc.ontrack = null;
    this.#pc.onconnectionstatechange = null;
    // The senders' tracks are the application's: closing the connection leaves them live.
    this.#pc.close();
    this.#remoteTracks.clear();
    this.#pendingCandidates = [];
    this.safeEmit('@close');
    this.removeAllListeners();
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(async () => {
      if (this.#closed) return;
      try {
        await task();
      } catch (error) {
        if (!this.#closed)
          this.#logger.warn('p2p negotiation step failed', {
            remote: this.remoteParticipantId,
            error: String(error),
          });
      }
    });
    return this.#queue;
  }

  async #offer(iceRestart: boolean): Promise<void> {
    const offer = await this.#pc.createOffer(iceRestart ? { iceRestart: true } : {});
    if (this.#closed) return;
    await this.#pc.setLocalDescription(offer);
    const local = this.#pc.localDescription;
    if (!local || this.#closed) return;
    await this.#send({ kind: 'description', description: { type: 'offer', sdp: local.sdp } });
  }

  async #applyDescription(description: { type: 'offer' | 'answer'; sdp: string }): Promise<void> {
    if (description.type === 'offer' && this.offerer) {
      // Glare can't happen under the offerer rule; an offer here is stale or misrouted.
      this.#logger.warn('offerer ignored an offer', { remote: this.remoteParticipantId });
      return;
    }
    if (description.type === 'answer' && (!this.offerer || this.#pc.signalingState !== 'have-local-offer')) {
      this.#logger.warn('ignored an unexpected answer', {
        remote: this.remoteParticipantId,
        state: this.#pc.signalingState,
      });
      return;
    }
    await this.#pc.setRemoteDescription(description);
    if (this.#closed) return;
    await this.#flushCandidates();
    if (description.type === 'answer') return;
    await this.#attachLocalTracks();
    const answer = await this.#pc.createAnswer();
    if (this.#closed) return;
    await this.#pc.setLocalDescription(answer);
    const local = this.#pc.localDescription;
    if (!local || this.#closed) return;
    await this.#send({ kind: 'description', description: { type: 'answer', sdp: local.sdp } });
  }

  /**
   * On the answerer: every offered transceiver answers sendrecv (so a track can be sent later by
   * replaceTrack alone), each local track on the transceiver of its kind.
   */
  async #attachLocalTracks(): Promise<void> {
    for (const transceiver of this.#pc.getTransceivers()) {
      if (transceiver.mid === null || transceiver.currentDirection === 'stopped') continue;
      transceiver.direction = 'sendrecv';
    }
    for (const track of this.#localTracks) {
      const transceiver = this.#transceiversOf(track.kind === 'audio' ? 'audio' : 'video')[0];
      if (transceiver && transceiver.sender.track === null) await transceiver.sender.replaceTrack(track);
    }
    const screen = this.#transceiversOf('video')[1];
    if (screen && this.#screenTrack) await screen.sender.replaceTrack(this.#screenTrack);
  }

  async #addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    if (!candidate.candidate) return;
    if (!this.#pc.remoteDescription) {
      this.#pendingCandidates.push(candidate);
      return;
    }
    await this.#pc.addIceCandidate(candidate);
  }

  async #flushCandidates(): Promise<void> {
    const pending = this.#pendingCandidates;
    this.#pendingCandidates = [];
    for (const candidate of pending) {
      try {
        await this.#pc.addIceCandidate(candidate);
      } catch (error) {
        this.#logger.debug('dropped a queued candidate', { error: String(error) });
      }
    }
  }

  #onLocalCandidate(candidate: RTCIceCandidate | null): void {
    if (!candidate?.candidate || this.#closed) return;
    void this.#send({
      kind: 'candidate',
      candidate: {
        candidate: candidate.candidate,
        sdpMid: candidate.sdpMid,
        sdpMLineIndex: candidate.sdpMLineIndex,
      },
    });
  }

  async #send(signal: Api.P2pSignal): Promise<void> {
    try {
      await this.#sendSignal(signal);
    } catch (error) {
      if (!this.#closed)
        this.#logger.warn('p2p signal not delivered', {
          remote: this.remoteParticipantId,
          kind: signal.kind,
          error: String(error),
        });
    }
  }

  #onTrack(track: MediaStreamTrack, receiver: RTCRtpReceiver): void {
    if (this.#closed) return;
    const kind = track.kind === 'audio' ? 'audio' : 'video';
    const screen = kind === 'video' && this.#transceiversOf('video')[1]?.receiver === receiver;
    const slot = screen ? 'screen' : kind;
    if (this.#remoteTracks.get(slot)?.track === track) return;
    const remote: P2pRemoteTrack = {
      kind,
      screen,
      track,
      getStats: receiverStats(() => receiver.getStats(), this.#pcStats),
    };
    this.#remoteTracks.set(slot, remote);
    this.safeEmit('track', remote);
  }

  #onConnectionState(): void {
    if (this.#closed) return;
    const state = this.#pc.connectionState;
    this.safeEmit('connectionstatechange', state);
    if (state === 'connected') this.#iceRestarts = 0;
    if (state !== 'failed') return;
    if (this.offerer && this.#iceRestarts < MAX_ICE_RESTARTS) {
      this.#iceRestarts++;
      this.#logger.info('p2p connection failed: restarting ICE', {
        remote: this.remoteParticipantId,
        attempt: this.#iceRestarts,
      });
      void this.#enqueue(() => this.#offer(true));
      return;
    }
    this.safeEmit('failed');
  }
}
