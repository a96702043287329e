import { callIdOf } from '@trellis/jobs';
import type { Jobs } from '@trellis/protocol';

export const PARTICIPANTS = 50;

/**
 * What the SFU's sampler queues for one 50-participant call: per tick one job holding a row for
 * every transport (send + receive), producer (audio + video) and consumer (audio + video of each of
 * the 49 others) — 50 × (2 + 2 + 98) = 5,100 rows.
 */
export function callTicks(roomId: string, startedAt: number, ticks: number, intervalMs: number) {
  const routerId = `router-${roomId}`;
  const jobs: Jobs.MetricsSampleJob[] = [];
  for (let t = 0; t < ticks; t++) {
    const sampledAt = startedAt + 1000 + t * intervalMs;
    const rows: Jobs.MetricRow[] = [];
    for (let p = 0; p < PARTICIPANTS; p++) {
      const participantId = `p${p}`;
      for (const dir of ['send', 'recv'])
        rows.push({
          participantId,
          source: 'transport',
          sourceId: `${roomId}-t-${p}-${dir}`,
          bitrateIn: 1_200_000 + t,
          bitrateOut: 24_000_000,
          packetLoss: 0.002,
        });
      for (const kind of ['audio', 'video'] as const)
        rows.push({
          participantId,
          source: 'producer',
          sourceId: `${roomId}-prod-${p}-${kind}`,
          kind,
          bitrateIn: kind === 'video' ? 1_100_000 : 40_000,
          bitrateOut: 0,
          packetLoss: 0.001,
          jitterMs: 2.5,
        });
      for (let other = 0; other < PARTICIPANTS; other++) {
        if (other === p) continue;
        for (const kind of ['audio', 'video'] as const)
          rows.push({
            participantId,
            source: 'consumer',
            sourceId: `${roomId}-cons-${p}-${other}-${kind}`,
            kind,
            bitrateIn: 0,
            bitrateOut: kind === 'video' ? 300_000 : 40_000,
            packetLoss: 0,
            rttMs: 1.2,
            ...(kind === 'video' ? { spatialLayer: 1, temporalLayer: 2 } : {}),
          });
      }
    }
    jobs.push({
      eventId: `sfu-bench/${routerId}/${sampledAt}`,
      roomId,
      nodeId: 'sfu-bench',
      routerId,
      sampledAt,
      intervalMs,
      rows,
    });
  }
  return { callId: callIdOf(roomId, startedAt), jobs };
}
