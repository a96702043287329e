import type { StatsSource } from './statsSources';
import { TypedEmitter } from './TypedEmitter';

export interface MediaFlowWatcherOptions {
  kind: 'audio' | 'video';
  getStats: StatsSource;
  /**
   * The remote track's id: picks its `inbound-rtp` entry out of a whole connection's report. Without
   * it (or when the report names no tracks) every inbound stream of `kind` counts.
   */
  trackId?: string;
  /** Polling period until media flows (and again after a stall). Default 100 ms. */
  intervalMs?: number;
  /** Polling period once media flows: cheaper, still catches a stall. Default 500 ms. */
  steadyIntervalMs?: number;
  /** No progress for this long means the track no longer delivers. Default 1500 ms. */
  stallMs?: number;
}

export type MediaFlowWatcherEvents = {
  /** The counter grew: media started (or resumed after a stall). */
  flowing: [];
  /** No progress for `stallMs`. */
  stalled: [];
  '@close': [];
};

/**
 * Decides "this track delivers media" from getStats: decoded video frames (`framesDecoded`) or
 * received audio packets (`packetsReceived`) increasing between samples. A counter that is merely
 * non-zero proves nothing (a consumer may have decoded a frame and frozen), so the first sample is
 * a baseline and flow is declared on the first increase after it.
 */
export class MediaFlowWatcher extends TypedEmitter<MediaFlowWatcherEvents> {
  readonly kind: 'audio' | 'video';
  readonly #options: Required<Omit<MediaFlowWatcherOptions, 'trackId'>> & { trackId?: string };
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #flowing = false;
  #counter: number | undefined;
  #firstProgressAt: number | undefined;
  #lastProgressAt: number | undefined;

  constructor(options: MediaFlowWatcherOptions) {
    super();
    this.kind = options.kind;
    this.#options = { intervalMs: 100, steadyIntervalMs: 500, stallMs: 1500, ...options };
    this.#schedule(0);
  }

  get flowing(): boolean {
    return this.#flowing;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The last sampled counter (frames decoded or packets received), undefined before a sample. */
  get counter(): number | undefined {
    return this.#counter;
  }

  /** Date.now() of the first observed progress. */
  get firstProgressAt(): number | undefined {
    return this.#firstProgressAt;
  }

  /** Date.now() of the latest observed progress. */
  get lastProgressAt(): number | undefined {
    return this.#lastProgressAt;
  }

  /** Resolves once flowing; rejects after `timeoutMs` or when closed first. */
  waitUntilFlowing(timeoutMs = 10_000): Promise<void> {
    if (this.#flowing) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.off('flowing', onFlowing);
        this.off('@close', onClose);
        if (error) reject(error);
        else resolve();
      };
      const onFlowing = () => done();
      const onClose = () => done(new Error('watcher closed before media flowed'));
      const timer = setTimeout(
        () => done(new Error(`no ${this.kind} media within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.on('flowing', onFlowing);
      this.on('@close', onClose);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.safeEmit('@close');
    this.removeAllListeners();
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#sample(), delayMs);
    // A forgotten watcher must not keep a Node process (or test worker) alive.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  async #sample(): Promise<void> {
    let value: number | undefined;
    try {
      value = readCounter(await this.#options.getStats(), this.kind, this.#options.trackId);
    } catch {
      // A closed connection rejects getStats; the owner closes the watcher, until then: no progress.
    }
    if (this.#closed) return;
    const now = Date.now();
    if (value !== undefined) {
      if (this.#counter !== undefined && value > this.#counter) {
        this.#firstProgressAt ??= now;
        this.#lastProgressAt = now;
        if (!this.#flowing) {
          this.#flowing = true;
          this.safeEmit('flowing');
        }
      }
      this.#counter = value;
    }
    if (this.#flowing && now - (this.#lastProgressAt ?? now) >= this.#options.stallMs) {
      this.#flowing = false;
      this.safeEmit('stalled');
    }
    this.#schedule(this.#flowing ? this.#options.steadyIntervalMs : this.#options.intervalMs);
  }
}

/** Sum of the progress counter over the matching inbound streams, or undefined when none exist yet. */
export function readCounter(
  report: RTCStatsReport,
  kind: 'audio' | 'video',
  trackId?: string,
): number | undefined {
  const inbound: Array<Record<string, unknown>> = [];
  report.forEach((entry: Record<string, unknown>) => {
    if (entry.type !== 'inbound-rtp') return;
    if ((entry.kind ?? entry.mediaType) !== kind) return;
    inbound.push(entry);
  });
  let chosen = inbound;
  // In a connection-wide report only this track's stream counts; a stream not yet listed (no packet
  // received) must not borrow another's progress. Reports that name no tracks are taken as a whole.
  if (trackId !== undefined && inbound.some((e) => typeof e.trackIdentifier === 'string')) {
    chosen = inbound.filter((e) => e.trackIdentifier === trackId);
  }
  if (chosen.length === 0) return undefined;
  let total = 0;
  for (const entry of chosen) {
    const value =
      kind === 'video'
        ? (entry.framesDecoded ?? entry.framesReceived ?? entry.packetsReceived)
        : entry.packetsReceived;
    if (typeof value === 'number') total += value;
  }
  return total;
}
