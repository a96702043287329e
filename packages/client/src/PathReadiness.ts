import type { MediaPaths } from './MediaPaths';
import type { RemoteTrackSelector } from './RemoteTrackSelector';
import type { RoomState } from './RoomState';
import type { PathReadyEvent } from './TrellisCallTypes';
import { TypedEmitter } from './TypedEmitter';

const POLL_MS = 200;

export interface PathReadinessOptions {
  room: RoomState;
  paths: MediaPaths;
  selector: RemoteTrackSelector;
  /** How long a participant allowed to publish, with no producer announced, is waited for. */
  publishGraceMs: number;
}

export type PathReadinessEvents = {
  /** The current transition's new path delivers from everyone: report it (once per transition). */
  ready: [PathReadyEvent];
};

/**
 * Decides when this participant may tell signaling that a migration's new path is ready: when it
 * delivers media from every other participant that publishes, i.e. each kind they publish unpaused
 * flows on that path. Checked on every flow change and, because the publish grace is about time,
 * polled while a report is due.
 */
export class PathReadiness extends TypedEmitter<PathReadinessEvents> {
  readonly #o: PathReadinessOptions;
  readonly #reported = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #enabled = false;
  /** The transition whose switch gap is being measured. */
  #gapWindow: string | undefined;

  constructor(options: PathReadinessOptions) {
    super();
    this.#o = options;
  }

  /** Only a joined call reports (not while a join or resume reply is being applied). */
  setEnabled(enabled: boolean): void {
    this.#enabled = enabled;
    this.update();
    if (enabled) this.check();
  }

  check(): void {
    const { room, paths, selector } = this.#o;
    const t = room.transition;
    const self = room.participantId;
    if (!this.#enabled || !t || !self || this.#reported.has(t.id) || !t.awaiting.includes(self)) return;
    if (t.to === 'sfu' ? !paths.sfu?.started : !paths.p2p) return;
    for (const other of room.participants.values()) {
      if (other.id === self || !other.canPublish) continue;
      const kinds = room.publishedKinds(other.id);
      if (kinds.size === 0) {
        if (Date.now() - room.transitionSeenAt < this.#o.publishGraceMs) return;
        continue;
      }
      for (const kind of kinds) if (!selector.isFlowing(other.id, kind, t.to)) return;
    }
    this.#reported.add(t.id);
    this.update();
    // Nothing switched yet means the old tracks still play while the new ones flow: the switch that
    // follows is gapless, so the report is 0 rather than absent (absent read as "no data").
    const mediaGapMs = selector.takeSwitchGap() ?? 0;
    this.safeEmit('ready', { transitionId: t.id, path: t.to, mediaGapMs });
  }

  /** Starts or stops polling after the transition changed. */
  update(): void {
    const t = this.#o.room.transition;
    if (t && t.id !== this.#gapWindow) {
      // A new migration measures its own switch: a freeze before it (a drain's re-home, say) is not
      // part of it and must not be reported as its gap.
      this.#gapWindow = t.id;
      this.#o.selector.takeSwitchGap();
    }
    const due = this.#enabled && t !== undefined && !this.#reported.has(t.id);
    if (due && !this.#timer) {
      this.#timer = setInterval(() => this.check(), POLL_MS);
      (this.#timer as { unref?: () => void }).unref?.();
    } else if (!due && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  close(): void {
    this.#enabled = false;
    this.update();
    this.removeAllListeners();
  }
}
