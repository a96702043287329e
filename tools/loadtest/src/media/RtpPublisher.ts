import { randomInt } from 'node:crypto';
import type { Api } from '@trellis/protocol';
import {
  GenericNack,
  ntpTime,
  PictureLossIndication,
  type RTCDtlsTransport,
  type RtcpPacket,
  RtcpPayloadSpecificFeedback,
  RtcpSenderInfo,
  RtcpSrPacket,
  RtcpTransportLayerFeedback,
  RtpHeader,
} from 'werift';
import type { MediaClip, VideoLayer } from './MediaClip';
import { onTick } from './Ticker';

type RtpParameters = Api.ApiRequestOf<typeof Api.Produce>['rtpParameters'];

export const VIDEO_PT = 96;
export const AUDIO_PT = 111;
const MAX_PAYLOAD = 1_180;
const HISTORY = 1_024;
const SR_INTERVAL_MS = 1_000;
/** libwebrtc's pacing factor: video may leave at 2.5 × its bitrate. */
const PACING_FACTOR = 2.5;
/** Unused pacing budget is kept for at most this long (a stalled loop must not burst). */
const MAX_BURST_MS = 20;
const TICK_BUDGET_MS = 10;
/** Opus DTX: one frame per 400 ms of silence. */
const DTX_SLOTS = 20;

interface Stream {
  readonly ssrc: number;
  readonly clockRate: number;
  readonly tsBase: number;
  seq: number;
  packets: number;
  octets: number;
  /** Sent packets by sequence number modulo HISTORY, for NACKs (retransmitted as is: no RTX). */
  readonly history: Array<{ seq: number; header: RtpHeader; payload: Buffer } | undefined>;
}

interface QueuedPacket {
  readonly stream: Stream;
  readonly header: RtpHeader;
  readonly payload: Buffer;
}

interface LayerState {
  readonly stream: Stream;
  readonly layer: VideoLayer;
  /** Frames sent on this layer: drives the RTP timestamp. */
  position: number;
  /** The clip frame sent next: jumps back to a keyframe on PLI while the timeline runs on. */
  clipIndex: number;
  pictureId: number;
  tl0: number;
}

export interface PublisherCounters {
  videoPackets: number;
  audioPackets: number;
  bytes: number;
  plis: number;
  nacked: number;
}

/**
 * Replays the clip as RTP on a send link: three VP8 simulcast layers (own SSRCs: werift's sender
 * cannot simulcast) and Opus, paced in real time, with Sender Reports (mediasoup's simulcast consumer
 * only switches between layers it can align by SR), retransmission on NACK, and a keyframe on PLI/FIR
 * by jumping that layer's replay to its latest keyframe — what an encoder's forced keyframe looks
 * like on the wire.
 */
export class RtpPublisher {
  readonly counters: PublisherCounters = { videoPackets: 0, audioPackets: 0, bytes: 0, plis: 0, nacked: 0 };
  readonly #dtls: RTCDtlsTransport;
  readonly #clip: MediaClip;
  readonly #layers: LayerState[];
  readonly #audio: Stream;
  readonly #cname = `load-${randomInt(1e9)}`;
  #audioSent = 0;
  #startedAt = 0;
  #lastSr = 0;
  #stopTick: (() => void) | undefined;
  readonly #rtcpSub: { unSubscribe(): void };

  /**
   * `speaking` false: the microphone is on but the participant is silent, and Opus DTX sends one
   * comfort-noise frame every 400 ms instead of one every 20 ms — what most of a large call sends.
   */
  constructor(
    dtls: RTCDtlsTransport,
    clip: MediaClip,
    opts: { video: boolean; audio: boolean; speaking: boolean },
  ) {
    this.#dtls = dtls;
    this.#clip = clip;
    // Every publisher starts at a random keyframe of the clip: in a real call keyframes are not in
    // step, and 50 of them at once would be a burst no real room sends.
    const keyframes = clip.layers[0]?.frames.flatMap((f, i) => (f.keyframe ? [i] : [])) ?? [0];
    const first = keyframes[randomInt(keyframes.length)] ?? 0;
    const start = clip.layers.every((l) => l.frames[first]?.keyframe) ? first : 0;
    this.#pacingBytesPerMs =
      (PACING_FACTOR * clip.layers.reduce((n, l) => n + l.bitrateKbps, 0) * 1000) / 8 / 1000;
    this.#layers = opts.video
      ? clip.layers.map((layer) => ({
          stream: newStream(90_000),
          layer,
          position: 0,
          clipIndex: start,
          pictureId: randomInt(0x7fff),
          tl0: randomInt(256),
        }))
      : [];
    this.#audio = newStream(48_000);
    this.#audioEnabled = opts.audio;
    this.#speaking = opts.speaking;
    this.#rtcpSub = dtls.onRtcp.subscribe((packet) => this.#onRtcp(packet));
  }

  readonly #audioEnabled: boolean;
  readonly #speaking: boolean;
  /** Video waiting for the pacer; audio is never queued (libwebrtc sends it first too). */
  #queue: QueuedPacket[] = [];
  #budgetBytes = 0;
  #lastPaceAt = 0;
  readonly #pacingBytesPerMs: number;

  /** What produce() declares for the video: SSRC simulcast, lowest layer first. */
  get videoRtpParameters(): RtpParameters | undefined {
    if (this.#layers.length === 0) return undefined;
    return {
      codecs: [
        {
          mimeType: 'video/VP8',
          payloadType: VIDEO_PT,
          clockRate: 90_000,
          rtcpFeedback: [
            { type: 'nack', parameter: '' },
            { type: 'nack', parameter: 'pli' },
            { type: 'ccm', parameter: 'fir' },
          ],
        },
      ],
      headerExtensions: [],
      encodings: this.#layers.map((l) => ({ ssrc: l.stream.ssrc, maxBitrate: l.layer.bitrateKbps * 1000 })),
      rtcp: { cname: this.#cname, reducedSize: true },
    };
  }

  get audioRtpParameters(): RtpParameters | undefined {
    if (!this.#audioEnabled) return undefined;
    return {
      codecs: [
        {
          mimeType: 'audio/opus',
          payloadType: AUDIO_PT,
          clockRate: 48_000,
          channels: 2,
          parameters: { useinbandfec: 1, usedtx: 1 },
          rtcpFeedback: [],
        },
      ],
      headerExtensions: [],
      encodings: [{ ssrc: this.#audio.ssrc }],
      rtcp: { cname: this.#cname, reducedSize: true },
    };
  }

  start(): void {
    if (this.#stopTick) return;
    this.#startedAt = performance.now();
    this.#stopTick = onTick((now) => this.#tick(now));
  }

  stop(): void {
    // What was packetized is sent: the counts then match what the SFU sees.
    for (const p of this.#queue) this.#transmit(p.stream, p.header, p.payload);
    this.#queue = [];
    this.#stopTick?.();
    this.#stopTick = undefined;
    this.#rtcpSub.unSubscribe();
  }

  #tick(now: number): void {
    if (this.#dtls.state !== 'connected') return;
    const elapsed = now - this.#startedAt;
    const frameDue = Math.floor((elapsed * this.#clip.fps) / 1000) + 1;
    for (const l of this.#layers) {
      // After a stall (a busy event loop) skip ahead rather than burst: real encoders drop frames.
      if (frameDue - l.position > 3) l.position = frameDue - 1;
      while (l.position < frameDue) this.#sendFrame(l);
    }
    if (this.#audioEnabled) {
      const audioDue = Math.floor(elapsed / 20) + 1;
      if (audioDue - this.#audioSent > 5) this.#audioSent = audioDue - 1;
      while (this.#audioSent < audioDue) this.#sendAudio();
    }
    this.#pace(now);
    if (now - this.#lastSr >= SR_INTERVAL_MS) {
      this.#lastSr = now;
      this.#sendReports(elapsed);
    }
  }

  /**
   * A pacer as libwebrtc's: video leaves at 2.5 × the encoder bitrate, so a 40 KB keyframe takes
   * tens of milliseconds instead of one burst that overflows the SFU's socket buffer.
   */
  #pace(now: number): void {
    const dt = this.#lastPaceAt === 0 ? TICK_BUDGET_MS : now - this.#lastPaceAt;
    this.#lastPaceAt = now;
    this.#budgetBytes = Math.min(
      this.#budgetBytes + dt * this.#pacingBytesPerMs,
      MAX_BURST_MS * this.#pacingBytesPerMs,
    );
    let sent = 0;
    while (sent < this.#queue.length && this.#budgetBytes > 0) {
      const p = this.#queue[sent] as QueuedPacket;
      this.#budgetBytes -= p.payload.length + 12;
      this.#transmit(p.stream, p.header, p.payload);
      sent += 1;
    }
    if (sent > 0) this.#queue = this.#queue.slice(sent);
  }

  #sendFrame(l: LayerState): void {
    const frames = l.layer.frames;
    const frame = frames[l.clipIndex] as (typeof frames)[number];
    l.clipIndex = (l.clipIndex + 1) % frames.length;
    const timestamp = (l.stream.tsBase + l.position * (90_000 / this.#clip.fps)) >>> 0;
    l.position += 1;
    l.pictureId = (l.pictureId + 1) & 0x7fff;
    l.tl0 = (l.tl0 + 1) & 0xff;
    const chunks = Math.ceil(frame.data.length / MAX_PAYLOAD);
    for (let i = 0; i < chunks; i++) {
      // VP8 payload descriptor (RFC 7741) with a 15-bit PictureID, TL0PICIDX and TID 0, as libwebrtc
      // sends it: mediasoup rewrites these when it switches a consumer between layers.
      const descriptor = Buffer.from([
        0x80 | (i === 0 ? 0x10 : 0),
        0xe0,
        0x80 | (l.pictureId >> 8),
        l.pictureId & 0xff,
        l.tl0,
        0x20,
      ]);
      const body = frame.data.subarray(i * MAX_PAYLOAD, (i + 1) * MAX_PAYLOAD);
      this.#send(l.stream, VIDEO_PT, timestamp, i === chunks - 1, Buffer.concat([descriptor, body]), true);
    }
  }

  #sendAudio(): void {
    // #audioSent counts 20 ms slots: the RTP clock runs on through DTX gaps.
    const slot = this.#audioSent;
    this.#audioSent += 1;
    if (!this.#speaking && slot % DTX_SLOTS !== 0) return;
    const audio = this.#clip.audio;
    const packet = this.#speaking ? (audio[slot % audio.length] as Buffer) : this.#clip.silence;
    const timestamp = (this.#audio.tsBase + slot * 960) >>> 0;
    this.#send(this.#audio, AUDIO_PT, timestamp, false, packet, false);
  }

  #send(
    s: Stream,
    payloadType: number,
    timestamp: number,
    marker: boolean,
    payload: Buffer,
    paced: boolean,
  ): void {
    const header = new RtpHeader({ payloadType, ssrc: s.ssrc, sequenceNumber: s.seq, timestamp, marker });
    s.history[s.seq % HISTORY] = { seq: s.seq, header, payload };
    s.seq = (s.seq + 1) & 0xffff;
    if (paced) this.#queue.push({ stream: s, header, payload });
    else this.#transmit(s, header, payload);
  }

  #transmit(s: Stream, header: RtpHeader, payload: Buffer): void {
    s.packets += 1;
    s.octets += payload.length;
    this.counters.bytes += payload.length + 12;
    if (s === this.#audio) this.counters.audioPackets += 1;
    else this.counters.videoPackets += 1;
    void this.#dtls.sendRtp(payload, header);
  }

  #sendReports(elapsedMs: number): void {
    const ntp = ntpTime();
    const streams = [...this.#layers.map((l) => l.stream), ...(this.#audioEnabled ? [this.#audio] : [])];
    const packets = streams
      .filter((s) => s.packets > 0)
      .map(
        (s) =>
          new RtcpSrPacket({
            ssrc: s.ssrc,
            senderInfo: new RtcpSenderInfo({
              ntpTimestamp: ntp,
              rtpTimestamp: (s.tsBase + Math.round((elapsedMs * s.clockRate) / 1000)) >>> 0,
              packetCount: s.packets >>> 0,
              octetCount: s.octets >>> 0,
            }),
          }),
      );
    if (packets.length > 0) void this.#dtls.sendRtcp(packets);
  }

  #onRtcp(packet: RtcpPacket): void {
    if (packet instanceof RtcpPayloadSpecificFeedback) {
      const fb = packet.feedback;
      const ssrc = fb instanceof PictureLossIndication ? fb.mediaSsrc : undefined;
      const layers =
        fb instanceof PictureLossIndication
          ? this.#layers.filter((l) => l.stream.ssrc === ssrc)
          : 'fir' in fb // FullIntraRequest (werift does not export the class)
            ? this.#layers.filter((l) => fb.fir.some((e: { ssrc: number }) => e.ssrc === l.stream.ssrc))
            : [];
      for (const l of layers) this.#keyframe(l);
    } else if (packet instanceof RtcpTransportLayerFeedback && packet.feedback instanceof GenericNack) {
      const nack = packet.feedback;
      const stream = [...this.#layers.map((l) => l.stream), this.#audio].find(
        (s) => s.ssrc === nack.mediaSourceSsrc,
      );
      if (!stream) return;
      for (const seq of nack.lost) {
        const sent = stream.history[seq % HISTORY];
        if (sent?.seq !== seq) continue;
        this.counters.nacked += 1;
        void this.#dtls.sendRtp(sent.payload, sent.header);
      }
    }
  }

  /** The next frame of this layer is its latest keyframe (a replay cannot encode a new one). */
  #keyframe(l: LayerState): void {
    this.counters.plis += 1;
    const frames = l.layer.frames;
    while (l.clipIndex > 0 && !frames[l.clipIndex]?.keyframe) l.clipIndex -= 1;
  }
}

function newStream(clockRate: number): Stream {
  return {
    ssrc: randomInt(1, 0xffffffff),
    clockRate,
    tsBase: randomInt(0xffffffff),
    seq: randomInt(0xffff),
    packets: 0,
    octets: 0,
    history: new Array(HISTORY),
  };
}
