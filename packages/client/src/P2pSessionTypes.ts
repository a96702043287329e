import type { Api } from '@trellis/protocol';
import type { TrellisLogger } from './Logger';
import type { StatsSource } from './statsSources';

export interface P2pSessionOptions {
  /** The participant at the other end. */
  remoteParticipantId: string;
  /**
   * Whether this side sends offers (signaling's `p2pOfferer` names it). Only the offerer ever
   * offers, so the two sides can't glare; the other only answers.
   */
  offerer: boolean;
  iceServers?: RTCIceServer[];
  /** Sent on the connection; never stopped by the session (the application owns them). */
  localTracks?: MediaStreamTrack[];
  /** A screen being shared, sent on the connection's second video transceiver. */
  screenTrack?: MediaStreamTrack | null;
  /** Delivers a signal to the other participant (signaling's `signal` request). */
  sendSignal: (signal: Api.P2pSignal) => Promise<void>;
  /** Default: `globalThis.RTCPeerConnection` (wrtc's, once its globals are installed, in Node). */
  RTCPeerConnection?: typeof RTCPeerConnection;
  logger?: TrellisLogger;
}

export interface P2pRemoteTrack {
  kind: 'audio' | 'video';
  /** Arrived on the second video transceiver: the other side's screen share. */
  screen: boolean;
  track: MediaStreamTrack;
  /** Stats of just this track's inbound stream (falls back to the connection's report). */
  getStats: StatsSource;
}

export type P2pSessionEvents = {
  /** A remote track exists (it may deliver media only later; see MediaFlowWatcher). */
  track: [P2pRemoteTrack];
  connectionstatechange: [RTCPeerConnectionState];
  /** ICE/DTLS failed and (for the offerer) an ICE restart did not bring it back. */
  failed: [];
  '@close': [];
};
