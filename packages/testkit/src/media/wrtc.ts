import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { types as client } from 'mediasoup-client';
import { Device } from 'mediasoup-client';
import { Chrome111 } from 'mediasoup-client/handlers/Chrome111';
import type {
  I420Frame,
  RTCAudioSource,
  RTCVideoSource,
  WrtcMediaStreamTrack,
  WrtcModule,
} from './wrtc-types';

export type { I420Frame, WrtcMediaStreamTrack, WrtcModule } from './wrtc-types';

let wrtc: WrtcModule | undefined;
let globalsInstalled = false;

/**
 * The native module, loaded once and only on first use (importing this file stays cheap): it is
 * CommonJS with a native addon, so `require` is the reliable path.
 * Beware: once any media source exists, wrtc 0.10 segfaults while Node tears down after the event
 * loop drains (upstream WonderInventions/node-webrtc#7). Vitest workers are unaffected; standalone
 * scripts should end with an explicit `process.exit()`, which skips that teardown.
 */
export function loadWrtc(): WrtcModule {
  wrtc ??= createRequire(import.meta.url)('@roamhq/wrtc') as WrtcModule;
  return wrtc;
}

/**
 * mediasoup-client's browser handlers construct these by their global names, so wrtc's
 * implementations must be the globals. Idempotent; returns the module for its nonstandard API.
 */
export function installWrtcGlobals(): WrtcModule {
  const module = loadWrtc();
  if (!globalsInstalled) {
    Object.assign(globalThis, {
      RTCPeerConnection: module.RTCPeerConnection,
      RTCSessionDescription: module.RTCSessionDescription,
      RTCIceCandidate: module.RTCIceCandidate,
      MediaStream: module.MediaStream,
    });
    globalsInstalled = true;
  }
  return module;
}

/**
 * A mediasoup-client Device running on wrtc. The handler is named explicitly because Node has no
 * user agent for mediasoup-client's detection. Loaded with the router's capabilities when given.
 */
export async function createWrtcDevice(routerRtpCapabilities?: client.RtpCapabilities): Promise<Device> {
  installWrtcGlobals();
  const device = new Device({ handlerFactory: Chrome111.createFactory({}) });
  if (routerRtpCapabilities) await device.load({ routerRtpCapabilities });
  return device;
}

export interface SyntheticVideoOptions {
  width?: number;
  height?: number;
  fps?: number;
}

export interface SyntheticVideo {
  readonly track: WrtcMediaStreamTrack;
  readonly width: number;
  readonly height: number;
  /** Frames handed to the source so far. */
  readonly framesSent: number;
  stop(): void;
}

/** Fills `frame` with picture number `n`: content that moves every frame, so the encoder never idles. */
function paintFrame(frame: I420Frame, n: number): void {
  const { width, height, data } = frame;
  // A diagonal gradient sliding by a few pixels per frame gives motion everywhere...
  const shift = n * 3;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const base = y + shift;
    for (let x = 0; x < width; x++) data[row + x] = (x + base) & 0xff;
  }
  // ...and a block of fresh noise gives residual the motion search can't predict (real bitrate).
  const block = Math.min(64, width, height);
  const left = (n * 7) % (width - block + 1);
  const top = (n * 5) % (height - block + 1);
  let seed = (n * 2_654_435_761) >>> 0 || 1;
  for (let y = top; y < top + block; y++) {
    for (let x = left; x < left + block; x++) {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      data[y * width + x] = seed & 0xff;
    }
  }
  // Slowly cycling chroma keeps the colour planes from being constant too.
  const lumaSize = width * height;
  data.fill((n * 2) & 0xff, lumaSize, lumaSize + lumaSize / 4);
  data.fill(255 - ((n * 2) & 0xff), lumaSize + lumaSize / 4);
}

/** A live video track fed synthetic I420 frames of `width`x`height` at `fps` by a timer. */
export function createSyntheticVideoSource(options: SyntheticVideoOptions = {}): SyntheticVideo {
  const { width = 640, height = 360, fps = 30 } = options;
  if (width % 2 !== 0 || height % 2 !== 0)
    throw new Error(`I420 needs even dimensions, got ${width}x${height}`);
  const { nonstandard } = installWrtcGlobals();
  const source: RTCVideoSource = new nonstandard.RTCVideoSource();
  const track = source.createTrack();
  // One buffer reused for every frame: onFrame copies it into a native frame synchronously.
  const frame: I420Frame = { width, height, data: new Uint8Array((width * height * 3) / 2) };
  let framesSent = 0;
  const pushFrame = (): void => {
    paintFrame(frame, framesSent);
    source.onFrame(frame);
    framesSent++;
  };
  pushFrame();
  const timer = setInterval(pushFrame, 1000 / fps);
  // A forgotten stop() must not keep a test process alive.
  timer.unref();
  return {
    track,
    width,
    height,
    get framesSent() {
      return framesSent;
    },
    stop() {
      clearInterval(timer);
      if (track.readyState !== 'ended') track.stop();
    },
  };
}

export interface SyntheticAudioOptions {
  frequencyHz?: number;
  /** Peak amplitude as a fraction of full scale. */
  amplitude?: number;
  sampleRate?: number;
}

export interface SyntheticAudio {
  readonly track: WrtcMediaStreamTrack;
  /** 10 ms frames handed to the source so far. */
  readonly framesSent: number;
  stop(): void;
}

const AUDIO_FRAME_MS = 10;
const MAX_AUDIO_BURST = 10;

/** A live mono audio track fed a continuous sine wave in 10 ms frames (the size libwebrtc expects). */
export function createSyntheticAudioSource(options: SyntheticAudioOptions = {}): SyntheticAudio {
  const { frequencyHz = 440, amplitude = 0.3, sampleRate = 48_000 } = options;
  const { nonstandard } = installWrtcGlobals();
  const source: RTCAudioSource = new nonstandard.RTCAudioSource();
  const track = source.createTrack();
  const samplesPerFrame = (sampleRate * AUDIO_FRAME_MS) / 1000;
  const samples = new Int16Array(samplesPerFrame);
  const peak = Math.round(amplitude * 32_767);
  let sampleIndex = 0;
  let framesSent = 0;
  const pushFrame = (): void => {
    for (let i = 0; i < samplesPerFrame; i++, sampleIndex++) {
      samples[i] = Math.round(peak * Math.sin((2 * Math.PI * frequencyHz * sampleIndex) / sampleRate));
    }
    source.onData({
      samples,
      sampleRate,
      bitsPerSample: 16,
      channelCount: 1,
      numberOfFrames: samplesPerFrame,
    });
    framesSent++;
  };
  // Timers drift late under load; pacing by the wall clock keeps audio at real-time rate on average,
  // and the cap stops a stalled event loop from turning into a burst of seconds of audio.
  const started = performance.now();
  let scheduled = 0;
  const timer = setInterval(() => {
    const due = Math.floor((performance.now() - started) / AUDIO_FRAME_MS) - scheduled;
    for (let i = 0; i < Math.min(due, MAX_AUDIO_BURST); i++) pushFrame();
    scheduled += Math.max(due, 0);
  }, AUDIO_FRAME_MS);
  timer.unref();
  return {
    track,
    get framesSent() {
      return framesSent;
    },
    stop() {
      clearInterval(timer);
      if (track.readyState !== 'ended') track.stop();
    },
  };
}

export interface VideoFrameCounter {
  readonly frames: number;
  /** Dimensions of the most recent frame (0 before the first). */
  readonly width: number;
  readonly height: number;
  /** performance.now() of every frame, in arrival order. */
  readonly timestamps: readonly number[];
  /** Longest interval between consecutive frames: the media freeze a viewer would see. */
  readonly longestGapMs: number;
  /** Frames decoded at exactly this size (senders may start or adapt at a lower resolution). */
  framesOfSize(width: number, height: number): number;
  stop(): void;
}

/** Attaches a sink to a (typically remote) video track and records every decoded frame. */
export function countVideoFrames(track: WrtcMediaStreamTrack): VideoFrameCounter {
  const sink = new (installWrtcGlobals().nonstandard.RTCVideoSink)(track);
  const timestamps: number[] = [];
  const sizes = new Map<string, number>();
  let width = 0;
  let height = 0;
  sink.onframe = ({ frame }) => {
    timestamps.push(performance.now());
    width = frame.width;
    height = frame.height;
    const size = `${width}x${height}`;
    sizes.set(size, (sizes.get(size) ?? 0) + 1);
  };
  return {
    get frames() {
      return timestamps.length;
    },
    get width() {
      return width;
    },
    get height() {
      return height;
    },
    timestamps,
    get longestGapMs() {
      return longestGap(timestamps);
    },
    framesOfSize: (w, h) => sizes.get(`${w}x${h}`) ?? 0,
    stop() {
      sink.onframe = null;
      if (!sink.stopped) sink.stop();
    },
  };
}

function longestGap(timestamps: readonly number[]): number {
  let longest = 0;
  for (let i = 1; i < timestamps.length; i++) {
    longest = Math.max(longest, (timestamps[i] ?? 0) - (timestamps[i - 1] ?? 0));
  }
  return longest;
}

export interface AudioDataCounter {
  /** Callbacks received (libwebrtc delivers 10 ms per callback). */
  readonly chunks: number;
  /** Samples received per channel (sample frames). */
  readonly samples: number;
  readonly sampleRate: number;
  readonly channelCount: number;
  /** Largest absolute sample value seen: tells decoded sound from delivered silence. */
  readonly peak: number;
  stop(): void;
}

/** Attaches a sink to a (typically remote) audio track and counts the decoded audio it delivers. */
export function countAudioData(track: WrtcMediaStreamTrack): AudioDataCounter {
  const sink = new (installWrtcGlobals().nonstandard.RTCAudioSink)(track);
  let chunks = 0;
  let samples = 0;
  let sampleRate = 0;
  let channelCount = 0;
  let peak = 0;
  sink.ondata = (data) => {
    chunks++;
    samples += data.numberOfFrames;
    sampleRate = data.sampleRate;
    channelCount = data.channelCount;
    for (const sample of data.samples) peak = Math.max(peak, Math.abs(sample));
  };
  return {
    get chunks() {
      return chunks;
    },
    get samples() {
      return samples;
    },
    get sampleRate() {
      return sampleRate;
    },
    get channelCount() {
      return channelCount;
    },
    get peak() {
      return peak;
    },
    stop() {
      sink.ondata = null;
      if (!sink.stopped) sink.stop();
    },
  };
}
