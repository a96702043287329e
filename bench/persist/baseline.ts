import { derivedId } from '@trellis/jobs';
import type { Jobs } from '@trellis/protocol';
import pg from 'pg';

const COLUMNS = [
  'id',
  'call_id',
  'participant_id',
  'node_id',
  'source',
  'source_id',
  'kind',
  'sampled_at',
  'interval_ms',
  'bitrate_in',
  'bitrate_out',
  'packet_loss',
  'jitter_ms',
  'rtt_ms',
  'frames_decoded',
  'frames_dropped',
  'spatial_layer',
  'temporal_layer',
];
const ROWS_PER_INSERT = 2000;

/**
 * The baseline: the same rows written with hand-built multi-row INSERT … ON CONFLICT DO NOTHING
 * statements (2,000 rows each) over `connections` pg connections, the ticks shared among them as
 * the persister's concurrent jobs share them — no queue, no Prisma, no validation.
 */
export async function rawInsert(
  url: string,
  callId: string,
  jobs: Jobs.MetricsSampleJob[],
  connections: number,
): Promise<number> {
  const counts = await Promise.all(
    Array.from({ length: connections }, (_, c) =>
      insertWith(
        url,
        callId,
        jobs.filter((_, i) => i % connections === c),
      ),
    ),
  );
  return counts.reduce((a, b) => a + b, 0);
}

async function insertWith(url: string, callId: string, jobs: Jobs.MetricsSampleJob[]): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let inserted = 0;
  try {
    for (const job of jobs) {
      const sampledAt = new Date(job.sampledAt);
      for (let i = 0; i < job.rows.length; i += ROWS_PER_INSERT) {
        const chunk = job.rows.slice(i, i + ROWS_PER_INSERT);
        const params: unknown[] = [];
        const tuples = chunk.map((r) => {
          const values = [
            derivedId('baseline', job.eventId, r.source, r.sourceId),
            callId,
            r.participantId,
            job.nodeId,
            r.source,
            r.sourceId,
            r.kind ?? null,
            sampledAt,
            job.intervalMs,
            r.bitrateIn,
            r.bitrateOut,
            r.packetLoss,
            r.jitterMs ?? null,
            r.rttMs ?? null,
            r.framesDecoded ?? null,
            r.framesDropped ?? null,
            r.spatialLayer ?? null,
            r.temporalLayer ?? null,
          ];
          const base = params.length;
          params.push(...values);
          return `(${values.map((_, k) => `$${base + k + 1}${k === 4 ? '::"MetricSource"' : ''}`).join(',')})`;
        });
        const result = await client.query(
          `INSERT INTO call_metrics (${COLUMNS.join(',')}) VALUES ${tuples.join(',')} ON CONFLICT (id) DO NOTHING`,
          params,
        );
        inserted += result.rowCount ?? 0;
      }
    }
  } finally {
    await client.end();
  }
  return inserted;
}
