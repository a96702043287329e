import type { Api } from '@trellis/protocol';
import type { MediaPaths } from './MediaPaths';
import type { RemoteTrackSelector } from './RemoteTrackSelector';
import type { MediaPath } from './RemoteTrackSelectorTypes';
import type { RoomState } from './RoomState';
import type { ModeChangedEvent } from './TrellisCallTypes';

/**
 * Makes the paths match the mode. Each mode names the paths it needs and anything else is torn
 * down, so completions, rollbacks (timed-out) and aborts reduce to one rule: the old path is
 * never touched while migrating, and the new one is dropped when the mode no longer wants it.
 * Returns the mode before, and whether the mode or the transition changed.
 */
export function followMode(
  room: RoomState,
  selector: RemoteTrackSelector,
  paths: MediaPaths,
  event: ModeChangedEvent,
): { previous: Api.CallMode; changed: boolean } {
  const previous = room.mode;
  const newTransition = room.transition?.id !== event.transition?.id;
  room.mode = event.mode;
  if (newTransition) room.transitionSeenAt = Date.now();
  room.transition = event.transition;
  if (event.p2pOfferer) room.p2pOfferer = event.p2pOfferer;
  selector.setPreferredPath(targetPath(event.mode));
  switch (event.mode) {
    case 'idle':
      // Alone: nothing to receive. Local tracks stay with the application.
      paths.closeAll();
      selector.clear();
      break;
    case 'p2p':
      paths.closeSfu();
      paths.ensureP2p(false);
      break;
    case 'migrating_to_sfu':
      // The P2P connection (if any) keeps carrying media until signaling declares `sfu`.
      paths.ensureSfu();
      break;
    case 'sfu':
      paths.closeP2p();
      paths.ensureSfu();
      break;
    case 'migrating_to_p2p':
      paths.ensureSfu();
      paths.ensureP2p(true);
      break;
  }
  return { previous, changed: previous !== event.mode || newTransition };
}

/** The path a mode's media should end up on: the one whose tracks win once they deliver. */
function targetPath(mode: Api.CallMode): MediaPath {
  return mode === 'sfu' || mode === 'migrating_to_sfu' ? 'sfu' : 'p2p';
}
