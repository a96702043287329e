import { type PostgresServer, queryPostgres, startPostgres, waitFor } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The signaling tests' real stack: signaling in this process, sfu processes, wrtc participants.
import {
  type InProcessSignaling,
  type Stack,
  startSignaling,
  startStack,
  uid,
} from '../../signaling/test/support/stack';
import { joiner, type TestParticipant } from '../../signaling/test/support/TestParticipant';
import { type InProcessPersister, migratedDatabase, startPersister } from './support';

describe('an end-to-end call through signaling and the SFU, persisted', () => {
  let stack: Stack;
  let pg: PostgresServer;
  let url: string;
  let sig: InProcessSignaling;
  let persister: InProcessPersister;
  const people: TestParticipant[] = [];

  beforeAll(async () => {
    [stack, pg] = await Promise.all([
      startStack({ sfuNodes: 1, sfuEnv: { SFU_STATS_INTERVAL_MS: '1000' } }),
      startPostgres(),
    ]);
    url = await migratedDatabase(pg.createDatabase, 'persister_e2e');
    sig = await startSignaling(stack.redis.url, { DATABASE_URL: url });
    persister = await startPersister(stack.redis.url, url, sig.config.redis.keyPrefix);
  }, 90_000);

  afterAll(async () => {
    for (const p of people) p.close();
    await sig?.close();
    await persister?.close();
    await stack?.close();
    await pg?.stop();
  });

  it('leaves a complete CallSession with its participants, P2P→SFU→P2P transitions and metrics', async () => {
    const roomId = uid('room');
    const join = joiner(stack, roomId, people);
    const alice = await join('alice', sig.url);
    const bob = await join('bob', sig.url);
    await alice.waitForFrames('bob', 'p2p', 20);
    const carol = await join('carol', sig.url);
    for (const p of [alice, bob, carol]) await p.waitForMode('sfu', 30_000);
    await alice.waitForFrames('carol', 'sfu', 30);
    await carol.waitForFrames('alice', 'sfu', 30);
    // The SFU samples every second: let a few ticks of the three-way call be taken.
    await new Promise((r) => setTimeout(r, 3500));
    await carol.leave();
    for (const p of [alice, bob]) await p.waitForMode('p2p', 30_000);
    await alice.waitForFrames('bob', 'p2p', 20);
    await alice.leave();
    await bob.leave();

    const session = await waitFor(
      async () => {
        const [row] = await queryPostgres<Record<string, unknown>>(
          url,
          'SELECT * FROM call_session WHERE room_id = $1 AND ended_at IS NOT NULL',
          [roomId],
        );
        return row;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the ended call session' },
    );
    const callId = session.id as string;
    expect(session).toMatchObject({
      room_id: roomId,
      mode: 'idle',
      transition_count: 2,
      max_participants: 50,
    });
    expect(session.sfu_node_ids).toEqual([stack.sfus[0]?.nodeId]);
    expect((session.router_ids as string[]).length).toBe(1);
    expect((session.ended_at as Date).getTime()).toBeGreaterThan((session.started_at as Date).getTime());

    const participants = await queryPostgres<Record<string, unknown>>(
      url,
      `SELECT identity, mode_at_join, left_at IS NOT NULL AS left, leave_reason, node_id, producer_ids, transport_ids
       FROM call_participant WHERE call_id = $1 ORDER BY joined_at`,
      [callId],
    );
    expect(participants.map((p) => [p.identity, p.mode_at_join, p.left, p.leave_reason])).toEqual([
      ['alice', 'idle', true, 'left'],
      ['bob', 'idle', true, 'left'],
      ['carol', 'p2p', true, 'left'],
    ]);
    for (const p of participants) {
      // On the SFU each published its video and held a send and a receive transport.
      expect(p.node_id, `${p.identity} node`).toBe(stack.sfus[0]?.nodeId);
      expect((p.producer_ids as string[]).length, `${p.identity} producers`).toBeGreaterThanOrEqual(1);
      expect((p.transport_ids as string[]).length, `${p.identity} transports`).toBe(2);
    }

    const transitions = await queryPostgres<Record<string, unknown>>(
      url,
      `SELECT from_mode, to_mode, result, duration_ms, media_gaps, max_gap_ms FROM mode_transition
       WHERE call_id = $1 ORDER BY started_at`,
      [callId],
    );
    expect(transitions.map((t) => [t.from_mode, t.to_mode, t.result])).toEqual([
      ['p2p', 'sfu', 'completed'],
      ['sfu', 'p2p', 'completed'],
    ]);
    for (const t of transitions) {
      expect(t.duration_ms as number).toBeGreaterThan(0);
      // The media gaps the participants reported across the switch (a client reports one when it
      // measured it by the time it confirmed the new path), keyed by participant.
      const gaps = Object.entries(t.media_gaps as Record<string, number>);
      for (const [who, gap] of gaps) {
        expect(['alice', 'bob', 'carol']).toContain(who);
        expect(gap).toBeLessThan(5000);
      }
      expect(t.max_gap_ms).toBe(gaps.length > 0 ? Math.round(Math.max(...gaps.map(([, g]) => g))) : null);
    }

    const metrics = await queryPostgres<{
      source: string;
      participants: number;
      rows: number;
      max_in: number;
      max_out: number;
    }>(
      url,
      `SELECT source, count(DISTINCT participant_id)::int AS participants, count(*)::int AS rows,
              max(bitrate_in) AS max_in, max(bitrate_out) AS max_out
       FROM call_metrics WHERE call_id = $1 GROUP BY source ORDER BY source`,
      [callId],
    );
    const by = Object.fromEntries(metrics.map((m) => [m.source, m]));
    for (const source of ['producer', 'consumer', 'transport']) {
      expect(by[source]?.participants, `${source} rows of all three`).toBe(3);
      expect(by[source]?.rows, `${source} rows over several ticks`).toBeGreaterThanOrEqual(6);
    }
    // Real media was measured: the producers received video, the consumers sent it on.
    expect(by.producer?.max_in).toBeGreaterThan(50_000);
    expect(by.consumer?.max_out).toBeGreaterThan(50_000);
    const [layers] = await queryPostgres<{ with_layer: number; with_rtt: number }>(
      url,
      `SELECT count(*) FILTER (WHERE spatial_layer IS NOT NULL)::int AS with_layer,
              count(*) FILTER (WHERE rtt_ms IS NOT NULL)::int AS with_rtt
       FROM call_metrics WHERE call_id = $1 AND source = 'consumer'`,
      [callId],
    );
    expect(layers?.with_layer).toBeGreaterThan(0);

    // The history API on signaling reads the same rows back, for the room's admin only.
    const admin = await stack.token(roomId, 'ops', { admin: true });
    const get = async (path: string, token = admin, base = sig.url) => {
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const calls = await get(`/v1/rooms/${roomId}/calls`);
    expect(calls.status).toBe(200);
    expect(calls.body.calls).toEqual([
      expect.objectContaining({
        callId,
        roomId,
        mode: 'idle',
        transitionCount: 2,
        sfuNodeIds: [stack.sfus[0]?.nodeId],
      }),
    ]);
    expect((await get(`/v1/rooms/${roomId}/calls?active=true`)).body.calls).toEqual([]);
    // Pages of one participant, chained by the cursor, give all three in join order.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await get(
        `/v1/rooms/${roomId}/calls/${callId}/participants?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      seen.push(...(page.body.participants as { participantId: string }[]).map((p) => p.participantId));
      cursor = page.body.nextCursor as string | undefined;
    } while (cursor);
    expect(seen).toEqual(['alice', 'bob', 'carol']);
    const history = await get(`/v1/rooms/${roomId}/calls/${callId}/transitions`);
    expect(
      (history.body.transitions as { from: string; to: string; result: string }[]).map((t) => [
        t.from,
        t.to,
        t.result,
      ]),
    ).toEqual([
      ['p2p', 'sfu', 'completed'],
      ['sfu', 'p2p', 'completed'],
    ]);
    const carolMetrics = await get(
      `/v1/rooms/${roomId}/calls/${callId}/metrics?participantId=carol&limit=5000`,
    );
    const rows = carolMetrics.body.metrics as { participantId: string; sampledAt: number }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((m) => m.participantId === 'carol')).toBe(true);
    expect(rows.map((m) => m.sampledAt)).toEqual([...rows.map((m) => m.sampledAt)].sort((a, b) => a - b));
    // Not an admin; another room's admin; a call of another room: refused, each with its code.
    const guest = await get(`/v1/rooms/${roomId}/calls`, await stack.token(roomId, 'guest'));
    expect([guest.status, (guest.body as { code?: string }).code]).toEqual([403, 'FORBIDDEN']);
    const elsewhere = uid('room');
    const otherAdmin = await stack.token(elsewhere, 'ops', { admin: true });
    const foreign = await get(`/v1/rooms/${elsewhere}/calls/${callId}/participants`, otherAdmin);
    expect([foreign.status, (foreign.body as { code?: string }).code]).toEqual([404, 'ROOM_NOT_FOUND']);
    // A signaling node without DATABASE_URL answers UNAVAILABLE.
    const bare = await startSignaling(stack.redis.url);
    try {
      const none = await get(`/v1/rooms/${roomId}/calls`, admin, bare.url);
      expect([none.status, (none.body as { code?: string }).code]).toEqual([503, 'UNAVAILABLE']);
    } finally {
      await bare.close();
    }
  }, 180_000);
});
