import { type ParticipantResult, type PublisherFrames, percentiles } from '@trellis/loadtest';

/** A span of the run measured on its own: a fault and what followed it until the next one. */
export interface Window {
  name: string;
  from: number;
  to: number;
}

/** What viewers saw of publishers during one window. */
export interface WindowMedia {
  /** viewer→publisher video pairs that were playing before the window began. */
  pairs: number;
  /** Per pair, its longest interval without a rendered frame that touches the window, in ms. */
  longestGapMs: { p50: number; p95: number; max: number };
  /** Pairs whose longest gap passed each threshold (a WebRTC freeze is ~200 ms at 30 fps). */
  pairsWithGapOver: { '200ms': number; '500ms': number; '1000ms': number };
  /**
   * From the fault until the last pair it interrupted (a gap over 250 ms that began within 5 s of
   * it) rendered again; 0 if none was interrupted, null while some picture never came back.
   */
  allMediaAgainMs: number | null;
  /** Pairs still without a picture when the window ended. */
  unrecovered: number;
  /**
   * The load generator's longest event-loop stall in the window: frame times are taken on that
   * loop, so a gap no longer than this may be the generator's own, not the cluster's.
   */
  loadGeneratorStallMs: number;
  errors: Record<string, number>;
}

/** Gaps shorter than this are jitter, not an interruption a fault caused. */
const AFFECTED_MS = 250;
/** A gap that begins this soon after the fault is the fault's; later ones are the window's noise. */
const CAUSED_WITHIN_MS = 5000;
/** A pair counts once its picture played for this long before the window. */
const ESTABLISHED_MS = 1000;

/**
 * The longest frame gap per viewer→publisher pair in each window, from the per-frame times the
 * load participants recorded (merged over every path a viewer had, see the load tester's
 * FrameGaps), and the errors each participant logged in it.
 */
export function mediaInWindow(
  results: readonly ParticipantResult[],
  stalls: ReadonlyArray<readonly [number, number]>,
  w: Window,
): WindowMedia {
  const gaps: number[] = [];
  let unrecovered = 0;
  let recoveredAt = w.from;
  for (const viewer of results) {
    if (!viewer.joined) continue;
    for (const view of viewer.video) {
      if (view.publisherId === viewer.participantId) continue;
      if (view.firstFrameAt === undefined || view.firstFrameAt > w.from - ESTABLISHED_MS) continue;
      const { gapMs, open } = longestGap(view, w);
      gaps.push(gapMs);
      if (open) unrecovered += 1;
      for (const [a, b] of view.gaps) {
        if (b > w.from && a < w.from + CAUSED_WITHIN_MS && b - a > AFFECTED_MS)
          recoveredAt = Math.max(recoveredAt, b);
      }
    }
  }
  const p = percentiles(gaps);
  const errors: Record<string, number> = {};
  for (const r of results) {
    for (const e of r.errorLog) if (e.at >= w.from && e.at < w.to) errors[e.code] = (errors[e.code] ?? 0) + 1;
  }
  return {
    pairs: gaps.length,
    longestGapMs: { p50: Math.round(p.p50 ?? 0), p95: Math.round(p.p95 ?? 0), max: Math.round(p.max ?? 0) },
    pairsWithGapOver: {
      '200ms': gaps.filter((g) => g > 200).length,
      '500ms': gaps.filter((g) => g > 500).length,
      '1000ms': gaps.filter((g) => g > 1000).length,
    },
    allMediaAgainMs: unrecovered > 0 ? null : Math.round(recoveredAt - w.from),
    unrecovered,
    loadGeneratorStallMs: Math.round(
      Math.max(0, ...stalls.filter(([a, b]) => b > w.from && a < w.to).map(([a, b]) => b - a)),
    ),
    errors,
  };
}

/** The longest gap touching [from, to); a picture that stopped and never came back is open to `to`. */
function longestGap(view: PublisherFrames, w: Window): { gapMs: number; endedAt: number; open: boolean } {
  let longest = { gapMs: 0, endedAt: w.from, open: false };
  for (const [a, b] of view.gaps) {
    if (b <= w.from || a >= w.to) continue;
    if (b - a > longest.gapMs) longest = { gapMs: b - a, endedAt: b, open: false };
  }
  const last = view.lastFrameAt ?? 0;
  if (w.to - last > AFFECTED_MS && w.to - last > longest.gapMs)
    longest = { gapMs: w.to - last, endedAt: w.to, open: true };
  return longest;
}
