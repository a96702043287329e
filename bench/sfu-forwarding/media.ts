// Real encoded media for the benchmark: VP8 video and Opus audio made once by ffmpeg, captured as the
// RTP packets its own packetizer sends, and cached by parameters (and ffmpeg version) for later runs.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The rtp module alone: the package's media index would also load libwebrtc (wrtc) into the generator.
import { parseRtpHeader } from '../../packages/testkit/src/media/rtp';
import { progress } from './util';

export interface MediaParams {
  width: number;
  height: number;
  fps: number;
  videoKbps: number;
  /** Frames between key frames: a consumer starts forwarding video at the next one. */
  keyframeInterval: number;
  audioKbps: number;
  seconds: number;
}

export const DEFAULT_MEDIA: MediaParams = {
  width: 640,
  height: 360,
  fps: 30,
  videoKbps: 600,
  keyframeInterval: 60,
  audioKbps: 48,
  seconds: 20,
};

export interface CapturedPacket {
  /** Milliseconds from the start of the clip, from the RTP timestamp: the original pacing. */
  at: number;
  /** Offset of the RTP timestamp from the clip's first one, in clock ticks. */
  tsOffset: number;
  marker: boolean;
  payload: Buffer;
}

export interface CapturedStream {
  kind: 'audio' | 'video';
  mimeType: 'video/VP8' | 'audio/opus';
  payloadType: number;
  clockRate: number;
  channels?: number;
  /** One loop of the clip: the timestamp (ticks) and time (ms) at which packet 0 comes again. */
  loopTicks: number;
  loopMs: number;
  packets: CapturedPacket[];
}

export interface CapturedMedia {
  params: MediaParams;
  ffmpeg: string;
  video: CapturedStream;
  audio: CapturedStream;
}

const VIDEO_PT = 96;
const AUDIO_PT = 111;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export function cacheDir(): string {
  const base =
    process.env.TRELLIS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'trellis');
  return join(base, 'bench', 'sfu-forwarding');
}

/** ffmpeg from Debian, installed here (apt, via the repo's own apt_ensure) when it is missing. */
export function ensureFfmpeg(): string {
  const probe = () => spawnSync('ffmpeg', ['-hide_banner', '-version'], { encoding: 'utf8' });
  let version = probe();
  if (version.status !== 0) {
    progress('ffmpeg is missing: installing it with apt-get (Debian package ffmpeg)');
    const script = `. "${join(ROOT, 'scripts/lib.sh')}" && apt_ensure ffmpeg`;
    const run = spawnSync('bash', ['-c', script], { stdio: ['ignore', 2, 2] });
    version = probe();
    if (run.status !== 0 || version.status !== 0) {
      throw new Error(
        'ffmpeg is not installed and `apt-get install -y ffmpeg` failed: install it, then rerun',
      );
    }
  }
  return (version.stdout.split('\n')[0] ?? 'ffmpeg').replace(/ Copyright.*/, '').trim();
}

/** The clip for `params`: from the cache, or encoded and captured now (a few seconds, once). */
export async function loadMedia(params: MediaParams = DEFAULT_MEDIA): Promise<CapturedMedia> {
  const ffmpeg = ensureFfmpeg();
  const key = createHash('sha256')
    .update(JSON.stringify({ params, ffmpeg, format: 1 }))
    .digest('hex')
    .slice(0, 16);
  const file = join(cacheDir(), `media-${key}.json`);
  if (existsSync(file)) {
    progress(`media: cached clip ${file}`);
    return decode(JSON.parse(readFileSync(file, 'utf8')));
  }
  let media: CapturedMedia | undefined;
  // Encoding runs faster than real time; if the capture socket misses a packet, retry slower.
  for (const readRate of [4, 1]) {
    progress(`media: encoding ${describe(params)} with ${ffmpeg} at ${readRate}x real time`);
    media = await capture(params, ffmpeg, readRate).catch((error: unknown) => {
      progress(`media: capture failed (${String(error)})`);
      return undefined;
    });
    if (media) break;
  }
  if (!media) throw new Error('could not capture the ffmpeg RTP clip (see the messages above)');
  mkdirSync(cacheDir(), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(encode(media)));
  renameSync(`${file}.tmp`, file);
  progress(`media: cached ${media.video.packets.length} video + ${media.audio.packets.length} audio packets`);
  return media;
}

export function describe(p: MediaParams): string {
  return (
    `VP8 ${p.width}x${p.height}@${p.fps} ${p.videoKbps} kbps (key frame every ${p.keyframeInterval} frames) + ` +
    `Opus ${p.audioKbps} kbps, ${p.seconds} s loop`
  );
}

async function capture(params: MediaParams, ffmpeg: string, readRate: number): Promise<CapturedMedia> {
  const videoSocket = await bind();
  const audioSocket = await bind();
  const video: Buffer[] = [];
  const audio: Buffer[] = [];
  videoSocket.on('message', (m) => video.push(m));
  audioSocket.on('message', (m) => audio.push(m));
  const out = (socket: Socket) => {
    const port = socket.address().port;
    return `rtp://127.0.0.1:${port}?rtcpport=${port}&pkt_size=1200`;
  };
  const p = params;
  const audioGraph =
    'sine=frequency=440:sample_rate=48000,volume=0.4[s];' +
    // A little noise keeps every Opus packet distinct (packets are matched by payload downstream).
    'anoisesrc=color=pink:sample_rate=48000:amplitude=0.03[n];[s][n]amix=inputs=2[out0]';
  const args = [
    ['-hide_banner', '-nostdin', '-loglevel', 'error'],
    [
      '-readrate',
      String(readRate),
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${p.width}x${p.height}:rate=${p.fps}`,
    ],
    ['-readrate', String(readRate), '-f', 'lavfi', '-i', audioGraph],
    // Per output: an option before an output's URL belongs to that output only.
    [
      '-map',
      '0:v',
      '-t',
      String(p.seconds),
      '-c:v',
      'libvpx',
      '-b:v',
      `${p.videoKbps}k`,
      '-deadline',
      'realtime',
      '-cpu-used',
      '8',
    ],
    ['-g', String(p.keyframeInterval), '-keyint_min', String(p.keyframeInterval), '-lag-in-frames', '0'],
    ['-auto-alt-ref', '0', '-error-resilient', '1', '-pix_fmt', 'yuv420p'],
    ['-payload_type', String(VIDEO_PT), '-ssrc', '1111', '-f', 'rtp', out(videoSocket)],
    [
      '-map',
      '1:a',
      '-t',
      String(p.seconds),
      '-c:a',
      'libopus',
      '-b:a',
      `${p.audioKbps}k`,
      '-ac',
      '2',
      '-ar',
      '48000',
    ],
    ['-application', 'voip', '-frame_duration', '20'],
    ['-payload_type', String(AUDIO_PT), '-ssrc', '2222', '-f', 'rtp', out(audioSocket)],
  ].flat();
  try {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000 + (p.seconds * 1000) / readRate);
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    clearTimeout(timeout);
    if (code !== 0) throw new Error(`ffmpeg exited with ${code ?? signal}: ${stderr.trim().slice(-500)}`);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the last datagrams
    return {
      params,
      ffmpeg,
      video: toStream('video', video, p.fps),
      audio: toStream('audio', audio, 50),
    };
  } finally {
    videoSocket.close();
    audioSocket.close();
  }
}

async function bind(): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return socket;
}

/** Orders the packets, checks none is missing, and derives pacing from the RTP timestamps. */
function toStream(kind: 'audio' | 'video', datagrams: Buffer[], unitsPerSecond: number): CapturedStream {
  const clockRate = kind === 'video' ? 90_000 : 48_000;
  const rtp = datagrams.flatMap((data) => {
    const header = parseRtpHeader(data);
    return header ? [{ header, data }] : [];
  });
  if (rtp.length < 100) throw new Error(`only ${rtp.length} ${kind} RTP packets captured`);
  const first = rtp[0]!.header;
  let lastSeq = first.sequenceNumber - 1;
  let seqBase = 0;
  const packets: CapturedPacket[] = [];
  for (const { header, data } of rtp) {
    // Extended sequence numbers: 16-bit wrap during the clip.
    if (header.sequenceNumber < (lastSeq & 0xffff) - 0x8000) seqBase += 0x10000;
    const seq = seqBase + header.sequenceNumber;
    if (seq !== lastSeq + 1) throw new Error(`${kind}: packet ${lastSeq + 1} missing or out of order`);
    lastSeq = seq;
    const tsOffset = (header.timestamp - first.timestamp) >>> 0;
    const headerSize = data.length - header.payloadSize - ((data[0] ?? 0) & 0x20 ? (data.at(-1) ?? 0) : 0);
    packets.push({
      at: (tsOffset * 1000) / clockRate,
      tsOffset,
      marker: header.marker,
      payload: Buffer.from(data.subarray(headerSize, headerSize + header.payloadSize)),
    });
  }
  const lastOffset = packets.at(-1)!.tsOffset;
  const step = Math.round(clockRate / unitsPerSecond);
  const loopTicks = lastOffset + step;
  return {
    kind,
    mimeType: kind === 'video' ? 'video/VP8' : 'audio/opus',
    payloadType: first.payloadType,
    clockRate,
    ...(kind === 'audio' ? { channels: 2 } : {}),
    loopTicks,
    loopMs: (loopTicks * 1000) / clockRate,
    packets,
  };
}

type Encoded = Omit<CapturedMedia, 'video' | 'audio'> & {
  video: EncodedStream;
  audio: EncodedStream;
};
type EncodedStream = Omit<CapturedStream, 'packets'> & {
  packets: Array<Omit<CapturedPacket, 'payload'> & { payload: string }>;
};

function encode(media: CapturedMedia): Encoded {
  const stream = (s: CapturedStream): EncodedStream => ({
    ...s,
    packets: s.packets.map((p) => ({ ...p, payload: p.payload.toString('base64') })),
  });
  return { ...media, video: stream(media.video), audio: stream(media.audio) };
}

function decode(data: Encoded): CapturedMedia {
  const stream = (s: EncodedStream): CapturedStream => ({
    ...s,
    packets: s.packets.map((p) => ({ ...p, payload: Buffer.from(p.payload, 'base64') })),
  });
  return { ...data, video: stream(data.video), audio: stream(data.audio) };
}

/** The clip's average packet rates and bitrates, for the report. */
export function mediaSummary(media: CapturedMedia): Record<string, unknown> {
  const rate = (s: CapturedStream) => ({
    packets: s.packets.length,
    packets_per_second: Math.round((s.packets.length * 1000) / s.loopMs),
    kbps: Math.round((s.packets.reduce((n, p) => n + p.payload.length + 12, 0) * 8) / s.loopMs),
  });
  return {
    description: describe(media.params),
    encoder: media.ffmpeg,
    video: rate(media.video),
    audio: rate(media.audio),
  };
}
