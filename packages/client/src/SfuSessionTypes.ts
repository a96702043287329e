import type { Api } from '@trellis/protocol';
import type { types as msc } from 'mediasoup-client';
import type { TrellisLogger } from './Logger';
import type { ApiRequestFn } from './SignalingClientTypes';
import type { StatsSource } from './statsSources';
import type { TrellisClientError } from './TrellisClientError';

export interface SfuSessionOptions {
  roomId: string;
  /** This participant: its own producers in a snapshot are never consumed. */
  participantId: string;
  /** Sends API requests (a SignalingClient's `request`, or a test adapter). */
  request: ApiRequestFn;
  /** mediasoup-client handler (e.g. `Chrome111.createFactory({})` on wrtc). Default: detected. */
  handlerFactory?: msc.HandlerFactory;
  /** Passed to the transports (TURN for networks that can't reach the SFU directly). */
  iceServers?: RTCIceServer[];
  /** Camera video as three simulcast layers. Default true. */
  simulcast?: boolean;
  /** Camera and screen codec on the SFU (see `VideoCodecPreference`). Default `vp8`. */
  videoCodec?: VideoCodecPreference;
  logger?: TrellisLogger;
}

/**
 * The video codec to publish on the SFU. `av1` is used when the router offers it and this browser
 * can encode it, else VP8: every receiver that can decode AV1 gets better quality per bit, at a
 * higher encoding cost for the sender. VP8 is the default because every browser decodes it and
 * software AV1 encoding of three simulcast layers is heavy for a laptop in a 50-person call.
 */
export type VideoCodecPreference = 'vp8' | 'av1';

export interface SfuStartOptions {
  routerRtpCapabilities: Api.RoomSnapshot['routerRtpCapabilities'] & object;
  /** Published as producers; never stopped by the session. */
  localTracks: MediaStreamTrack[];
  /** A screen being shared: its own producer (appData.source `screen`, no simulcast). */
  screenTrack?: MediaStreamTrack | null;
  /** The room's producers: those of other participants are consumed. */
  producers: Api.ProducerInfo[];
}

export interface SfuRehomeOptions extends Omit<SfuStartOptions, 'localTracks' | 'screenTrack'> {
  /**
   * How long the old attachment keeps publishing and receiving once the new one is up. Off a
   * draining node (still forwarding) this is make-before-break for the others too: they watch the
   * old producers until they have consumed the new ones. Off a dead node there is nothing to keep.
   * Default 0.
   */
  overlapMs?: number;
  /**
   * The old node is alive (it drains): release our peer there through signaling once the overlap
   * is over, so its producers leave the call at once and the node can exit. Default false.
   */
  releaseOld?: boolean;
}

/** A remote participant's track received through the SFU (one consumer). */
export interface SfuRemoteTrack {
  participantId: string;
  producerId: string;
  consumerId: string;
  kind: 'audio' | 'video';
  /** The producer is a screen share (its appData.source). */
  screen: boolean;
  track: MediaStreamTrack;
  getStats: StatsSource;
}

export type SfuSessionEvents = {
  /** A consumer was created and resumed: its track will deliver media. */
  consumer: [SfuRemoteTrack];
  /** A consumer closed (its producer closed, its participant left, or its attachment was replaced). */
  'consumer-closed': [SfuRemoteTrack];
  /** A local track could not be published (the session carries on receiving). */
  'publish-failed': [{ kind: 'audio' | 'video'; error: TrellisClientError }];
  /** A producer could not be consumed (it may have closed meanwhile; a later snapshot retries). */
  'consume-failed': [{ producerId: string; participantId: string; error: TrellisClientError }];
  /** A transport's ICE/DTLS failed: the attachment is unusable until rehomed. */
  'transport-failed': [{ direction: 'send' | 'recv' }];
  '@close': [];
};

export type SfuAttachmentEvents = {
  'consumer-closed': [SfuRemoteTrack];
  'transport-failed': [{ direction: 'send' | 'recv' }];
  '@close': [];
};
