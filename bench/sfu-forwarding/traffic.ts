// The load generator, the same for bare mediasoup and Trellis: publishers replay the captured clip
// with its original pacing; subscribers count what arrives and match each packet to its send time by
// payload (an SFU rewrites SSRC, sequence number and timestamp, never the media bytes at the end).
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { CapturedMedia, CapturedStream } from './media';
import { LatencyHistogram } from './util';

const PACER_INTERVAL_MS = 2;
/** A stalled event loop sends what is due in a burst, but never more than this per stream per tick. */
const MAX_BURST = 500;
/** mediasoup's RtpProbationGenerator sends its padding probes on this SSRC. */
const PROBATION_SSRC = 1234;

/** 53 bits from the payload's last 8 bytes; undefined when the payload is too short to key. */
export function payloadKey(data: Uint8Array, start: number, end: number): number | undefined {
  if (end - start < 8) return undefined;
  const hi = ((data[end - 8]! << 24) | (data[end - 7]! << 16) | (data[end - 6]! << 8) | data[end - 5]!) >>> 0;
  const lo = ((data[end - 4]! << 24) | (data[end - 3]! << 16) | (data[end - 2]! << 8) | data[end - 1]!) >>> 0;
  return (hi & 0x1fffff) * 0x1_0000_0000 + lo;
}

interface Template {
  stream: CapturedStream;
  /** Payload key → packet index in the clip; -1 for keys that occur twice (not matchable). */
  index: Map<number, number>;
  /** 1 for packets that can be matched; the others (a few tiny tails of frames) are not counted. */
  keyed: Uint8Array;
  unkeyed: number;
}

function template(stream: CapturedStream): Template {
  const index = new Map<number, number>();
  const keys = stream.packets.map((p) => payloadKey(p.payload, 0, p.payload.length));
  keys.forEach((key, i) => {
    if (key !== undefined) index.set(key, index.has(key) ? -1 : i);
  });
  const keyed = new Uint8Array(keys.length);
  keys.forEach((key, i) => {
    keyed[i] = key !== undefined && index.get(key) === i ? 1 : 0;
  });
  return { stream, index, keyed, unkeyed: keyed.length - keyed.reduce((n, k) => n + k, 0) };
}

export class OutStream {
  readonly tmpl: Template;
  readonly ssrc: number;
  /** When each clip packet was last sent (performance.now()); one loop is far longer than any delay. */
  readonly sentAt: Float64Array;
  expected = 0;
  sent = 0;
  #k: number;
  readonly #seqBase = Math.floor(Math.random() * 0x10000);
  readonly #tsBase = Math.floor(Math.random() * 0x1_0000_0000);
  readonly #origin: number;

  /**
   * Clip time runs from the pacer's epoch, shifted by `offsetMs`: publisher i of every side sends
   * the same clip packet in the same pacer tick. It joins at the next packet due after `now`.
   */
  constructor(tmpl: Template, ssrc: number, offsetMs: number, now: number, epoch: number) {
    this.tmpl = tmpl;
    this.ssrc = ssrc;
    const { packets, loopMs } = tmpl.stream;
    this.sentAt = new Float64Array(packets.length).fill(Number.NEGATIVE_INFINITY);
    this.#origin = epoch - offsetMs;
    const clip = now - this.#origin;
    const loop = Math.floor(clip / loopMs);
    const next = packets.findIndex((p) => p.at >= clip - loop * loopMs);
    this.#k = next < 0 ? (loop + 1) * packets.length : loop * packets.length + next;
  }

  /** Sends every packet due by `now` (as of the clip's timing), with continuous seq/timestamps. */
  pump(socket: Socket, now: number, windowOpen: boolean): void {
    const { packets, loopMs, loopTicks, payloadType } = this.tmpl.stream;
    const n = packets.length;
    for (let burst = 0; burst < MAX_BURST; burst++) {
      const loop = Math.floor(this.#k / n);
      const i = this.#k - loop * n;
      const p = packets[i]!;
      if (this.#origin + loop * loopMs + p.at > now) return;
      const packet = Buffer.allocUnsafe(12 + p.payload.length);
      packet[0] = 0x80;
      packet[1] = (p.marker ? 0x80 : 0) | payloadType;
      packet.writeUInt16BE((this.#seqBase + this.#k) & 0xffff, 2);
      packet.writeUInt32BE((this.#tsBase + loop * loopTicks + p.tsOffset) % 0x1_0000_0000, 4);
      packet.writeUInt32BE(this.ssrc, 8);
      p.payload.copy(packet, 12);
      this.sentAt[i] = performance.now();
      socket.send(packet);
      this.sent++;
      if (windowOpen && this.tmpl.keyed[i]) this.expected++;
      this.#k++;
    }
  }
}

export interface Publisher {
  readonly video: OutStream;
  readonly audio: OutStream;
  readonly socket: Socket;
}

export interface ConsumerCount {
  readonly source: OutStream;
  /** Group label (the call) for per-call loss. */
  readonly call: string;
  received: number;
  total: number;
}

export interface Subscriber {
  readonly port: number;
  /** Registers a consumer's SSRC (from its RTP parameters) as a copy of `source`. */
  expect(ssrc: number, source: OutStream, call: string): void;
  readonly consumers: readonly ConsumerCount[];
}

/**
 * One timer and one clip clock for every publisher of every Traffic it drives: when two SFUs are
 * measured side by side, their publishers send the same clip packets in the same ticks.
 */
export class Pacer {
  readonly epoch = performance.now();
  readonly #traffic = new Set<Traffic>();
  #timer: NodeJS.Timeout | undefined;

  add(traffic: Traffic): void {
    this.#traffic.add(traffic);
    this.#timer ??= setInterval(() => this.pump(), PACER_INTERVAL_MS);
  }

  remove(traffic: Traffic): void {
    this.#traffic.delete(traffic);
    if (this.#traffic.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  pump(): void {
    const now = performance.now();
    for (const traffic of this.#traffic) traffic.pump(now);
  }
}

export class Traffic {
  readonly #video: Template;
  readonly #audio: Template;
  readonly #publishers: Publisher[] = [];
  readonly #consumers: ConsumerCount[] = [];
  readonly #sockets: Socket[] = [];
  readonly #pacer: Pacer;
  #windowStart = Number.POSITIVE_INFINITY;
  #windowEnd = Number.POSITIVE_INFINITY;
  #windowOpen = false;
  latency = new LatencyHistogram();
  /**
   * What else arrived: mediasoup's bandwidth probation packets (SSRC 1234, padding), RTCP, RTP of no
   * known consumer, RTP whose payload is not a keyed clip packet; and socket errors.
   */
  readonly odd = { probation: 0, rtcp: 0, unknownSsrc: 0, unkeyed: 0, socketErrors: 0 };

  constructor(media: CapturedMedia, pacer: Pacer = new Pacer()) {
    this.#pacer = pacer;
    this.#video = template(media.video);
    this.#audio = template(media.audio);
  }

  /** Clip packets left out of loss and latency: too short to key by payload, or keyed twice. */
  get unkeyedPackets(): { video: number; audio: number; of: number } {
    const video = this.#video;
    const audio = this.#audio;
    return { video: video.unkeyed, audio: audio.unkeyed, of: video.keyed.length + audio.keyed.length };
  }

  get publishers(): readonly Publisher[] {
    return this.#publishers;
  }

  get consumers(): readonly ConsumerCount[] {
    return this.#consumers;
  }

  start(): void {
    this.#pacer.add(this);
  }

  /** A publisher sending to ip:port (a comedia PlainTransport), `offsetMs` into the clip. */
  async addPublisher(
    remote: { ip: string; port: number },
    ssrcs: { video: number; audio: number },
    offsetMs: number,
  ): Promise<Publisher> {
    const socket = await this.#open();
    socket.connect(remote.port, remote.ip);
    await once(socket, 'connect');
    const now = performance.now();
    const publisher = {
      socket,
      video: new OutStream(this.#video, ssrcs.video, offsetMs, now, this.#pacer.epoch),
      audio: new OutStream(this.#audio, ssrcs.audio, offsetMs, now, this.#pacer.epoch),
    };
    this.#publishers.push(publisher);
    return publisher;
  }

  async addSubscriber(): Promise<Subscriber> {
    const socket = await this.#open();
    const bySsrc = new Map<number, ConsumerCount>();
    const mine: ConsumerCount[] = [];
    socket.on('message', (data: Buffer) => this.#receive(data, bySsrc));
    return {
      port: socket.address().port,
      consumers: mine,
      expect: (ssrc, source, call) => {
        const count = { source, call, received: 0, total: 0 };
        bySsrc.set(ssrc, count);
        mine.push(count);
        this.#consumers.push(count);
      },
    };
  }

  /** Starts a measurement window: counters restart; packets sent from now on are expected. */
  openWindow(): void {
    for (const p of this.#publishers) p.video.expected = p.audio.expected = 0;
    for (const c of this.#consumers) c.received = 0;
    this.latency = new LatencyHistogram();
    this.#windowStart = performance.now();
    this.#windowEnd = Number.POSITIVE_INFINITY;
    this.#windowOpen = true;
  }

  /** Ends the window: packets sent after this are no longer expected (late arrivals still count). */
  closeWindow(): number {
    this.pump(performance.now());
    this.#windowOpen = false;
    this.#windowEnd = performance.now();
    return (this.#windowEnd - this.#windowStart) / 1000;
  }

  async close(): Promise<void> {
    this.#pacer.remove(this);
    await Promise.all(this.#sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.#sockets.length = 0;
  }

  /** Sends what is due (the pacer calls this). */
  pump(now: number): void {
    for (const p of this.#publishers) {
      p.video.pump(p.socket, now, this.#windowOpen);
      p.audio.pump(p.socket, now, this.#windowOpen);
    }
  }

  #receive(data: Buffer, bySsrc: Map<number, ConsumerCount>): void {
    const now = performance.now();
    const length = data.length;
    if (length < 12 || data[0]! >> 6 !== 2) return;
    const second = data[1]!;
    if (second >= 192 && second <= 223) {
      this.odd.rtcp++;
      return;
    }
    const ssrc = data.readUInt32BE(8);
    const count = bySsrc.get(ssrc);
    if (!count) {
      if (ssrc === PROBATION_SSRC) this.odd.probation++;
      else this.odd.unknownSsrc++;
      return;
    }
    count.total++;
    const end = data[0]! & 0x20 ? length - data[length - 1]! : length;
    const key = payloadKey(data, 12, end);
    const index = key === undefined ? undefined : count.source.tmpl.index.get(key);
    if (index === undefined || index < 0) {
      this.odd.unkeyed++;
      return;
    }
    const sentAt = count.source.sentAt[index]!;
    if (sentAt >= this.#windowStart && sentAt < this.#windowEnd) {
      count.received++;
      this.latency.add(now - sentAt);
    }
  }

  async #open(): Promise<Socket> {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    socket.on('error', () => {
      this.odd.socketErrors++;
    });
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    this.#sockets.push(socket);
    return socket;
  }
}
