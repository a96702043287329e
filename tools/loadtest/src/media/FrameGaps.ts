/** Intervals between rendered frames shorter than this are playback, not a gap worth keeping. */
const GAP_RECORD_MS = 100;

/** What one viewer saw of one publisher's video, merged over every consumer it had of it. */
export interface PublisherFrames {
  publisherId: string;
  frames: number;
  /** Epoch ms (performance.timeOrigin-based, so comparable across processes and threads). */
  firstFrameAt: number | undefined;
  lastFrameAt: number | undefined;
  /** Intervals between consecutive rendered frames longer than 100 ms: [from, to] in epoch ms. */
  gaps: Array<[number, number]>;
}

/**
 * The picture of each publisher at one viewer, whichever path carries it: during a re-home the old
 * and the new consumer render side by side, and only the merged stream's gaps are what a person
 * watching would see. Kept as the few long intervals, not every frame, so a run's report stays small
 * and a fault injected at a known time can be measured afterwards (bench:chaos).
 */
export class FrameGaps {
  readonly #views = new Map<string, PublisherFrames>();

  /** A frame of `publisherId` rendered at `now` (performance.now() of this thread). */
  frame(publisherId: string, now: number): void {
    const at = performance.timeOrigin + now;
    let view = this.#views.get(publisherId);
    if (!view) {
      view = { publisherId, frames: 0, firstFrameAt: at, lastFrameAt: undefined, gaps: [] };
      this.#views.set(publisherId, view);
    }
    view.frames += 1;
    const last = view.lastFrameAt;
    // Another consumer of the same publisher may be a little behind: only the newest frame counts.
    if (last !== undefined && at <= last) return;
    if (last !== undefined && at - last > GAP_RECORD_MS) view.gaps.push([round(last), round(at)]);
    view.lastFrameAt = at;
  }

  result(): PublisherFrames[] {
    return [...this.#views.values()].map((v) => ({
      ...v,
      firstFrameAt: v.firstFrameAt === undefined ? undefined : round(v.firstFrameAt),
      lastFrameAt: v.lastFrameAt === undefined ? undefined : round(v.lastFrameAt),
      gaps: [...v.gaps],
    }));
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
