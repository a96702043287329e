import type { StatsSource } from './statsSources';

export type MediaPath = 'p2p' | 'sfu';
export type MediaKind = 'audio' | 'video';

/** A remote track one path offers for a (participant, kind) slot. */
export interface TrackCandidateInit {
  /** Unique per track (e.g. `sfu:<consumerId>`); removing uses it. */
  key: string;
  participantId: string;
  kind: MediaKind;
  path: MediaPath;
  track: MediaStreamTrack;
  getStats: StatsSource;
  /**
   * A screen share: its own slot beside the camera's, shown only while it delivers and ended when
   * it stops (sharing stopped), and not waited for by a migration.
   */
  screen?: boolean;
}

/** The track the application should render for a participant's audio or video. */
export interface ExposedTrack {
  participantId: string;
  kind: MediaKind;
  track: MediaStreamTrack;
  path: MediaPath;
  /** The participant's screen share rather than its camera. */
  screen: boolean;
}

export interface SlotStats {
  path: MediaPath;
  trackId: string;
  /** The exposed track currently delivers media. */
  flowing: boolean;
  /** The exposed track's path closed and its replacement does not deliver yet. */
  stale: boolean;
}

export interface RemoteTrackSelectorOptions {
  /** Watcher polling periods and stall threshold (see MediaFlowWatcher). */
  intervalMs?: number;
  steadyIntervalMs?: number;
  stallMs?: number;
  /**
   * How long a slot whose every track closed keeps showing the last one before `ended`: a
   * participant moving to another node closes its producers and republishes a moment later.
   * Default 3000 ms.
   */
  endGraceMs?: number;
}

export type RemoteTrackSelectorEvents = {
  /** The exposed track of a slot changed (or the slot got its first track). */
  exposed: [ExposedTrack];
  /** A slot has no track any more. */
  ended: [{ participantId: string; kind: MediaKind; screen: boolean }];
  /** A candidate started or stopped delivering: readiness may have changed. */
  flow: [{ participantId: string; kind: MediaKind; path: MediaPath; flowing: boolean; screen: boolean }];
};
