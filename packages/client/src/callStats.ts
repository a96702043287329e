import type { MediaPaths } from './MediaPaths';
import type { RemoteTrackSelector } from './RemoteTrackSelector';
import type { RoomState } from './RoomState';
import type { TrellisCallState, TrellisCallStats } from './TrellisCallTypes';

/** A TrellisCall's state at a glance: mode, each remote's exposed path, and both paths. */
export function callStats(
  state: TrellisCallState,
  room: RoomState,
  selector: RemoteTrackSelector,
  paths: MediaPaths,
): TrellisCallStats {
  const p2p = paths.p2p;
  const sfu = paths.sfu;
  return {
    state,
    mode: room.mode,
    participantId: room.participantId,
    transitionId: room.transition?.id,
    remotes: selector.stats(),
    p2p: p2p && {
      remoteParticipantId: p2p.remoteParticipantId,
      connectionState: p2p.connectionState,
      offerer: p2p.offerer,
    },
    sfu: sfu && {
      started: sfu.started,
      nodeId: sfu.nodeId,
      producers: sfu.producerIds.length,
      consumers: sfu.remoteTracks.length,
    },
  };
}
