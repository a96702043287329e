// The media every load participant publishes: VP8 at three simulcast resolutions and Opus, encoded
// once by ffmpeg into IVF and Ogg files under ~/.cache/trellis/loadtest/ and replayed frame by frame.
// Pre-encoded media keeps the generator's CPU on packets (what the SFU sees), not on encoding.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface VideoFrame {
  readonly data: Buffer;
  readonly keyframe: boolean;
}

export interface VideoLayer {
  readonly width: number;
  readonly height: number;
  readonly bitrateKbps: number;
  readonly frames: readonly VideoFrame[];
}

export interface MediaClip {
  readonly fps: number;
  /** Lowest resolution first: the order of mediasoup's simulcast encodings. */
  readonly layers: readonly VideoLayer[];
  /** 20 ms Opus packets. */
  readonly audio: readonly Buffer[];
  /** One Opus frame of silence (what DTX sends every 400 ms while a participant is quiet). */
  readonly silence: Buffer;
}

export const CLIP_FPS = 30;
const CLIP_SECONDS = 10;
/** Keyframe interval of the clip; a PLI is answered by jumping to the latest keyframe (see RtpPublisher). */
const GOP_FRAMES = 60;
export const LAYERS = [
  { width: 320, height: 180, bitrateKbps: 150 },
  { width: 640, height: 360, bitrateKbps: 500 },
  { width: 1280, height: 720, bitrateKbps: 1200 },
] as const;

export function mediaCacheDir(): string {
  return process.env.TRELLIS_LOADTEST_CACHE ?? join(homedir(), '.cache', 'trellis', 'loadtest');
}

/**
 * The clip, from the cache or encoded now (a few seconds, once). Keyed by the encoding parameters
 * and ffmpeg's version, so a changed recipe never replays a stale file.
 */
export function loadMediaClip(log: (line: string) => void = () => undefined): MediaClip {
  const version = spawnSync('ffmpeg', ['-hide_banner', '-version'], { encoding: 'utf8' });
  if (version.status !== 0) {
    throw new Error('ffmpeg is not installed (apt-get install -y ffmpeg, or ./trellis run sets it up)');
  }
  const ffmpeg = (version.stdout.split('\n')[0] ?? 'ffmpeg').replace(/ Copyright.*/, '').trim();
  const key = createHash('sha256')
    .update(JSON.stringify({ ffmpeg, LAYERS, CLIP_SECONDS, GOP_FRAMES, CLIP_FPS, recipe: 2 }))
    .digest('hex')
    .slice(0, 12);
  const dir = join(mediaCacheDir(), key);
  const files = [
    ...LAYERS.map((l) => join(dir, `vp8-${l.width}x${l.height}.ivf`)),
    join(dir, 'opus.ogg'),
    join(dir, 'silence.ogg'),
  ];
  if (!files.every((f) => existsSync(f))) {
    log(`encoding the load clip once with ${ffmpeg} into ${dir}`);
    mkdirSync(dir, { recursive: true });
    LAYERS.forEach((layer, i) => {
      encode(files[i] as string, videoArgs(layer));
    });
    encode(files[3] as string, audioArgs('sine=frequency=440:sample_rate=48000'));
    encode(files[4] as string, audioArgs('anullsrc=channel_layout=stereo:sample_rate=48000'));
  }
  const silence = readOggOpus(readFileSync(files[4] as string));
  return {
    fps: CLIP_FPS,
    layers: LAYERS.map((l, i) => ({ ...l, frames: readIvf(readFileSync(files[i] as string)) })),
    audio: readOggOpus(readFileSync(files[3] as string)),
    // Past the encoder's start-up frames.
    silence: silence[Math.min(10, silence.length - 1)] as Buffer,
  };
}

function videoArgs(layer: (typeof LAYERS)[number]): string[] {
  const kbps = layer.bitrateKbps;
  return [
    ...['-f', 'lavfi', '-i', `testsrc2=size=${layer.width}x${layer.height}:rate=${CLIP_FPS}`],
    ...['-t', String(CLIP_SECONDS), '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8'],
    ...['-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps}k`, '-g', String(GOP_FRAMES)],
    ...['-keyint_min', String(GOP_FRAMES), '-error-resilient', '1', '-auto-alt-ref', '0', '-f', 'ivf'],
  ];
}

function audioArgs(source: string): string[] {
  return [
    ...['-f', 'lavfi', '-i', source, '-t', String(CLIP_SECONDS)],
    ...['-ac', '2', '-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-application', 'voip'],
    ...['-f', 'ogg'],
  ];
}

function encode(file: string, args: string[]): void {
  const tmp = `${file}.tmp`;
  const run = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, tmp], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`ffmpeg failed for ${file}: ${run.stderr.trim()}`);
  renameSync(tmp, file);
}

/** IVF: a 32-byte file header, then per frame a 12-byte header (size, pts) and the frame. */
export function readIvf(file: Buffer): VideoFrame[] {
  if (file.toString('ascii', 0, 4) !== 'DKIF') throw new Error('not an IVF file');
  const frames: VideoFrame[] = [];
  let at = file.readUInt16LE(6);
  while (at + 12 <= file.length) {
    const size = file.readUInt32LE(at);
    const data = file.subarray(at + 12, at + 12 + size);
    // VP8 frame tag: bit 0 of the first byte is 0 for a keyframe.
    frames.push({ data, keyframe: ((data[0] ?? 1) & 0x01) === 0 });
    at += 12 + size;
  }
  if (frames.length === 0 || !frames[0]?.keyframe) throw new Error('IVF clip does not start with a keyframe');
  return frames;
}

/** Ogg pages carry Opus packets split into 255-byte lacing segments; the first two are headers. */
export function readOggOpus(file: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let pending: Buffer[] = [];
  let at = 0;
  while (at + 27 <= file.length) {
    if (file.toString('ascii', at, at + 4) !== 'OggS') throw new Error(`bad Ogg page at ${at}`);
    const segments = file[at + 26] as number;
    const table = file.subarray(at + 27, at + 27 + segments);
    let body = at + 27 + segments;
    for (const lace of table) {
      pending.push(file.subarray(body, body + lace));
      body += lace;
      if (lace < 255) {
        packets.push(Buffer.concat(pending));
        pending = [];
      }
    }
    at = body;
  }
  const audio = packets.slice(2);
  if (audio.length === 0) throw new Error('Ogg clip holds no Opus packets');
  return audio;
}
