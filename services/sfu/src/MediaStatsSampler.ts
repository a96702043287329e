import type { SfuNode } from './SfuNode';

export interface MediaSample {
  /** Bits/s over the node's client transports (mediasoup's own rate estimate). */
  bitrateIn: number;
  bitrateOut: number;
  /** RTCP fraction lost (0..1) averaged over inbound (producer) and outbound (consumer) streams. */
  lossIn: number;
  lossOut: number;
  /** Cumulative packets lost over the streams alive now. */
  packetsLostIn: number;
  packetsLostOut: number;
  /** Round trip to the receiving clients, seconds, from their RTCP receiver reports. */
  rttMean: number;
  rttMax: number;
  /** Streams the sample covers; a scrape reads at most `maxStats` of them. */
  streams: number;
}

type RtpStats = { type: string; fractionLost?: number; packetsLost?: number; roundTripTime?: number };
type TransportStats = { recvBitrate?: number; sendBitrate?: number };

/**
 * Reads mediasoup's stats of every client transport, producer and consumer on the node for a
 * Prometheus scrape. Each getStats is a round trip to a worker, so a scrape reads at most
 * `maxStats` producers and consumers (a 50-person call holds ~2,500 consumers) and the gauges it
 * feeds share one sample per scrape.
 */
export class MediaStatsSampler {
  readonly #node: SfuNode;
  readonly #maxStats: number;
  #pending: Promise<MediaSample> | undefined;

  constructor(node: SfuNode, opts: { maxStats?: number } = {}) {
    this.#node = node;
    this.#maxStats = opts.maxStats ?? 1000;
  }

  /** One sample for all gauges collected within the same second. */
  sample(): Promise<MediaSample> {
    this.#pending ??= this.#read().finally(() => {
      setTimeout(() => (this.#pending = undefined), 1000).unref();
    });
    return this.#pending;
  }

  async #read(): Promise<MediaSample> {
    const transports = [];
    const producers = [];
    const consumers = [];
    for (const room of this.#node.rooms.values()) {
      for (const peer of room.peers.values()) {
        transports.push(...peer.transports.values());
        producers.push(...peer.producers.values());
        consumers.push(...peer.consumers.values());
      }
    }
    const budget = Math.max(0, this.#maxStats - producers.length);
    // Closed between listing and asking: its stats are simply not part of this sample.
    const stats = <T>(read: () => Promise<unknown>) =>
      read().then(
        (s) => s as T[],
        () => [] as T[],
      );
    const [transportStats, producerStats, consumerStats] = await Promise.all([
      Promise.all(transports.map((t) => stats<TransportStats>(() => t.getStats()))),
      Promise.all(producers.slice(0, this.#maxStats).map((p) => stats<RtpStats>(() => p.getStats()))),
      Promise.all(consumers.slice(0, budget).map((c) => stats<RtpStats>(() => c.getStats()))),
    ]);
    const sample: MediaSample = {
      bitrateIn: 0,
      bitrateOut: 0,
      lossIn: 0,
      lossOut: 0,
      packetsLostIn: 0,
      packetsLostOut: 0,
      rttMean: 0,
      rttMax: 0,
      streams: 0,
    };
    for (const s of transportStats.flat()) {
      sample.bitrateIn += s.recvBitrate ?? 0;
      sample.bitrateOut += s.sendBitrate ?? 0;
    }
    const inbound = producerStats.flat().filter((s) => s.type === 'inbound-rtp');
    const outbound = consumerStats.flat().filter((s) => s.type === 'outbound-rtp');
    sample.streams = inbound.length + outbound.length;
    sample.lossIn = mean(inbound.map((s) => (s.fractionLost ?? 0) / 256));
    sample.lossOut = mean(outbound.map((s) => (s.fractionLost ?? 0) / 256));
    sample.packetsLostIn = sum(inbound.map((s) => Math.max(0, s.packetsLost ?? 0)));
    sample.packetsLostOut = sum(outbound.map((s) => Math.max(0, s.packetsLost ?? 0)));
    const rtts = outbound.flatMap((s) => (s.roundTripTime ? [s.roundTripTime / 1000] : []));
    sample.rttMean = mean(rtts);
    sample.rttMax = rtts.length === 0 ? 0 : Math.max(...rtts);
    return sample;
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length === 0 ? 0 : sum(xs) / xs.length);
