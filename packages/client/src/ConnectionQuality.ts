import type { StatsSource } from './statsSources';
import { TypedEmitter } from './TypedEmitter';

export type QualityLevel = 'excellent' | 'good' | 'poor' | 'lost';

export interface ConnectionQualityEvent {
  quality: QualityLevel;
  /** Inbound packet loss over the last interval, percent. */
  lossPercent: number;
  /** Round-trip time of the selected candidate pair, when known. */
  rttMs: number | undefined;
  /** Inbound bitrate over the last interval, all remote tracks together. */
  inboundKbps: number;
}

export interface ConnectionQualityOptions {
  /** The stats of every remote track currently shown. */
  sources: () => StatsSource[];
  intervalMs?: number;
}

type Counters = { lost: number; received: number; bytes: number };

/**
 * Rates this participant's connection from what it receives: packet loss and bytes between two
 * polls and the candidate pair's RTT. Emits on every change of level (and the numbers with it).
 */
export class ConnectionQuality extends TypedEmitter<{ change: [ConnectionQualityEvent] }> {
  readonly #o: ConnectionQualityOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  #last = new Map<string, Counters>();
  #lastAt = Date.now();
  #current: ConnectionQualityEvent | undefined;
  #polling = false;

  constructor(options: ConnectionQualityOptions) {
    super();
    this.#o = options;
    this.#timer = setInterval(() => void this.#poll(), options.intervalMs ?? 2_000);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  get current(): ConnectionQualityEvent | undefined {
    return this.#current;
  }

  close(): void {
    clearInterval(this.#timer);
    this.removeAllListeners();
  }

  async #poll(): Promise<void> {
    const sources = this.#o.sources();
    if (this.#polling || sources.length === 0) return;
    this.#polling = true;
    try {
      const reports = await Promise.allSettled(sources.map((s) => s()));
      const now = Date.now();
      const seconds = Math.max(0.001, (now - this.#lastAt) / 1000);
      const next = new Map<string, Counters>();
      let lost = 0;
      let received = 0;
      let bytes = 0;
      let rtt: number | undefined;
      // Streams seen in both polls: a stream that just appeared (a path switch, a new consumer) has
      // received nothing *yet* and must not read as a dead connection.
      let compared = 0;
      for (const result of reports) {
        if (result.status !== 'fulfilled') continue;
        result.value.forEach((s: Record<string, unknown>) => {
          if (s.type === 'inbound-rtp') {
            const counters = {
              lost: Math.max(0, Number(s.packetsLost ?? 0)),
              received: Number(s.packetsReceived ?? 0),
              bytes: Number(s.bytesReceived ?? 0),
            };
            const id = String(s.id);
            if (next.has(id)) return;
            next.set(id, counters);
            const before = this.#last.get(id);
            if (!before) return;
            compared += 1;
            lost += Math.max(0, counters.lost - before.lost);
            received += Math.max(0, counters.received - before.received);
            bytes += Math.max(0, counters.bytes - before.bytes);
          } else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
            const r = Number(s.currentRoundTripTime);
            if (Number.isFinite(r)) rtt = Math.max(rtt ?? 0, r * 1000);
          }
        });
      }
      this.#last = next;
      this.#lastAt = now;
      if (compared === 0) return;
      const lossPercent = lost + received > 0 ? (100 * lost) / (lost + received) : 0;
      const event: ConnectionQualityEvent = {
        quality: rate(received, lossPercent, rtt),
        lossPercent: Math.round(lossPercent * 10) / 10,
        rttMs: rtt === undefined ? undefined : Math.round(rtt),
        inboundKbps: Math.round((bytes * 8) / seconds / 1000),
      };
      const changed = this.#current?.quality !== event.quality;
      this.#current = event;
      if (changed) this.safeEmit('change', event);
    } finally {
      this.#polling = false;
    }
  }
}

function rate(received: number, lossPercent: number, rttMs: number | undefined): QualityLevel {
  if (received === 0) return 'lost';
  if (lossPercent > 5 || (rttMs ?? 0) > 400) return 'poor';
  if (lossPercent > 1 || (rttMs ?? 0) > 150) return 'good';
  return 'excellent';
}
