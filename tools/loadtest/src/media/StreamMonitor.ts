import type { RtpPacket } from 'werift';

const WINDOW = 2_048;
/** An incomplete frame this old is given up (its retransmissions would have arrived on loopback). */
const FRAME_GIVE_UP_MS = 250;

export interface StreamCounters {
  packets: number;
  bytes: number;
  /** Expected minus received unique packets, after retransmission (RFC 3550 cumulative loss). */
  lost: number;
  expected: number;
  frames: number;
  keyframes: number;
  freezes: number;
  freezeMs: number;
  firstPacketAt: number | undefined;
  firstFrameAt: number | undefined;
}

interface PendingFrame {
  timestamp: number;
  firstSeq: number | undefined;
  markerSeq: number | undefined;
  keyframe: boolean;
  seqs: Set<number>;
  startedAt: number;
}

/**
 * What one subscriber receives of one consumer: packets and loss by RTP sequence number (NACKed
 * retransmissions count once), and for VP8 complete frames, keyframes and freezes. A frame counts as
 * rendered when all its packets arrived and its decoder has a reference: after an abandoned frame,
 * nothing renders until the next keyframe (the PLI that asks for it is the subscriber's). A freeze is
 * WebRTC's: an interval between rendered frames over max(3 × the mean interval, mean + 150 ms).
 */
export class StreamMonitor {
  readonly counters: StreamCounters = {
    packets: 0,
    bytes: 0,
    lost: 0,
    expected: 0,
    frames: 0,
    keyframes: 0,
    freezes: 0,
    freezeMs: 0,
    firstPacketAt: undefined,
    firstFrameAt: undefined,
  };
  readonly #seen = new Uint8Array(WINDOW);
  #baseSeq: number | undefined;
  #highest = 0;
  #unique = 0;
  #pending: PendingFrame[] = [];
  #needKeyframe = true;
  #lastFrameAt: number | undefined;
  #meanInterval = 33;
  /** Sequence numbers found missing, for the next NACK. */
  missing: number[] = [];
  /** Called for each rendered video frame (see FrameGaps). */
  onFrame: ((now: number) => void) | undefined;
  /** Set when the decoder lost its reference: the owner sends a PLI. */
  wantsKeyframe = false;
  // For receiver reports.
  lastReportExpected = 0;
  lastReportReceived = 0;
  lastSr: { compact: number; at: number } | undefined;

  constructor(
    readonly kind: 'audio' | 'video',
    readonly ssrc: number,
  ) {}

  get received(): number {
    return this.#unique;
  }

  get highestExtended(): number {
    return this.#highest;
  }

  onPacket(rtp: RtpPacket, now: number): void {
    const { header, payload } = rtp;
    const c = this.counters;
    c.packets += 1;
    c.bytes += payload.length + 12;
    c.firstPacketAt ??= now;
    const ext = this.#extend(header.sequenceNumber);
    const slot = ext % WINDOW;
    if (this.#seen[slot] === 1 && ext <= this.#highest && this.#highest - ext < WINDOW) return;
    this.#seen[slot] = 1;
    this.#unique += 1;
    if (ext > this.#highest) {
      for (let s = this.#highest + 1; s < ext && ext - s < 64; s++) {
        this.#seen[s % WINDOW] = 0;
        this.missing.push(s & 0xffff);
      }
      this.#highest = ext;
    }
    c.expected = this.#highest - (this.#baseSeq as number) + 1;
    c.lost = Math.max(0, c.expected - this.#unique);
    if (this.kind === 'video') this.#onVideo(header.timestamp, header.marker, ext, payload, now);
  }

  /** Closes the books at the end: a picture frozen since its last frame counts if long enough. */
  finish(now: number): void {
    if (this.#lastFrameAt !== undefined) this.#checkFreeze(now - this.#lastFrameAt);
  }

  #extend(seq: number): number {
    if (this.#baseSeq === undefined) {
      this.#baseSeq = seq;
      this.#highest = seq;
      return seq;
    }
    const cycle = this.#highest & ~0xffff;
    let ext = cycle | seq;
    if (ext < this.#highest - 0x8000) ext += 0x10000;
    else if (ext > this.#highest + 0x8000) ext -= 0x10000;
    return ext;
  }

  #onVideo(timestamp: number, marker: boolean, ext: number, payload: Buffer, now: number): void {
    let frame = this.#pending.find((f) => f.timestamp === timestamp);
    if (!frame) {
      frame = {
        timestamp,
        firstSeq: undefined,
        markerSeq: undefined,
        keyframe: false,
        seqs: new Set(),
        startedAt: now,
      };
      this.#pending.push(frame);
    }
    frame.seqs.add(ext);
    const vp8 = parseVp8(payload);
    if (vp8?.start) {
      frame.firstSeq = ext;
      frame.keyframe = vp8.keyframe;
    }
    if (marker) frame.markerSeq = ext;
    // Frames complete in order; an older one still incomplete past the give-up time is lost.
    while (this.#pending.length > 0) {
      const head = this.#pending[0] as PendingFrame;
      if (isComplete(head)) {
        this.#pending.shift();
        this.#render(head, now);
      } else if (now - head.startedAt > FRAME_GIVE_UP_MS || this.#pending.length > 8) {
        this.#pending.shift();
        this.#needKeyframe = true;
        this.wantsKeyframe = true;
      } else {
        break;
      }
    }
  }

  #render(frame: PendingFrame, now: number): void {
    if (frame.keyframe) {
      this.counters.keyframes += 1;
      this.#needKeyframe = false;
      this.wantsKeyframe = false;
    }
    if (this.#needKeyframe) {
      this.wantsKeyframe = true;
      return;
    }
    const c = this.counters;
    c.frames += 1;
    c.firstFrameAt ??= now;
    if (this.#lastFrameAt !== undefined) {
      const interval = now - this.#lastFrameAt;
      this.#checkFreeze(interval);
      this.#meanInterval = this.#meanInterval * 0.95 + Math.min(interval, 200) * 0.05;
    }
    this.#lastFrameAt = now;
    this.onFrame?.(now);
  }

  #checkFreeze(interval: number): void {
    if (interval > Math.max(3 * this.#meanInterval, this.#meanInterval + 150)) {
      this.counters.freezes += 1;
      this.counters.freezeMs += interval;
    }
  }
}

function isComplete(f: PendingFrame): boolean {
  if (f.firstSeq === undefined || f.markerSeq === undefined) return false;
  return f.seqs.size >= f.markerSeq - f.firstSeq + 1;
}

/** RFC 7741 payload descriptor: is this the first packet of a frame, and is that frame a keyframe. */
export function parseVp8(p: Buffer): { start: boolean; keyframe: boolean } | undefined {
  if (p.length < 1) return undefined;
  const b0 = p[0] as number;
  const start = (b0 & 0x10) !== 0 && (b0 & 0x07) === 0;
  let at = 1;
  if (b0 & 0x80) {
    const b1 = p[at] ?? 0;
    at += 1;
    if (b1 & 0x80) at += (p[at] ?? 0) & 0x80 ? 2 : 1;
    if (b1 & 0x40) at += 1;
    if (b1 & 0x30) at += 1;
  }
  if (at >= p.length) return { start, keyframe: false };
  return { start, keyframe: start && ((p[at] as number) & 0x01) === 0 };
}
