import type { MediaKind } from './RemoteTrackSelectorTypes';
import { TrellisClientError } from './TrellisClientError';

/**
 * This participant's outgoing tracks (owned by the application: never stopped here) and its mute
 * state. Muting disables the tracks of that kind, so even a path that can't pause (P2P) sends
 * silence or black; a track swapped in later inherits the state.
 */
export class LocalMedia {
  #tracks: MediaStreamTrack[];
  readonly #muted = { audio: false, video: false };
  #screen: MediaStreamTrack | null = null;

  constructor(tracks: readonly MediaStreamTrack[]) {
    this.#tracks = [...tracks];
  }

  get tracks(): MediaStreamTrack[] {
    return [...this.#tracks];
  }

  get muted(): { audio: boolean; video: boolean } {
    return { ...this.#muted };
  }

  /** The tracks a path should send now (ended ones, e.g. an unplugged camera, are skipped). */
  get live(): MediaStreamTrack[] {
    return this.#tracks.filter((t) => t.readyState !== 'ended');
  }

  /** The screen being shared (not affected by muting the camera). */
  get screen(): MediaStreamTrack | null {
    return this.#screen && this.#screen.readyState !== 'ended' ? this.#screen : null;
  }

  set screen(track: MediaStreamTrack | null) {
    if (track && track.kind !== 'video')
      throw new TrellisClientError('INVALID_STATE', 'a screen share is video');
    this.#screen = track;
  }

  setMuted(kind: MediaKind, muted: boolean): void {
    this.#muted[kind] = muted;
    for (const track of this.#tracks) if (track.kind === kind) track.enabled = !muted;
  }

  /** Makes `track` the one track of `kind` (or none), in this participant's mute state. */
  replace(kind: MediaKind, track: MediaStreamTrack | null): void {
    if (track && track.kind !== kind)
      throw new TrellisClientError('INVALID_STATE', `a ${track.kind} track is not ${kind}`);
    if (track) track.enabled = !this.#muted[kind];
    this.#tracks = [...this.#tracks.filter((t) => t.kind !== kind), ...(track ? [track] : [])];
  }
}
