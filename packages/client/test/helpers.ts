import {
  countVideoFrames,
  createSyntheticAudioSource,
  createSyntheticVideoSource,
  type SyntheticAudio,
  type SyntheticVideo,
  type VideoFrameCounter,
  type WrtcMediaStreamTrack,
} from '@trellis/testkit/media';

/** Registered teardown, run in reverse order whatever step failed. */
export class Cleanup {
  readonly #steps: Array<() => unknown> = [];

  add<T>(value: T, step: (value: T) => unknown): T {
    this.#steps.push(() => step(value));
    return value;
  }

  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch {
        // One failed close must not leak the rest.
      }
    }
  }
}

export interface LocalMedia {
  video: SyntheticVideo;
  audio: SyntheticAudio;
  /** The tracks as the SDK types them (DOM MediaStreamTrack; wrtc's at runtime). */
  tracks: MediaStreamTrack[];
}

export function localMedia(cleanup: Cleanup, size = { width: 320, height: 180 }): LocalMedia {
  const video = cleanup.add(createSyntheticVideoSource({ ...size, fps: 30 }), (v) => v.stop());
  const audio = cleanup.add(createSyntheticAudioSource(), (a) => a.stop());
  return { video, audio, tracks: [video.track, audio.track] as unknown as MediaStreamTrack[] };
}

export function countFrames(cleanup: Cleanup, track: MediaStreamTrack): VideoFrameCounter {
  return cleanup.add(countVideoFrames(track as unknown as WrtcMediaStreamTrack), (c) => c.stop());
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a renderer of one remote participant's video would show: it re-attaches on every `remote-track`. */
export class RenderedVideo {
  readonly timestamps: number[] = [];
  readonly paths: string[] = [];
  #counter: VideoFrameCounter | undefined;
  #seen = 0;
  ended = false;

  constructor(
    readonly cleanup: Cleanup,
    readonly participantId: string,
  ) {
    cleanup.add(this, (r) => r.stop());
  }

  /** Call from the TrellisCall's `remote-track` listener. */
  attach(event: { participantId: string; kind: string; track: MediaStreamTrack; path: string }): void {
    if (event.participantId !== this.participantId || event.kind !== 'video') return;
    this.stop();
    this.paths.push(event.path);
    this.ended = false;
    this.#seen = 0;
    this.#counter = countVideoFrames(event.track as unknown as WrtcMediaStreamTrack);
    // Frames are merged into one timeline as the viewer saw them (polled: sinks fire on their own).
    const counter = this.#counter;
    const poll = setInterval(() => {
      if (this.#counter !== counter) return clearInterval(poll);
      const ts = counter.timestamps;
      for (; this.#seen < ts.length; this.#seen++) this.timestamps.push(ts[this.#seen] as number);
    }, 20);
    poll.unref();
  }

  get path(): string | undefined {
    return this.paths.at(-1);
  }

  get frames(): number {
    return this.timestamps.length;
  }

  framesSince(at: number): number {
    return this.timestamps.filter((t) => t >= at).length;
  }

  /** Longest interval between shown frames after `since` (performance.now() clock). */
  longestGapSince(since: number): number {
    const ts = this.timestamps.filter((t) => t >= since);
    let gap = 0;
    for (let i = 1; i < ts.length; i++) gap = Math.max(gap, (ts[i] as number) - (ts[i - 1] as number));
    return gap;
  }

  stop(): void {
    this.#counter?.stop();
    this.#counter = undefined;
  }
}
