import type { Page } from 'playwright-core';

export interface ViewSummary {
  /** Frames of the exposed track since `from`. */
  frames: number;
  /** The longest interval between frames of the exposed track(s) within [from, now]. */
  longestGapMs: number;
  /** Exposed tracks that ended while exposed (a teardown the user would see). */
  ended: number;
  /** Times the exposed track changed (path switches) since the monitor started. */
  switches: number;
}

/**
 * Installs, in the page, a MediaStreamTrackProcessor read loop on every remote participant's
 * exposed video track, following the SDK's `remote-track` events: the new track's reader starts at
 * the swap, so a frame gap across a P2P↔SFU switch is what a viewer of that tile would see.
 */
export async function installFrameMonitor(page: Page): Promise<void> {
  await page.evaluate(() => {
    type View = {
      frames: number[];
      track: MediaStreamTrack | undefined;
      reader: ReadableStreamDefaultReader<VideoFrame> | undefined;
      ended: number;
      switches: number;
    };
    type Call = {
      participantId: string;
      participants: Array<{ id: string }>;
      remoteStream(id: string): MediaStream | undefined;
      on(
        event: 'remote-track',
        l: (e: { participantId: string; kind: string; track: MediaStreamTrack; screen: boolean }) => void,
      ): void;
    };
    const w = window as unknown as {
      trellisCall: Call;
      frameMonitor?: unknown;
      MediaStreamTrackProcessor: new (init: {
        track: MediaStreamTrack;
      }) => { readable: ReadableStream<VideoFrame> };
    };
    if (w.frameMonitor) return;
    const call = w.trellisCall;
    const views = new Map<string, View>();
    const watch = (participantId: string, track: MediaStreamTrack) => {
      let view = views.get(participantId);
      if (!view) {
        view = { frames: [], track: undefined, reader: undefined, ended: 0, switches: 0 };
        views.set(participantId, view);
      }
      const v = view;
      if (v.track === track) return;
      v.reader?.cancel().catch(() => undefined);
      if (v.track) v.switches++;
      v.track = track;
      track.addEventListener('ended', () => {
        if (v.track === track) v.ended++;
      });
      const reader = new w.MediaStreamTrackProcessor({ track }).readable.getReader();
      v.reader = reader;
      void (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          value.close();
          if (v.track !== track) return;
          v.frames.push(performance.now());
        }
      })().catch(() => undefined);
    };
    call.on('remote-track', (e) => {
      // Cameras only: a screen share is another tile.
      if (e.kind === 'video' && !e.screen) watch(e.participantId, e.track);
    });
    for (const p of call.participants) {
      if (p.id === call.participantId) continue;
      const track = call.remoteStream(p.id)?.getVideoTracks()[0];
      if (track) watch(p.id, track);
    }
    w.frameMonitor = {
      now: () => performance.now(),
      summary(from: number) {
        const now = performance.now();
        const out: Record<string, unknown> = {};
        for (const [id, v] of views) {
          let previous: number | undefined;
          let longest = 0;
          let frames = 0;
          for (const t of v.frames) {
            if (t < from) {
              previous = t;
              continue;
            }
            frames++;
            if (previous !== undefined) longest = Math.max(longest, t - previous);
            previous = t;
          }
          if (previous !== undefined) longest = Math.max(longest, now - previous);
          out[id] = { frames, longestGapMs: Math.round(longest), ended: v.ended, switches: v.switches };
        }
        return out;
      },
    };
  });
}

type Monitor = { now(): number; summary(from: number): Record<string, ViewSummary> };

/** The page's clock (performance.now): marks where a measurement window starts. */
export function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { frameMonitor: Monitor }).frameMonitor.now());
}

export function frameSummary(page: Page, from: number): Promise<Record<string, ViewSummary>> {
  return page.evaluate((f) => (window as unknown as { frameMonitor: Monitor }).frameMonitor.summary(f), from);
}

/**
 * Waits until every one of `others` is shown from `path` on `page`, then until `frames` more frames
 * of each were decoded on it.
 */
export async function waitForFramesOn(
  page: Page,
  others: string[],
  path: 'p2p' | 'sfu',
  frames: number,
  timeoutMs = 30_000,
): Promise<Record<string, ViewSummary>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, ViewSummary> = {};
  let paths: Record<string, string | undefined> = {};
  let from: number | undefined;
  for (;;) {
    if (from !== undefined) last = await frameSummary(page, from);
    paths = await page.evaluate(() => {
      const stats = (
        window as unknown as {
          trellisCall: { stats(): { remotes: Record<string, { video?: { path: string } }> } };
        }
      ).trellisCall.stats();
      return Object.fromEntries(Object.entries(stats.remotes).map(([id, r]) => [id, r.video?.path]));
    });
    const onPath = others.every((id) => paths[id] === path);
    if (!onPath) from = undefined;
    else if (from === undefined) from = await pageNow(page);
    else if (others.every((id) => (last[id]?.frames ?? 0) >= frames)) return last;
    if (Date.now() > deadline) {
      throw new Error(
        `frames not decoded within ${timeoutMs} ms: ${JSON.stringify(last)} paths ${JSON.stringify(paths)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
