import type { SfuHarness } from './harness';
import type { ConsumedAudio, ConsumedVideo } from './SfuTestPeer';

/** Decoded video a viewer would call "playing": a second of frames at 30 fps. */
export const MIN_FRAMES = 30;
/** 50 callbacks of 10 ms: half a second of decoded audio. */
export const MIN_AUDIO_CHUNKS = 50;
/** A 0.3 tone peaks near 9800 after decoding; silence or comfort noise stays far below this. */
export const MIN_AUDIO_PEAK = 1000;

/** Waits for `count` decoded frames (of one size when given) on a consumed video track. */
export function waitForFrames(
  h: SfuHarness,
  video: ConsumedVideo,
  count = MIN_FRAMES,
  size?: { width: number; height: number },
  timeoutMs?: number,
): Promise<unknown> {
  const label = size ? `${size.width}x${size.height} ` : '';
  return h.waitFor(
    () => (size ? video.frames.framesOfSize(size.width, size.height) : video.frames.frames) >= count,
    `${count} decoded ${label}frames of producer ${video.producerId} (have ${describeVideo(video)})`,
    timeoutMs,
  );
}

/** Waits for half a second of decoded, non-silent audio. */
export function waitForSound(h: SfuHarness, audio: ConsumedAudio, timeoutMs?: number): Promise<unknown> {
  return h.waitFor(
    () => audio.audio.chunks >= MIN_AUDIO_CHUNKS && audio.audio.peak >= MIN_AUDIO_PEAK,
    `${MIN_AUDIO_CHUNKS} chunks of decoded audio with peak >= ${MIN_AUDIO_PEAK} from producer ${audio.producerId}`,
    timeoutMs,
  );
}

/** Milliseconds from ResumeConsumer to the first decoded frame. */
export function firstFrameMs(video: ConsumedVideo): number {
  const first = video.frames.timestamps[0];
  return first === undefined ? Number.NaN : first - video.resumedAt;
}

/** Longest gap between frames decoded after `since` (performance.now()): the freeze a viewer saw. */
export function longestGapSince(video: ConsumedVideo, since: number): number {
  const ts = video.frames.timestamps.filter((t) => t >= since);
  let longest = 0;
  for (let i = 1; i < ts.length; i++) longest = Math.max(longest, ts[i]! - ts[i - 1]!);
  return longest;
}

export function describeVideo(video: ConsumedVideo): string {
  const f = video.frames;
  return (
    `${f.frames} frames, last ${f.width}x${f.height}, first after ${firstFrameMs(video).toFixed(0)} ms, ` +
    `longest gap ${f.longestGapMs.toFixed(0)} ms`
  );
}

export function describeAudio(audio: ConsumedAudio): string {
  const a = audio.audio;
  return `${a.chunks} chunks, ${a.samples} samples @ ${a.sampleRate} Hz, peak ${a.peak}`;
}
