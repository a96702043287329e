import type { ParticipantResult } from '@trellis/loadtest';
import pg from 'pg';
import { sleep } from '../sfu-forwarding/util';

export interface Reconciliation {
  calls: { expected: number; rows: number; ended: number };
  participants: {
    /** Participants the load tester was told had joined. */
    expected: number;
    rows: number;
    /** Joined, but no row. */
    missing: string[];
    /** A row for someone whose join was refused or never answered. */
    ghosts: string[];
    /** More than one row for one identity in one call (a session lost and joined again). */
    duplicates: string[];
    /** Rows still without left_at once everyone had left. */
    withoutLeftAt: number;
  };
  transitions: { rows: number; byResult: Record<string, number>; seenByLoadTester: number };
  metricTicks: { rows: number; callsWithTicks: number; sampledDuringPostgresOutage: number };
  /** Seconds the persister needed after the last leave until the rows stopped changing. */
  settledAfterSeconds: number;
  pass: boolean;
}

interface Rows {
  sessions: Array<{ id: string; room_id: string; ended_at: Date | null }>;
  participants: Array<{ call_id: string; identity: string; left_at: Date | null }>;
  transitions: Array<{ result: string }>;
  metrics: Array<{ call_id: string; sampled_at: Date }>;
}

/**
 * PostgreSQL against what the load tester knows: one session per call, one participant row per
 * successful join and none for a refused one, every row closed once everyone left, transitions and
 * metric ticks present — including those produced while PostgreSQL itself was down (they queue in
 * BullMQ and land afterwards). Waits (≤ 60 s) for the persister to catch up first.
 */
export async function reconcile(
  databaseUrl: string,
  results: readonly ParticipantResult[],
  postgresDown: { from: number; to: number } | undefined,
): Promise<Reconciliation> {
  const rooms = [...new Set(results.map((r) => r.roomId))];
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const began = Date.now();
    let rows = await read(client, rooms);
    // Settled: every participant row closed and nothing changed for 3 s, or 60 s passed.
    let stableSince = Date.now();
    while (Date.now() - began < 60_000) {
      await sleep(1000);
      const next = await read(client, rooms);
      if (JSON.stringify(next) !== JSON.stringify(rows)) stableSince = Date.now();
      rows = next;
      const open = rows.participants.some((p) => p.left_at === null);
      if (!open && Date.now() - stableSince >= 3000) break;
    }
    return judge(rows, rooms, results, postgresDown, (Date.now() - began) / 1000);
  } finally {
    await client.end();
  }
}

async function read(client: pg.Client, rooms: string[]): Promise<Rows> {
  const sessions = await client.query(
    'SELECT id, room_id, ended_at FROM call_session WHERE room_id = ANY($1) ORDER BY id',
    [rooms],
  );
  const ids = sessions.rows.map((s: { id: string }) => s.id);
  const participants = await client.query(
    'SELECT call_id, identity, left_at FROM call_participant WHERE call_id = ANY($1) ORDER BY id',
    [ids],
  );
  const transitions = await client.query(
    'SELECT result FROM mode_transition WHERE call_id = ANY($1) ORDER BY id',
    [ids],
  );
  const metrics = await client.query(
    'SELECT call_id, sampled_at FROM call_metrics WHERE call_id = ANY($1) ORDER BY id',
    [ids],
  );
  return {
    sessions: sessions.rows,
    participants: participants.rows,
    transitions: transitions.rows,
    metrics: metrics.rows,
  };
}

function judge(
  rows: Rows,
  rooms: string[],
  results: readonly ParticipantResult[],
  postgresDown: { from: number; to: number } | undefined,
  settledAfterSeconds: number,
): Reconciliation {
  const roomOf = new Map(rows.sessions.map((s) => [s.id, s.room_id]));
  const key = (room: string | undefined, identity: string) => `${room}/${identity}`;
  const rowCount = new Map<string, number>();
  for (const p of rows.participants) {
    const k = key(roomOf.get(p.call_id), p.identity);
    rowCount.set(k, (rowCount.get(k) ?? 0) + 1);
  }
  const joined = results.filter((r) => r.joined);
  const joinedKeys = new Set(joined.map((r) => key(r.roomId, r.identity)));
  const missing = [...joinedKeys].filter((k) => !rowCount.has(k));
  const ghosts = [...rowCount.keys()].filter((k) => !joinedKeys.has(k));
  const duplicates = [...rowCount].filter(([, n]) => n > 1).map(([k]) => k);
  const sessionsLost = results.reduce((n, r) => n + (r.errors.SESSION_LOST ?? 0), 0);
  const byResult: Record<string, number> = {};
  for (const t of rows.transitions) byResult[t.result] = (byResult[t.result] ?? 0) + 1;
  const withoutLeftAt = rows.participants.filter((p) => p.left_at === null).length;
  const sampledDuringPostgresOutage = postgresDown
    ? rows.metrics.filter((m) => {
        const at = m.sampled_at.getTime();
        return at >= postgresDown.from && at < postgresDown.to;
      }).length
    : 0;
  const ended = rows.sessions.filter((s) => s.ended_at !== null).length;
  const callsWithTicks = new Set(rows.metrics.map((m) => m.call_id)).size;
  return {
    calls: { expected: rooms.length, rows: rows.sessions.length, ended },
    participants: {
      expected: joinedKeys.size,
      rows: rows.participants.length,
      missing,
      ghosts,
      duplicates,
      withoutLeftAt,
    },
    transitions: {
      rows: rows.transitions.length,
      byResult,
      seenByLoadTester: Math.max(0, ...joined.map((r) => r.transitions)),
    },
    metricTicks: { rows: rows.metrics.length, callsWithTicks, sampledDuringPostgresOutage },
    settledAfterSeconds: Math.round(settledAfterSeconds),
    pass:
      rows.sessions.length === rooms.length &&
      ended === rooms.length &&
      missing.length === 0 &&
      ghosts.length === 0 &&
      duplicates.length <= sessionsLost &&
      withoutLeftAt === 0 &&
      callsWithTicks === rooms.length &&
      (postgresDown === undefined || sampledDuringPostgresOutage > 0),
  };
}
