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
