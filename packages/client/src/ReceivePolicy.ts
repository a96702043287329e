import type { SfuRemoteTrack } from './SfuSessionTypes';

/** How the application shows a remote participant's video. */
export interface VideoView {
  /** On the current page of tiles (or otherwise rendered). Off-page video is paused on the SFU. */
  visible: boolean;
  /** Rendered width in CSS pixels × devicePixelRatio: picks the simulcast layer. */
  width?: number;
}

export interface ConsumerPreferences {
  paused: boolean;
  spatialLayer: number;
  priority: number;
}

/** Tile widths up to which the 1/4 and 1/2 simulcast layers are enough (of a 1280-wide camera). */
const LAYER_WIDTHS = [320, 640] as const;

/**
 * Which SFU consumers to receive and at which simulcast layer. Video follows the application's
 * tiles: paused off the visible page (except the active speaker's, which a speaker view may show),
 * the layer that fits the tile's width, a higher priority for the active speaker. Audio is received
 * from everyone: Opus at ~40 kbps from 49 others is ~2 Mbps, and picking the loudest N would need
 * the SFU to rank levels — measured unnecessary at 50.
 */
export class ReceivePolicy {
  readonly #views = new Map<string, VideoView>();
  #activeSpeaker: string | undefined;
  /** Until the application says what it shows, everything is received at the top layer. */
  #managed = false;

  get activeSpeaker(): string | undefined {
    return this.#activeSpeaker;
  }

  setActiveSpeaker(participantId: string): boolean {
    if (this.#activeSpeaker === participantId) return false;
    this.#activeSpeaker = participantId;
    return true;
  }

  /** Replaces the whole view map: participants not listed are not visible. */
  setViews(views: Record<string, VideoView>): void {
    this.#managed = true;
    this.#views.clear();
    for (const [id, view] of Object.entries(views)) this.#views.set(id, view);
  }

  forget(participantId: string): void {
    this.#views.delete(participantId);
  }

  /**
   * Preferences for one consumer. `steady` is false during a migration: then nothing is paused,
   * since the new path must deliver from everyone before the switch completes.
   */
  preferences(remote: Pick<SfuRemoteTrack, 'participantId' | 'kind'>, steady: boolean): ConsumerPreferences {
    const speaker = remote.participantId === this.#activeSpeaker;
    const priority = speaker ? 255 : remote.kind === 'audio' ? 200 : 100;
    if (remote.kind === 'audio' || !this.#managed) return { paused: false, spatialLayer: 2, priority };
    const view = this.#views.get(remote.participantId);
    const visible = (view?.visible ?? false) || speaker;
    const width = view?.width ?? Number.POSITIVE_INFINITY;
    const spatialLayer = LAYER_WIDTHS.findIndex((w) => width <= w);
    return {
      paused: steady && !visible,
      spatialLayer: spatialLayer === -1 ? LAYER_WIDTHS.length : spatialLayer,
      priority,
    };
  }
}
