import { TrellisCall } from '@trellis/client';
import type { Api } from '@trellis/protocol';
import { createSyntheticVideoSource, installWrtcGlobals, type SyntheticVideo } from '@trellis/testkit/media';
import { Chrome111 } from 'mediasoup-client/handlers/Chrome111';

/** What one participant sees of another: the frames of whichever track the SDK exposes. */
interface View {
  path: 'p2p' | 'sfu';
  /** Arrival times (performance.now) of frames of the exposed track: what a viewer is shown. */
  shown: number[];
  sinks: Array<{ stop(): void }>;
}

/**
 * A participant in a real call: a TrellisCall on wrtc publishing a synthetic video, with a sink on
 * every remote track the SDK exposes. Only frames of the exposed track count as shown, so a switch
 * that hides one path before the other delivers appears as a gap.
 */
export class TestParticipant {
  readonly views = new Map<string, View>();
  readonly modes: Api.CallMode[] = [];

  private constructor(
    readonly id: string,
    readonly call: TrellisCall,
    readonly video: SyntheticVideo,
  ) {
    call.on('mode-changed', (e) => this.modes.push(e.mode));
    call.on('remote-track', (e) => {
      if (e.kind !== 'video') return;
      const view = this.views.get(e.participantId) ?? { path: e.path, shown: [], sinks: [] };
      this.views.set(e.participantId, view);
      view.path = e.path;
      const { nonstandard } = installWrtcGlobals();
      const sink = new nonstandard.RTCVideoSink(e.track as never);
      const track = e.track;
      sink.onframe = () => {
        if (this.#exposed.get(e.participantId) === track) view.shown.push(performance.now());
      };
      this.#exposed.set(e.participantId, track);
      view.sinks.push(sink);
    });
  }

  readonly #exposed = new Map<string, unknown>();

  static async join(opts: {
    url: string | string[];
    token: string;
    roomId: string;
    id: string;
    /** The synthetic camera (default 320x180; 1280x720 makes three simulcast layers). */
    size?: { width: number; height: number };
    /** Camera simulcast on the SFU (the SDK's default: on). */
    simulcast?: boolean;
  }): Promise<TestParticipant> {
    installWrtcGlobals();
    const video = createSyntheticVideoSource({ ...(opts.size ?? { width: 320, height: 180 }), fps: 30 });
    const call = new TrellisCall({
      url: opts.url as string,
      token: opts.token,
      roomId: opts.roomId,
      localTracks: [video.track as unknown as MediaStreamTrack],
      handlerFactory: Chrome111.createFactory({}),
      ...(opts.simulcast === undefined ? {} : { simulcast: opts.simulcast }),
    });
    const participant = new TestParticipant(opts.id, call, video);
    await call.join();
    return participant;
  }

  /** Frames shown of `other` so far. */
  shownFrom(other: string): number {
    return this.views.get(other)?.shown.length ?? 0;
  }

  pathOf(other: string): 'p2p' | 'sfu' | undefined {
    return this.views.get(other)?.path;
  }

  /** The longest interval between shown frames of `other` within [from, to] (performance.now). */
  longestGap(other: string, from: number, to = performance.now()): number {
    return Math.round(this.longestFreeze(other, from, to).gapMs);
  }

  /** The longest freeze of `other` within [from, to], and when the picture moved again. */
  longestFreeze(other: string, from: number, to = performance.now()): { gapMs: number; endedAt: number } {
    const shown = this.views.get(other)?.shown ?? [];
    let longest = { gapMs: 0, endedAt: from };
    let previous: number | undefined;
    for (const t of shown) {
      if (t < from) {
        previous = t;
        continue;
      }
      if (t > to) break;
      if (previous !== undefined && t - previous > longest.gapMs)
        longest = { gapMs: t - previous, endedAt: t };
      previous = t;
    }
    return longest;
  }

  /** True once `other` showed `frames` new frames on `path` after this call. */
  async waitForFrames(other: string, path: 'p2p' | 'sfu', frames: number, timeoutMs = 20_000): Promise<void> {
    const start = this.shownFrom(other);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.pathOf(other) === path && this.shownFrom(other) >= start + frames) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(
      `${this.id} did not show ${frames} frames of ${other} on ${path} within ${timeoutMs} ms (path ${this.pathOf(other)}, shown ${this.shownFrom(other) - start}, mode ${this.call.mode})`,
    );
  }

  async waitForMode(mode: Api.CallMode, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.call.mode !== mode) {
      if (Date.now() > deadline)
        throw new Error(
          `${this.id} still in ${this.call.mode}, not ${mode}, after ${timeoutMs} ms (seen: ${this.modes.join(' → ')})`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async leave(): Promise<void> {
    await this.call.leave().catch(() => undefined);
    this.close();
  }

  close(): void {
    this.call.close();
    this.video.stop();
    for (const view of this.views.values()) for (const sink of view.sinks) sink.stop();
  }
}

/** Joins participants of one room by id through a URL, keeping each in `into` for teardown. */
export function joiner(
  stack: { token(roomId: string, identity: string): Promise<string> },
  roomId: string,
  into: TestParticipant[],
): (id: string, url: string | string[]) => Promise<TestParticipant> {
  return async (id, url) => {
    const participant = await TestParticipant.join({ url, token: await stack.token(roomId, id), roomId, id });
    into.push(participant);
    return participant;
  };
}

/** A call of `ids`, joined one after another, once all of them are on the SFU. */
export async function sfuCall(
  join: (id: string, url: string | string[]) => Promise<TestParticipant>,
  ids: readonly string[],
  url: string | string[],
): Promise<TestParticipant[]> {
  const people: TestParticipant[] = [];
  for (const id of ids) people.push(await join(id, url));
  for (const p of people) await p.waitForMode('sfu', 30_000);
  return people;
}
