import type { Db } from '@trellis/db';
import { derivedId } from '@trellis/jobs';
import type { Jobs } from '@trellis/protocol';

/** Thrown (and retried with backoff) when samples arrive before their call's first event landed. */
export class CallNotRecordedError extends Error {
  constructor(
    readonly roomId: string,
    readonly sampledAt: number,
  ) {
    super(`no call recorded in room ${roomId} at ${new Date(sampledAt).toISOString()} yet`);
    this.name = 'CallNotRecordedError';
  }
}

const CACHE_MS = 10_000;

interface CachedCall {
  callId: string;
  startedAt: number;
  /** When the lookup ran: it vouches for samples up to CACHE_MS after it (a new call in the room may follow). */
  lookedUpAt: number;
}

/**
 * Writes one sampling tick (a room on one node: every producer, consumer and transport) in one
 * multi-row INSERT … ON CONFLICT DO NOTHING. Row ids derive from the sample's event id and the
 * source, so a replayed tick inserts nothing. The SFU knows rooms, not calls: the call is the
 * room's session that was live when the sample was taken.
 */
export class MetricsWriter {
  readonly #db: Db;
  readonly #calls = new Map<string, CachedCall>();

  constructor(db: Db) {
    this.#db = db;
  }

  async write(e: Jobs.MetricsSampleJob): Promise<number> {
    const callId = await this.#callAt(e.roomId, e.sampledAt);
    const rows = e.rows;
    const col = <T>(pick: (r: Jobs.MetricRow) => T) => rows.map(pick);
    // One statement whatever the tick's size: each column travels as one array parameter and
    // unnest() turns them back into rows. Measured in bench/persist: Prisma's createMany spends
    // most of its time building and binding per-row parameters in JS (~1,800 rows/s on two cores);
    // this runs at the speed of a hand-written multi-row INSERT.
    const inserted = await this.#db.$executeRaw`
      INSERT INTO call_metrics (id, call_id, participant_id, node_id, source, source_id, kind, sampled_at,
        interval_ms, bitrate_in, bitrate_out, packet_loss, jitter_ms, rtt_ms, frames_decoded, frames_dropped,
        spatial_layer, temporal_layer)
      SELECT u.id, ${callId}, u.participant_id, ${e.nodeId}, u.source::"MetricSource", u.source_id, u.kind,
        ${new Date(e.sampledAt)}::timestamptz, ${e.intervalMs}::int, u.bitrate_in, u.bitrate_out, u.packet_loss,
        u.jitter_ms, u.rtt_ms, u.frames_decoded, u.frames_dropped, u.spatial_layer, u.temporal_layer
      FROM unnest(
        ${col((r) => derivedId(e.eventId, r.source, r.sourceId))}::text[],
        ${col((r) => r.participantId)}::text[],
        ${col((r) => r.source)}::text[],
        ${col((r) => r.sourceId)}::text[],
        ${col((r) => r.kind ?? null)}::text[],
        ${col((r) => r.bitrateIn)}::float8[],
        ${col((r) => r.bitrateOut)}::float8[],
        ${col((r) => r.packetLoss)}::float8[],
        ${col((r) => r.jitterMs ?? null)}::float8[],
        ${col((r) => r.rttMs ?? null)}::float8[],
        ${col((r) => r.framesDecoded ?? null)}::int[],
        ${col((r) => r.framesDropped ?? null)}::int[],
        ${col((r) => r.spatialLayer ?? null)}::int[],
        ${col((r) => r.temporalLayer ?? null)}::int[]
      ) AS u(id, participant_id, source, source_id, kind, bitrate_in, bitrate_out, packet_loss, jitter_ms,
             rtt_ms, frames_decoded, frames_dropped, spatial_layer, temporal_layer)
      ON CONFLICT (id) DO NOTHING`;
    const count = Number(inserted);
    await this.#recordPlacement(callId, e);
    return count;
  }

  /** The router and node on the session, each participant's transports on its row: set unions, no-ops when known. */
  async #recordPlacement(callId: string, e: Jobs.MetricsSampleJob): Promise<void> {
    await this.#db.$executeRaw`
      UPDATE call_session SET
        router_ids = CASE WHEN ${e.routerId}::text = ANY(coalesce(router_ids, '{}')) THEN router_ids
                          ELSE array_append(coalesce(router_ids, '{}'), ${e.routerId}::text) END,
        sfu_node_ids = CASE WHEN ${e.nodeId}::text = ANY(coalesce(sfu_node_ids, '{}')) THEN sfu_node_ids
                            ELSE array_append(coalesce(sfu_node_ids, '{}'), ${e.nodeId}::text) END,
        updated_at = now()
      WHERE id = ${callId}
        AND NOT (${e.routerId}::text = ANY(coalesce(router_ids, '{}')) AND ${e.nodeId}::text = ANY(coalesce(sfu_node_ids, '{}')))`;
    const transports = new Map<string, Set<string>>();
    for (const r of e.rows) {
      if (r.source !== 'transport') continue;
      const ids = transports.get(r.participantId) ?? new Set<string>();
      ids.add(r.sourceId);
      transports.set(r.participantId, ids);
    }
    if (transports.size === 0) return;
    const list = JSON.stringify([...transports].map(([identity, ids]) => ({ identity, ids: [...ids] })));
    // The stay that covers the sample gets the transports: the participant.left job runs on the
    // other queue and may land first, so "not yet left" would lose the last stay's transports.
    await this.#db.$executeRaw`
      UPDATE call_participant p SET
        transport_ids = ARRAY(SELECT DISTINCT unnest(coalesce(p.transport_ids, '{}') || v.ids)),
        node_id = ${e.nodeId}
      FROM (SELECT x.identity, ARRAY(SELECT jsonb_array_elements_text(x.ids)) AS ids
            FROM jsonb_to_recordset(${list}::jsonb) AS x(identity text, ids jsonb)) v
      WHERE p.call_id = ${callId} AND p.identity = v.identity
        AND p.joined_at <= ${new Date(e.sampledAt)}
        AND (p.left_at IS NULL OR p.left_at >= ${new Date(e.sampledAt)})
        AND NOT (v.ids <@ coalesce(p.transport_ids, '{}'))`;
  }

  async #callAt(roomId: string, sampledAt: number): Promise<string> {
    const cached = this.#calls.get(roomId);
    if (cached && cached.startedAt <= sampledAt && sampledAt <= cached.lookedUpAt + CACHE_MS)
      return cached.callId;
    const lookedUpAt = Date.now();
    const rows = await this.#db.$queryRaw<{ id: string; started_at: Date; ended_at: Date | null }[]>`
      SELECT id, started_at, ended_at FROM call_session
      WHERE room_id = ${roomId} AND started_at <= ${new Date(sampledAt)}
      ORDER BY started_at DESC LIMIT 1`;
    const row = rows[0];
    // A call that had ended before the sample is an earlier call: this one's start has not landed.
    if (!row || (row.ended_at !== null && row.ended_at.getTime() < sampledAt - 1000))
      throw new CallNotRecordedError(roomId, sampledAt);
    if (this.#calls.size > 10_000) this.#calls.clear();
    this.#calls.set(roomId, { callId: row.id, startedAt: row.started_at.getTime(), lookedUpAt });
    return row.id;
  }
}
