import type { Jobs } from '@trellis/protocol';
import type { Peer } from './Peer';
import type { Room } from './Room';
import type { RtpStreamStats, StatsSamplerOptions, TransportStats } from './StatsSamplerTypes';

type Row = Jobs.MetricRow;
interface Counters {
  packets: number;
  lost: number;
}

const clamp01 = (x: number) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);
const clockRateOf = (mimeType = '') => (mimeType.startsWith('audio/') ? 48_000 : 90_000);

/**
 * Every `intervalMs`, reads the stats of each producer, consumer and transport on the node and
 * queues one metrics.sample job per room for the persister. Loss is computed from the counters'
 * change since the previous tick (mediasoup's counters are cumulative); the first tick of a stream
 * falls back to RTCP's fraction lost. Runs off the media path: ticks never overlap, getStats calls
 * are bounded in parallel, and publishing never waits on Redis.
 */
export class StatsSampler {
  readonly #o: Required<StatsSamplerOptions>;
  readonly #previous = new Map<string, Counters>();
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<unknown> | undefined;
  #closed = false;

  constructor(options: StatsSamplerOptions) {
    this.#o = { parallel: 32, ...options };
  }

  start(): void {
    if (this.#timer || this.#o.intervalMs <= 0) return;
    this.#timer = setInterval(() => {
      // A slow tick (a very large call on a loaded node) skips the next one rather than piling up.
      if (this.#tick || this.#closed) return;
      this.#tick = this.sampleOnce()
        .catch((error: unknown) => this.#o.logger.warn({ err: String(error) }, 'stats sampling failed'))
        .finally(() => {
          this.#tick = undefined;
        });
    }, this.#o.intervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#tick;
  }

  /** One tick over every room: returns the rows queued. */
  async sampleOnce(): Promise<number> {
    const seen = new Set<string>();
    let rows = 0;
    for (const room of [...this.#o.node.rooms.values()]) {
      const sampledAt = Date.now();
      const roomRows = await this.#sampleRoom(room, seen);
      const routerId = room.routers[0]?.router.id;
      if (roomRows.length === 0 || !routerId) continue;
      const nodeId = this.#o.node.nodeId;
      this.#o.publisher.publish('metrics.sample', {
        eventId: `${nodeId}/${routerId}/${sampledAt}`,
        roomId: room.roomId,
        nodeId,
        routerId,
        sampledAt,
        intervalMs: this.#o.intervalMs,
        rows: roomRows,
      });
      rows += roomRows.length;
    }
    // Streams that are gone take their counters with them.
    for (const id of this.#previous.keys()) if (!seen.has(id)) this.#previous.delete(id);
    return rows;
  }

  async #sampleRoom(room: Room, seen: Set<string>): Promise<Row[]> {
    const reads: (() => Promise<Row | undefined>)[] = [];
    for (const peer of room.peers.values()) {
      for (const t of peer.transports.values())
        reads.push(() => this.#transportRow(peer, t.id, () => t.getStats() as Promise<unknown>));
      for (const p of peer.producers.values()) {
        reads.push(async () => {
          const stats = (await p.getStats()) as RtpStreamStats[];
          return this.#rtpRow(peer, 'producer', p.id, p.kind, stats, seen);
        });
      }
      for (const c of peer.consumers.values()) {
        reads.push(async () => {
          // A consumer's stats hold its outbound stream and, second, the producer's inbound one.
          const stats = ((await c.getStats()) as RtpStreamStats[]).filter((s) => s.type === 'outbound-rtp');
          const row = this.#rtpRow(peer, 'consumer', c.id, c.kind, stats, seen);
          const layers = c.currentLayers;
          if (layers) {
            row.spatialLayer = layers.spatialLayer;
            if (layers.temporalLayer !== undefined) row.temporalLayer = layers.temporalLayer;
          }
          return row;
        });
      }
    }
    const rows: Row[] = [];
    for (let i = 0; i < reads.length; i += this.#o.parallel) {
      const batch = await Promise.all(
        // Closed between listing and reading: simply not in this sample.
        reads.slice(i, i + this.#o.parallel).map((read) => read().catch(() => undefined)),
      );
      for (const row of batch) if (row) rows.push(row);
    }
    return rows;
  }

  async #transportRow(peer: Peer, id: string, read: () => Promise<unknown>): Promise<Row> {
    const [stats] = (await read()) as TransportStats[];
    return {
      participantId: peer.id,
      source: 'transport',
      sourceId: id,
      bitrateIn: stats?.recvBitrate ?? 0,
      bitrateOut: stats?.sendBitrate ?? 0,
      packetLoss: clamp01(stats?.rtpPacketLossReceived ?? 0),
    };
  }

  #rtpRow(
    peer: Peer,
    source: 'producer' | 'consumer',
    id: string,
    kind: 'audio' | 'video',
    streams: RtpStreamStats[],
    seen: Set<string>,
  ): Row {
    seen.add(id);
    let bitrate = 0;
    let packets = 0;
    let lost = 0;
    let fraction = 0;
    let jitterMs: number | undefined;
    let rttMs: number | undefined;
    for (const s of streams) {
      bitrate += s.bitrate ?? 0;
      packets += s.packetCount ?? 0;
      lost += s.packetsLost ?? 0;
      fraction = Math.max(fraction, (s.fractionLost ?? 0) / 256);
      if (s.jitter !== undefined)
        jitterMs = Math.max(jitterMs ?? 0, (s.jitter / clockRateOf(s.mimeType)) * 1000);
      if (s.roundTripTime !== undefined && s.roundTripTime > 0) rttMs = Math.max(rttMs ?? 0, s.roundTripTime);
    }
    const before = this.#previous.get(id);
    this.#previous.set(id, { packets, lost });
    const dPackets = before ? packets - before.packets : 0;
    const dLost = before ? lost - before.lost : 0;
    const packetLoss =
      before && dPackets + dLost > 0 ? clamp01(dLost / (dPackets + dLost)) : clamp01(fraction);
    return {
      participantId: peer.id,
      source,
      sourceId: id,
      kind,
      bitrateIn: source === 'producer' ? bitrate : 0,
      bitrateOut: source === 'consumer' ? bitrate : 0,
      packetLoss,
      ...(jitterMs === undefined ? {} : { jitterMs: Math.round(jitterMs * 100) / 100 }),
      ...(rttMs === undefined ? {} : { rttMs: Math.round(rttMs * 100) / 100 }),
    };
  }
}
