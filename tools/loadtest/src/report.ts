import { cpus, loadavg } from 'node:os';
import type { LoadOptions } from './LoadOptions';
import type { ParticipantResult } from './LoadParticipantTypes';
import type { WorkerHealth } from './workerMessages';

export interface Percentiles {
  samples: number;
  p50: number | undefined;
  p95: number | undefined;
  max: number | undefined;
}

export interface MissingSubscription {
  subscriber: string;
  publisher: string;
  kind: 'audio' | 'video';
  reason: 'not-consumed' | 'no-media';
}

export interface LoadReport {
  target: string;
  calls: number;
  participantsPerCall: number;
  workers: number;
  durationSeconds: number;
  joinRate: number;
  subscribe: string;
  videoLayer: number;
  speakers: number;
  joins: { attempted: number; succeeded: number; failed: number };
  joinMs: Percentiles;
  joinToFirstFrameMs: Percentiles;
  subscribeToFirstFrameMs: Percentiles;
  received: {
    packets: number;
    bytes: number;
    bitrateKbps: number;
    expected: number;
    lost: number;
    lossPercent: number;
    videoFrames: number;
    keyframes: number;
    freezes: number;
    freezeSeconds: number;
  };
  sent: {
    videoPackets: number;
    audioPackets: number;
    bytes: number;
    bitrateKbps: number;
    plis: number;
    nacked: number;
  };
  subscriptions: { expected: number; withMedia: number; missing: MissingSubscription[] };
  transitionsSeen: number;
  pathReadyReported: number;
  rehomes: number;
  /** Sessions resumed after a signaling connection dropped. */
  resumes: number;
  rateLimitedRetries: number;
  /** Requests answered UNAVAILABLE (signaling's Redis down) and sent again. */
  unavailableRetries: number;
  errors: Record<string, number>;
  /** One message per error code, for the why. */
  errorExamples: Record<string, string>;
  perCall: Array<{
    roomId: string;
    joined: number;
    lossPercent: number;
    freezes: number;
    bitrateKbps: number;
  }>;
  /** The load generator's own state: if it was starved, loss and freezes may be its own. */
  loadGenerator: {
    workers: number;
    cpuCores: number;
    eventLoopDelayP99Ms: number;
    eventLoopDelayMaxMs: number;
    /** Each worker's event-loop stalls over 100 ms, [from, to] in epoch ms. */
    stalls: Array<[number, number]>;
  };
  machine: { cpus: number; loadAverage: number[] };
  participants?: ParticipantResult[];
}

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { samples: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] };
}

/**
 * The run in numbers. Loss is RFC 3550's (expected from sequence numbers minus received, after
 * NACK retransmission) summed over every subscription; bitrates are averaged over the time each
 * participant was on the SFU.
 */
export function buildReport(
  o: LoadOptions,
  results: ParticipantResult[],
  attempted: number,
  elapsedSeconds: number,
  health: WorkerHealth[] = [],
): LoadReport {
  const joined = results.filter((r) => r.joined);
  const subs = results.flatMap((r) => r.subscriptions);
  const sum = (f: (s: (typeof subs)[number]) => number, list = subs) => list.reduce((n, s) => n + f(s), 0);
  const expected = sum((s) => s.expected);
  const lost = sum((s) => s.lost);
  const errors: Record<string, number> = {};
  const errorExamples: Record<string, string> = {};
  for (const r of results) {
    for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
    for (const [code, message] of Object.entries(r.errorMessages)) errorExamples[code] ??= message;
  }
  const sfuSeconds = Math.max(1, ...results.map((r) => r.sfuSeconds));
  const sentBytes = results.reduce((n, r) => n + r.sent.bytes, 0);
  const calls = [...new Set(results.map((r) => r.roomId))];
  return {
    target: o.url,
    calls: calls.length,
    participantsPerCall: o.tokens ? Math.round(results.length / Math.max(1, calls.length)) : o.participants,
    workers: o.workers,
    durationSeconds: Math.round(elapsedSeconds * 10) / 10,
    joinRate: o.joinRate,
    subscribe: o.subscribe,
    videoLayer: o.videoLayer,
    speakers: o.speakers,
    joins: { attempted, succeeded: joined.length, failed: attempted - joined.length },
    joinMs: percentiles(joined.flatMap((r) => (r.joinMs === undefined ? [] : [r.joinMs]))),
    joinToFirstFrameMs: percentiles(
      joined.flatMap((r) => (r.firstFrameMs === undefined ? [] : [r.firstFrameMs])),
    ),
    subscribeToFirstFrameMs: percentiles(
      subs
        .filter((s) => s.kind === 'video')
        .flatMap((s) => (s.firstMediaMs === undefined ? [] : [s.firstMediaMs])),
    ),
    received: {
      packets: sum((s) => s.packets),
      bytes: sum((s) => s.bytes),
      bitrateKbps: Math.round((sum((s) => s.bytes) * 8) / 1000 / sfuSeconds),
      expected,
      lost,
      lossPercent: expected > 0 ? Math.round((lost / expected) * 10_000) / 100 : 0,
      videoFrames: sum((s) => s.frames),
      keyframes: sum((s) => s.keyframes),
      freezes: sum((s) => s.freezes),
      freezeSeconds: Math.round(sum((s) => s.freezeMs) / 100) / 10,
    },
    sent: {
      videoPackets: results.reduce((n, r) => n + r.sent.videoPackets, 0),
      audioPackets: results.reduce((n, r) => n + r.sent.audioPackets, 0),
      bytes: sentBytes,
      bitrateKbps: Math.round((sentBytes * 8) / 1000 / sfuSeconds),
      plis: results.reduce((n, r) => n + r.sent.plis, 0),
      nacked: results.reduce((n, r) => n + r.sent.nacked, 0),
    },
    subscriptions: subscriptionCoverage(o, results),
    transitionsSeen: calls.reduce(
      (n, room) => n + Math.max(0, ...results.filter((r) => r.roomId === room).map((r) => r.transitions)),
      0,
    ),
    pathReadyReported: results.reduce((n, r) => n + r.pathReadyReported, 0),
    rehomes: results.reduce((n, r) => n + r.rehomes, 0),
    resumes: results.reduce((n, r) => n + r.resumes, 0),
    rateLimitedRetries: results.reduce((n, r) => n + r.rateLimitedRetries, 0),
    unavailableRetries: results.reduce((n, r) => n + r.unavailableRetries, 0),
    errors,
    errorExamples,
    perCall: calls.map((roomId) => {
      const inCall = results.filter((r) => r.roomId === roomId);
      const callSubs = inCall.flatMap((r) => r.subscriptions);
      const e = sum((s) => s.expected, callSubs);
      return {
        roomId,
        joined: inCall.filter((r) => r.joined).length,
        lossPercent: e > 0 ? Math.round((sum((s) => s.lost, callSubs) / e) * 10_000) / 100 : 0,
        freezes: sum((s) => s.freezes, callSubs),
        bitrateKbps: Math.round((sum((s) => s.bytes, callSubs) * 8) / 1000 / sfuSeconds),
      };
    }),
    loadGenerator: {
      workers: health.length,
      cpuCores:
        Math.round((health.reduce((n, h) => n + h.cpuSeconds, 0) / Math.max(1, elapsedSeconds)) * 100) / 100,
      eventLoopDelayP99Ms: Math.max(0, ...health.map((h) => h.eventLoopDelayP99Ms)),
      eventLoopDelayMaxMs: Math.max(0, ...health.map((h) => h.eventLoopDelayMaxMs)),
      stalls: health.flatMap((h) => h.stalls).sort((a, b) => a[0] - b[0]),
    },
    machine: { cpus: cpus().length, loadAverage: loadavg().map((l) => Math.round(l * 100) / 100) },
  };
}

/**
 * Every subscription the policy calls for, between joined participants of one call: consumed, and
 * delivering media (a rendered frame for video, a packet for audio).
 */
function subscriptionCoverage(o: LoadOptions, results: ParticipantResult[]): LoadReport['subscriptions'] {
  const missing: MissingSubscription[] = [];
  let expectedCount = 0;
  let withMedia = 0;
  const kinds = [
    ...(o.publishVideo ? (['video'] as const) : []),
    ...(o.publishAudio ? (['audio'] as const) : []),
  ];
  for (const sub of results) {
    if (!sub.joined) continue;
    const others = results.filter((r) => r.joined && r.roomId === sub.roomId && r.identity !== sub.identity);
    const last = o.subscribe.startsWith('last-') ? Number(o.subscribe.slice(5)) : undefined;
    for (const kind of kinds) {
      const limit =
        o.subscribe === 'all' || (last !== undefined && kind === 'audio')
          ? others.length
          : o.subscribe === 'none'
            ? 0
            : (last ?? Number(o.subscribe));
      // A count or last-N policy may pick any `limit` publishers: judge the ones it picked (for
      // last-N the unpaused tiles), then the rest.
      const picked = new Set(
        sub.subscriptions.filter((s) => s.kind === kind && !s.paused).map((s) => s.publisherId),
      );
      const ordered = [
        ...others.filter((p) => picked.has(p.participantId ?? '')),
        ...others.filter((p) => !picked.has(p.participantId ?? '')),
      ].slice(0, limit);
      for (const pub of ordered) {
        expectedCount += 1;
        const s = sub.subscriptions.find((x) => x.publisherId === pub.participantId && x.kind === kind);
        const ok = s !== undefined && (kind === 'video' ? s.frames > 0 : s.packets > 0);
        if (ok) withMedia += 1;
        else if (missing.length < 50) {
          missing.push({
            subscriber: sub.identity,
            publisher: pub.identity,
            kind,
            reason: s ? 'no-media' : 'not-consumed',
          });
        }
      }
    }
  }
  return { expected: expectedCount, withMedia, missing };
}

export function summaryText(r: LoadReport): string {
  const ms = (p: Percentiles) =>
    p.samples === 0 ? 'n/a' : `p50 ${p.p50} ms, p95 ${p.p95} ms (n=${p.samples})`;
  const errors =
    Object.entries(r.errors)
      .map(([c, n]) => `${c}×${n}`)
      .join(', ') || 'none';
  return [
    `trellis load: ${r.calls} call(s) × ${r.participantsPerCall} against ${r.target}, ${r.durationSeconds} s, ${r.workers} worker(s)`,
    `  joins          ${r.joins.succeeded}/${r.joins.attempted} ok, ${r.joins.failed} failed; join ${ms(r.joinMs)}`,
    `  first frame    join → frame ${ms(r.joinToFirstFrameMs)}; subscribe → frame ${ms(r.subscribeToFirstFrameMs)}`,
    `  received       ${r.received.packets} packets, ${r.received.bitrateKbps} kbps, loss ${r.received.lossPercent} % (${r.received.lost}/${r.received.expected})`,
    `  video          ${r.received.videoFrames} frames, ${r.received.keyframes} keyframes, ${r.received.freezes} freezes (${r.received.freezeSeconds} s)`,
    `  sent           ${r.sent.videoPackets + r.sent.audioPackets} packets, ${r.sent.bitrateKbps} kbps, ${r.sent.plis} PLIs answered, ${r.sent.nacked} retransmitted`,
    `  subscriptions  ${r.subscriptions.withMedia}/${r.subscriptions.expected} delivering media`,
    `  transitions    ${r.transitionsSeen} seen, ${r.pathReadyReported} path-ready reports, ${r.rehomes} rehomes, ${r.resumes} resumes`,
    `  errors         ${errors} (${r.rateLimitedRetries} rate-limited requests retried)`,
    `  load generator ${r.loadGenerator.workers} worker(s), ${r.loadGenerator.cpuCores} cores, event loop delay p99 ${r.loadGenerator.eventLoopDelayP99Ms} ms (max ${r.loadGenerator.eventLoopDelayMaxMs} ms)`,
    `  machine        ${r.machine.cpus} cpus, load average ${r.machine.loadAverage.join(' ')}`,
  ].join('\n');
}
