export {
  ConnectionQuality,
  type ConnectionQualityEvent,
  type ConnectionQualityOptions,
  type QualityLevel,
} from './ConnectionQuality';
export { LocalMedia } from './LocalMedia';
export { consoleLogger, type LogLevel, silentLogger, type TrellisLogger } from './Logger';
export {
  MediaFlowWatcher,
  type MediaFlowWatcherEvents,
  type MediaFlowWatcherOptions,
  readCounter,
} from './MediaFlowWatcher';
export { MediaPaths, type MediaPathsEvents, type MediaPathsOptions } from './MediaPaths';
export { P2pSession } from './P2pSession';
export type { P2pRemoteTrack, P2pSessionEvents, P2pSessionOptions } from './P2pSessionTypes';
export { type ConsumerPreferences, ReceivePolicy, type VideoView } from './ReceivePolicy';
export { RemoteStreams } from './RemoteStreams';
export { RemoteTrackSelector } from './RemoteTrackSelector';
export type {
  ExposedTrack,
  MediaKind,
  MediaPath,
  RemoteTrackSelectorEvents,
  RemoteTrackSelectorOptions,
  SlotStats,
  TrackCandidateInit,
} from './RemoteTrackSelectorTypes';
export { RoomState } from './RoomState';
export { SfuAttachment } from './SfuAttachment';
export { SfuSession } from './SfuSession';
export type {
  SfuRehomeOptions,
  SfuRemoteTrack,
  SfuSessionEvents,
  SfuSessionOptions,
  SfuStartOptions,
  VideoCodecPreference,
} from './SfuSessionTypes';
export { SignalingClient } from './SignalingClient';
export type {
  ApiRequestFn,
  RequestOptions,
  SignalingChannel,
  SignalingClientEvents,
  SignalingClientOptions,
} from './SignalingClientTypes';
export { receiverStats, type StatsSource, sharedStats } from './statsSources';
export { TrellisCall } from './TrellisCall';
export type {
  ModeChangedEvent,
  ModeChangeReason,
  PathReadyEvent,
  RemoteTrackEvent,
  TrellisCallEvents,
  TrellisCallOptions,
  TrellisCallState,
  TrellisCallStats,
  TrellisJoinResult,
} from './TrellisCallTypes';
export {
  type ClientOnlyErrorCode,
  isTrellisClientError,
  TrellisClientError,
  type TrellisClientErrorCode,
} from './TrellisClientError';
export { type EventMap, TypedEmitter } from './TypedEmitter';
