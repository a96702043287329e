import type { Api } from '@trellis/protocol';
import type { types as msc } from 'mediasoup-client';
import type { ConnectionQualityEvent } from './ConnectionQuality';
import type { TrellisLogger } from './Logger';
import type {
  ExposedTrack,
  MediaKind,
  MediaPath,
  RemoteTrackSelectorOptions,
  SlotStats,
} from './RemoteTrackSelectorTypes';
import type { VideoCodecPreference } from './SfuSessionTypes';
import type { SignalingChannel, SignalingClientOptions } from './SignalingClientTypes';
import type { TrellisClientError } from './TrellisClientError';

export interface TrellisCallOptions {
  /** Signaling's Socket.IO URL, or several signaling nodes to fail over between. */
  url: string | readonly string[];
  /** The room grant (JWT), or a function returning a fresh one for every (re)connection. */
  token: string | (() => string | Promise<string>);
  roomId: string;
  /** Sent on every path; the application owns them (the SDK never stops them). */
  localTracks?: MediaStreamTrack[];
  /** WebRTC implementation for the P2P path. Default: the globals (wrtc's once installed, in Node). */
  webrtc?: { RTCPeerConnection?: typeof RTCPeerConnection };
  /** mediasoup-client handler factory (e.g. `Chrome111.createFactory({})` on wrtc). Default: detected. */
  handlerFactory?: msc.HandlerFactory;
  /** Camera video as three simulcast layers on the SFU. Default true. */
  simulcast?: boolean;
  /** Video codec on the SFU: `av1` where the router and this browser can, else VP8. Default `vp8`. */
  videoCodec?: VideoCodecPreference;
  logger?: TrellisLogger;
  /** Default 10 s. */
  requestTimeoutMs?: number;
  /**
   * During a migration, another participant allowed to publish but with no producer announced is
   * waited for this long before it counts as not publishing. Default 5000 ms.
   */
  publishGraceMs?: number;
  /** Media-flow detection and end-of-track grace (see RemoteTrackSelector). */
  trackSelection?: RemoteTrackSelectorOptions;
  socketOptions?: SignalingClientOptions['socketOptions'];
  /**
   * A ready-made signaling channel instead of a SignalingClient on `url`/`token` (in-process tests,
   * other transports). It must hold requests after a reconnection until `releaseHeldRequests()`.
   */
  signaling?: SignalingChannel;
}

export type ModeChangeReason = Api.ClientEventPayload<'mode-changed'>['reason'] | 'snapshot';

export interface ModeChangedEvent {
  /** The call's version after the change (absent for the SDK's own snapshot-derived changes). */
  version?: number;
  mode: Api.CallMode;
  previous: Api.CallMode;
  /** `snapshot`: learned from a join/resume reply rather than an event. */
  reason: ModeChangeReason;
  transition?: Api.TransitionInfo;
  p2pOfferer?: string;
}

/** The track to render for a participant's audio or video changed: re-attach the renderer/sink. */
export type RemoteTrackEvent = ExposedTrack & {
  /** The participant's stable stream, now holding `track` (absent without MediaStream). */
  stream?: MediaStream;
};

export interface PathReadyEvent {
  transitionId: string;
  path: MediaPath;
  mediaGapMs?: number;
}

export type TrellisCallState = 'new' | 'joining' | 'joined' | 'resuming' | 'closed';

export type TrellisCallEvents = {
  'mode-changed': [ModeChangedEvent];
  'participant-joined': [{ participant: Api.ParticipantInfo }];
  'participant-left': [
    { participantId: string; reason: Api.ClientEventPayload<'participant-left'>['reason'] },
  ];
  'participant-connection': [{ participantId: string; connected: boolean }];
  /** A participant's info changed (mute state); also for this participant's own setMuted. */
  'participant-updated': [{ participant: Api.ParticipantInfo }];
  /** This participant's receive quality changed level (loss, RTT). */
  'connection-quality': [ConnectionQualityEvent];
  'remote-track': [RemoteTrackEvent];
  'remote-track-ended': [{ participantId: string; kind: MediaKind; screen: boolean }];
  /** This participant reported the migration's new path as delivering. */
  'path-ready': [PathReadyEvent];
  'active-speaker': [{ participantId: string; producerId: string }];
  /** Signaling dropped; the SDK is reconnecting (media keeps flowing meanwhile). */
  reconnecting: [{ reason: string }];
  /** Signaling is back: `resumed` false means the server had let us go and the call was rejoined. */
  reconnected: [{ resumed: boolean }];
  error: [TrellisClientError];
  closed: [{ reason: 'left' | 'closed' | 'replaced' | 'disconnected' }];
};

export interface TrellisJoinResult {
  participantId: string;
  sessionId: string;
  mode: Api.CallMode;
}

export interface TrellisCallStats {
  state: TrellisCallState;
  mode: Api.CallMode;
  participantId: string | undefined;
  transitionId: string | undefined;
  /** Per remote participant and kind: the path whose track is exposed, and whether it flows. */
  remotes: Record<string, Partial<Record<MediaKind | 'screen', SlotStats>>>;
  p2p: { remoteParticipantId: string; connectionState: RTCPeerConnectionState; offerer: boolean } | undefined;
  sfu: { started: boolean; nodeId: string | undefined; producers: number; consumers: number } | undefined;
}
