import { MediaFlowWatcher } from './MediaFlowWatcher';
import type {
  ExposedTrack,
  MediaKind,
  MediaPath,
  RemoteTrackSelectorEvents,
  RemoteTrackSelectorOptions,
  SlotStats,
  TrackCandidateInit,
} from './RemoteTrackSelectorTypes';
import type { StatsSource } from './statsSources';
import { TypedEmitter } from './TypedEmitter';

interface Candidate extends TrackCandidateInit {
  seq: number;
  watcher: MediaFlowWatcher;
  /** Set on removal: when its media was last known to flow (it stops with its path). */
  lastSeenAt?: number | undefined;
}

interface Slot {
  participantId: string;
  kind: MediaKind;
  screen: boolean;
  candidates: Map<string, Candidate>;
  /** May be a removed candidate: its frozen last frame beats a blank until the replacement flows. */
  exposed: Candidate | undefined;
  endTimer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Make-before-break at the track level. Each (participant, kind) slot gathers the tracks the P2P
 * and SFU paths offer; the exposed one changes only to a track that already delivers media, and to
 * the preferred path's newest such track. So a renderer switches from a playing track to a playing
 * track, and the paths can be built and torn down around it.
 */
export class RemoteTrackSelector extends TypedEmitter<RemoteTrackSelectorEvents> {
  readonly #options: Required<RemoteTrackSelectorOptions>;
  readonly #slots = new Map<string, Slot>();
  readonly #byKey = new Map<string, Slot>();
  #preferred: MediaPath = 'p2p';
  #seq = 0;
  #closed = false;
  /** Longest gap seen while switching, since the last `takeSwitchGap()`. */
  #switchGapMs: number | undefined;

  constructor(options: RemoteTrackSelectorOptions = {}) {
    super();
    this.#options = { intervalMs: 100, steadyIntervalMs: 500, stallMs: 1500, endGraceMs: 3000, ...options };
  }

  get preferredPath(): MediaPath {
    return this.#preferred;
  }

  /** The path whose tracks win once they deliver (the mode's target path). */
  setPreferredPath(path: MediaPath): void {
    if (path === this.#preferred) return;
    this.#preferred = path;
    for (const slot of this.#slots.values()) this.#select(slot);
  }

  add(init: TrackCandidateInit): void {
    if (this.#closed || this.#byKey.has(init.key)) return;
    const slot = this.#slot(init.participantId, init.kind, init.screen ?? false);
    const watcher = new MediaFlowWatcher({
      kind: init.kind,
      getStats: init.getStats,
      trackId: init.track.id,
      intervalMs: this.#options.intervalMs,
      steadyIntervalMs: this.#options.steadyIntervalMs,
      stallMs: this.#options.stallMs,
    });
    const candidate: Candidate = { ...init, seq: ++this.#seq, watcher };
    const onFlow = (flowing: boolean) => {
      this.safeEmit('flow', {
        participantId: init.participantId,
        kind: init.kind,
        path: init.path,
        flowing,
        screen: slot.screen,
      });
      this.#select(slot);
    };
    watcher.on('flowing', () => onFlow(true));
    watcher.on('stalled', () => onFlow(false));
    slot.candidates.set(init.key, candidate);
    this.#byKey.set(init.key, slot);
    this.#select(slot);
  }

  remove(key: string): void {
    const slot = this.#byKey.get(key);
    if (!slot) return;
    this.#byKey.delete(key);
    const candidate = slot.candidates.get(key);
    if (candidate) {
      candidate.lastSeenAt = lastSeen(candidate);
      candidate.watcher.close();
    }
    slot.candidates.delete(key);
    this.#select(slot);
  }

  /** Removes every candidate of `path` (a whole path closed). */
  removePath(path: MediaPath): void {
    for (const [key, slot] of [...this.#byKey]) {
      if (slot.candidates.get(key)?.path === path) this.remove(key);
    }
  }

  /** The participant left: its slots end at once, without grace. */
  removeParticipant(participantId: string): void {
    for (const slot of [...this.#slots.values()]) {
      if (slot.participantId === participantId) this.#endSlot(slot);
    }
  }

  /** Ends every slot (the call went idle or closed). */
  clear(): void {
    for (const slot of [...this.#slots.values()]) this.#endSlot(slot);
  }

  exposed(participantId: string, kind: MediaKind, screen = false): ExposedTrack | undefined {
    const candidate = this.#slots.get(slotKey(participantId, kind, screen))?.exposed;
    return candidate && toExposed(candidate);
  }

  /** The stats source of the track exposed in one slot. */
  exposedStatsOf(participantId: string, kind: MediaKind, screen = false): StatsSource | undefined {
    return this.#slots.get(slotKey(participantId, kind, screen))?.exposed?.getStats;
  }

  /** The stats sources of every exposed track that is still live (connection quality reads them). */
  exposedStats(): Array<() => Promise<RTCStatsReport>> {
    return [...this.#slots.values()].flatMap((slot) =>
      slot.exposed && slot.candidates.has(slot.exposed.key) ? [slot.exposed.getStats] : [],
    );
  }

  /** Whether `path` has a track for this slot that delivers media now. */
  isFlowing(participantId: string, kind: MediaKind, path: MediaPath): boolean {
    const slot = this.#slots.get(slotKey(participantId, kind, false));
    return [...(slot?.candidates.values() ?? [])].some((c) => c.path === path && c.watcher.flowing);
  }

  /** Per remote participant and kind: which path's track is exposed and whether it flows. */
  stats(): Record<string, Partial<Record<MediaKind | 'screen', SlotStats>>> {
    const out: Record<string, Partial<Record<MediaKind | 'screen', SlotStats>>> = {};
    for (const slot of this.#slots.values()) {
      const exposed = slot.exposed;
      if (!exposed) continue;
      const stale = !slot.candidates.has(exposed.key);
      out[slot.participantId] ??= {};
      (out[slot.participantId] as Partial<Record<MediaKind | 'screen', SlotStats>>)[
        slot.screen ? 'screen' : slot.kind
      ] = {
        path: exposed.path,
        trackId: exposed.track.id,
        flowing: !stale && exposed.watcher.flowing,
        stale,
      };
    }
    return out;
  }

  /** The longest switch gap since the last call (undefined when nothing switched), then resets. */
  takeSwitchGap(): number | undefined {
    const gap = this.#switchGapMs;
    this.#switchGapMs = undefined;
    return gap;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const slot of this.#slots.values()) {
      clearTimeout(slot.endTimer);
      for (const candidate of slot.candidates.values()) candidate.watcher.close();
    }
    this.#slots.clear();
    this.#byKey.clear();
    this.removeAllListeners();
  }

  #slot(participantId: string, kind: MediaKind, screen: boolean): Slot {
    const key = slotKey(participantId, kind, screen);
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { participantId, kind, screen, candidates: new Map(), exposed: undefined, endTimer: undefined };
      this.#slots.set(key, slot);
    }
    return slot;
  }

  #select(slot: Slot): void {
    if (this.#closed) return;
    if (slot.screen) {
      this.#selectScreen(slot);
      return;
    }
    const next = this.#choose(slot);
    if (next) {
      clearTimeout(slot.endTimer);
      slot.endTimer = undefined;
      if (next !== slot.exposed) this.#expose(slot, next);
      return;
    }
    // Nothing left to offer: keep the frozen track for a grace period, then end the slot.
    if (slot.candidates.size === 0 && !slot.endTimer) {
      if (!slot.exposed) {
        this.#slots.delete(slotKey(slot.participantId, slot.kind, slot.screen));
        return;
      }
      slot.endTimer = setTimeout(() => this.#endSlot(slot), this.#options.endGraceMs);
      (slot.endTimer as { unref?: () => void }).unref?.();
    }
  }

  /**
   * A screen share is shown only while it delivers: sharing stops by a closed producer (SFU) or an
   * empty sender (P2P, whose track stays and may deliver again), so a stop hides the slot at once.
   */
  #selectScreen(slot: Slot): void {
    const all = [...slot.candidates.values()].filter((c) => c.watcher.flowing).sort((a, b) => b.seq - a.seq);
    const current = slot.exposed && all.includes(slot.exposed) ? slot.exposed : undefined;
    const next = all.find((c) => c.path === this.#preferred) ?? current ?? all[0];
    if (next) {
      if (next !== slot.exposed) this.#expose(slot, next);
      return;
    }
    if (slot.exposed) {
      slot.exposed = undefined;
      this.safeEmit('ended', { participantId: slot.participantId, kind: slot.kind, screen: true });
    }
    if (slot.candidates.size === 0) this.#slots.delete(slotKey(slot.participantId, slot.kind, true));
  }

  /** The candidate to expose, or undefined to keep the current one (which may be gone). */
  #choose(slot: Slot): Candidate | undefined {
    const all = [...slot.candidates.values()].sort((a, b) => b.seq - a.seq);
    const current = slot.exposed && slot.candidates.has(slot.exposed.key) ? slot.exposed : undefined;
    const flowingPreferred = all.find((c) => c.path === this.#preferred && c.watcher.flowing);
    if (flowingPreferred) return flowingPreferred;
    if (current?.watcher.flowing) return current;
    const flowing = all.find((c) => c.watcher.flowing);
    if (flowing) return flowing;
    if (current) return current;
    // Nothing delivers: a slot that shows nothing yet gets a track now (a renderer can attach early);
    // one that shows a closed track keeps it until a replacement delivers.
    if (!slot.exposed) return all.find((c) => c.path === this.#preferred) ?? all[0];
    return undefined;
  }

  #expose(slot: Slot, next: Candidate): void {
    const previous = slot.exposed;
    const firstFrame = next.watcher.firstProgressAt;
    if (previous && firstFrame !== undefined && slot.kind === 'video' && !slot.screen) {
      // A still-playing old track means no gap; a stopped one left a gap until the new one's first frame.
      // Video only: audio in silence (DTX) sends nothing, which is no gap anyone sees.
      const gap = firstFrame - (previous.lastSeenAt ?? lastSeen(previous) ?? firstFrame);
      this.#switchGapMs = Math.max(this.#switchGapMs ?? 0, gap, 0);
    }
    slot.exposed = next;
    this.safeEmit('exposed', toExposed(next));
  }

  #endSlot(slot: Slot): void {
    clearTimeout(slot.endTimer);
    for (const [key, candidate] of slot.candidates) {
      candidate.watcher.close();
      this.#byKey.delete(key);
    }
    slot.candidates.clear();
    this.#slots.delete(slotKey(slot.participantId, slot.kind, slot.screen));
    if (slot.exposed) {
      slot.exposed = undefined;
      this.safeEmit('ended', { participantId: slot.participantId, kind: slot.kind, screen: slot.screen });
    }
  }
}

/** When a candidate's media was last known to flow: now if it still flows. */
function lastSeen(candidate: Candidate): number | undefined {
  return candidate.watcher.flowing ? Date.now() : candidate.watcher.lastProgressAt;
}

function slotKey(participantId: string, kind: MediaKind, screen: boolean): string {
  return `${participantId}\u0000${kind}${screen ? '\u0000screen' : ''}`;
}

function toExposed(candidate: Candidate): ExposedTrack {
  return {
    participantId: candidate.participantId,
    kind: candidate.kind,
    track: candidate.track,
    path: candidate.path,
    screen: candidate.screen ?? false,
  };
}
