import { randomInt } from 'node:crypto';
import {
  compactNtp,
  GenericNack,
  PictureLossIndication,
  type RTCDtlsTransport,
  type RtcpPacket,
  RtcpPayloadSpecificFeedback,
  RtcpReceiverInfo,
  RtcpRrPacket,
  RtcpSrPacket,
  RtcpTransportLayerFeedback,
  type RtpPacket,
} from 'werift';
import { StreamMonitor } from './StreamMonitor';
import { onTick } from './Ticker';

const REPORT_MS = 1_000;
const PLI_MIN_INTERVAL_MS = 500;

export interface Subscription {
  readonly consumerId: string;
  readonly producerId: string;
  readonly publisherId: string;
  readonly monitor: StreamMonitor;
}

/**
 * Everything a recv link delivers, demultiplexed by the SSRC each consume reply announced, and the
 * RTCP a real receiver sends back: receiver reports every second (mediasoup's consumer stats and
 * scores come from them), NACKs for gaps, and a PLI when a stream's decoder lost its reference.
 */
export class RtpSubscriber {
  readonly #dtls: RTCDtlsTransport;
  readonly #bySsrc = new Map<number, Subscription>();
  readonly #ssrc = randomInt(1, 0xffffffff);
  readonly #lastPli = new Map<number, number>();
  #lastReport = 0;
  readonly #subs: Array<{ unSubscribe(): void }>;
  readonly #stopTick: () => void;
  /** Packets that matched no consumer (mediasoup's bandwidth probation, or a closed consumer). */
  unmatched = 0;

  constructor(dtls: RTCDtlsTransport) {
    this.#dtls = dtls;
    this.#subs = [
      dtls.onRtp.subscribe((rtp) => this.#onRtp(rtp)),
      dtls.onRtcp.subscribe((rtcp) => this.#onRtcp(rtcp)),
    ];
    this.#stopTick = onTick((now) => this.#tick(now));
  }

  get subscriptions(): Subscription[] {
    return [...this.#bySsrc.values()];
  }

  add(sub: Omit<Subscription, 'monitor'>, kind: 'audio' | 'video', ssrc: number): Subscription {
    const full = { ...sub, monitor: new StreamMonitor(kind, ssrc) };
    this.#bySsrc.set(ssrc, full);
    return full;
  }

  stop(): void {
    this.#stopTick();
    for (const s of this.#subs) s.unSubscribe();
    const now = performance.now();
    for (const s of this.#bySsrc.values()) s.monitor.finish(now);
  }

  #onRtp(rtp: RtpPacket): void {
    const sub = this.#bySsrc.get(rtp.header.ssrc);
    if (!sub) {
      this.unmatched += 1;
      return;
    }
    sub.monitor.onPacket(rtp, performance.now());
  }

  #onRtcp(rtcp: RtcpPacket): void {
    if (!(rtcp instanceof RtcpSrPacket)) return;
    const sub = this.#bySsrc.get(rtcp.ssrc);
    if (sub)
      sub.monitor.lastSr = { compact: compactNtp(rtcp.senderInfo.ntpTimestamp), at: performance.now() };
  }

  #tick(now: number): void {
    if (this.#dtls.state !== 'connected') return;
    const out: RtcpPacket[] = [];
    for (const { monitor: m } of this.#bySsrc.values()) {
      if (m.missing.length > 0) {
        out.push(
          new RtcpTransportLayerFeedback({
            feedback: new GenericNack({ senderSsrc: this.#ssrc, mediaSourceSsrc: m.ssrc, lost: m.missing }),
          }),
        );
        m.missing = [];
      }
      if (m.wantsKeyframe && now - (this.#lastPli.get(m.ssrc) ?? 0) > PLI_MIN_INTERVAL_MS) {
        this.#lastPli.set(m.ssrc, now);
        out.push(
          new RtcpPayloadSpecificFeedback({
            feedback: new PictureLossIndication({ senderSsrc: this.#ssrc, mediaSsrc: m.ssrc }),
          }),
        );
      }
    }
    if (now - this.#lastReport >= REPORT_MS) {
      this.#lastReport = now;
      const reports = [...this.#bySsrc.values()]
        .filter((s) => s.monitor.counters.packets > 0)
        .map(({ monitor: m }) => {
          const expected = m.counters.expected - m.lastReportExpected;
          const received = m.received - m.lastReportReceived;
          m.lastReportExpected = m.counters.expected;
          m.lastReportReceived = m.received;
          const lostInterval = Math.max(0, expected - received);
          return new RtcpReceiverInfo({
            ssrc: m.ssrc,
            fractionLost: expected > 0 ? Math.min(255, Math.floor((lostInterval * 256) / expected)) : 0,
            packetsLost: Math.min(m.counters.lost, 0x7fffff),
            highestSequence: m.highestExtended >>> 0,
            jitter: 0,
            lsr: m.lastSr?.compact ?? 0,
            dlsr: m.lastSr ? Math.round(((now - m.lastSr.at) / 1000) * 65536) : 0,
          });
        });
      // RFC 3550: at most 31 report blocks per RR.
      for (let i = 0; i < reports.length; i += 31) {
        out.push(new RtcpRrPacket({ ssrc: this.#ssrc, reports: reports.slice(i, i + 31) }));
      }
    }
    if (out.length > 0) void this.#dtls.sendRtcp(out);
  }
}
