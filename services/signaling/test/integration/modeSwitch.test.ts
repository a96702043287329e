import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ask,
  connectSocket,
  type InProcessSignaling,
  type Stack,
  startSignaling,
  startStack,
  uid,
} from '../support/stack';
import { joiner, type TestParticipant } from '../support/TestParticipant';

/** Transports an sfu process holds, from its own metrics: the proof that a 1:1 call uses none. */
async function sfuTransports(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('trellis_sfu_transports{'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

describe('P2P ↔ SFU switching with real media, participants spread over two signaling nodes', () => {
  let stack: Stack;
  let sig1: InProcessSignaling;
  let sig2: InProcessSignaling;
  const people: TestParticipant[] = [];
  const report: Record<string, unknown> = {};

  beforeAll(async () => {
    stack = await startStack({ sfuNodes: 1 });
    sig1 = await startSignaling(stack.redis.url);
    sig2 = await startSignaling(stack.redis.url);
  }, 60_000);

  afterAll(async () => {
    for (const p of people) p.close();
    await sig1?.close();
    await sig2?.close();
    await stack?.close();
    console.log(`switch gaps ${JSON.stringify(report)}`);
  });

  it('two talk peer to peer, a third moves everyone to the SFU, and back to P2P when it leaves', async () => {
    const roomId = uid('room');
    const metricsPort = stack.sfus[0]!.metricsPort;
    const toRoom = joiner(stack, roomId, people);
    const join = (id: string, sig: InProcessSignaling) => toRoom(id, sig.url);
    const alice = await join('alice', sig1);
    const bob = await join('bob', sig2);
    await alice.waitForMode('p2p');
    await bob.waitForMode('p2p');
    await alice.waitForFrames('bob', 'p2p', 30);
    await bob.waitForFrames('alice', 'p2p', 30);
    expect(await sfuTransports(metricsPort)).toBe(0);

    // A third joins: make-before-break onto the SFU.
    const toSfuStarted = performance.now();
    const carol = await join('carol', sig1);
    for (const p of [alice, bob, carol]) await p.waitForMode('sfu', 30_000);
    for (const [viewer, other] of [
      [alice, 'bob'],
      [alice, 'carol'],
      [bob, 'alice'],
      [bob, 'carol'],
      [carol, 'alice'],
      [carol, 'bob'],
    ] as const) {
      await viewer.waitForFrames(other, 'sfu', 30);
    }
    const toSfuGaps = {
      alice_sees_bob: alice.longestGap('bob', toSfuStarted),
      bob_sees_alice: bob.longestGap('alice', toSfuStarted),
    };
    report.p2p_to_sfu_longest_gap_ms = toSfuGaps;
    expect(await sfuTransports(metricsPort)).toBe(6);

    // The third leaves: after the hysteresis the pair goes back to P2P, again make-before-break.
    const toP2pStarted = performance.now();
    await carol.leave();
    for (const p of [alice, bob]) await p.waitForMode('p2p', 30_000);
    await alice.waitForFrames('bob', 'p2p', 30);
    await bob.waitForFrames('alice', 'p2p', 30);
    report.sfu_to_p2p_longest_gap_ms = {
      alice_sees_bob: alice.longestGap('bob', toP2pStarted),
      bob_sees_alice: bob.longestGap('alice', toP2pStarted),
    };
    // The SFU resources went with the switch.
    await expect.poll(() => sfuTransports(metricsPort), { timeout: 10_000 }).toBe(0);
    // A viewer would call a gap of more than a few frames a freeze; the switch must not show one.
    for (const gap of [
      ...Object.values(toSfuGaps),
      ...Object.values(report.sfu_to_p2p_longest_gap_ms as object),
    ]) {
      expect(gap).toBeLessThan(500);
    }
  }, 120_000);

  it('two joins during a migration end in one consistent SFU call', async () => {
    const roomId = uid('room');
    const toRoom = joiner(stack, roomId, people);
    const join = (id: string, sig: InProcessSignaling) => toRoom(id, sig.url);
    const a = await join('a', sig1);
    const b = await join('b', sig2);
    await a.waitForFrames('b', 'p2p', 10);
    // c starts the migration; d joins through the other node while it runs.
    const [c, d] = await Promise.all([join('c', sig1), join('d', sig2)]);
    for (const p of [a, b, c, d]) await p.waitForMode('sfu', 30_000);
    for (const viewer of [a, b, c, d]) {
      for (const other of ['a', 'b', 'c', 'd'].filter((id) => id !== viewer.id)) {
        await viewer.waitForFrames(other, 'sfu', 15);
      }
    }
    const state = await sig1.node.store.get(roomId);
    expect(state?.mode).toBe('sfu');
    expect(Object.keys(state?.participants ?? {}).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(Object.values(state?.producers ?? {})).toHaveLength(4);
    for (const p of [a, b, c, d]) await p.leave();
  }, 120_000);

  it('a migration someone never confirms rolls back, keeps P2P media flowing, and is retried', async () => {
    const impatient = await startSignaling(stack.redis.url, {
      MIGRATION_TIMEOUT_MS: '3000',
      MIGRATION_RETRY_MS: '1000',
    });
    try {
      const roomId = uid('room');
      const toRoom = joiner(stack, roomId, people);
      const join = (id: string) => toRoom(id, impatient.url);
      const a = await join('a');
      const b = await join('b');
      await a.waitForFrames('b', 'p2p', 15);
      await b.waitForFrames('a', 'p2p', 15);
      // A client that joins and never reports its SFU path: the migration cannot complete.
      const silent = await connectSocket(impatient.url, await stack.token(roomId, 'silent'));
      const reasons: string[] = [];
      silent.on('mode-changed', (e: { mode: string; reason: string; transition?: { attempt: number } }) =>
        reasons.push(`${e.mode}:${e.reason}:${e.transition?.attempt ?? '-'}`),
      );
      const started = performance.now();
      // Its own join's mode change comes in the join reply; the events after it on its socket.
      expect(await ask(silent, 'join', { roomId })).toMatchObject({
        ok: true,
        data: { room: { mode: 'migrating_to_sfu', transition: { attempt: 1 } } },
      });
      await expect
        .poll(() => reasons, { timeout: 15_000, interval: 100 })
        .toContain('migrating_to_sfu:retry:2');
      expect(reasons.slice(0, 2)).toEqual(['p2p:timed-out:-', 'migrating_to_sfu:retry:2']);
      // Through the rollback and the retry, the pair never lost its picture.
      await a.waitForFrames('b', 'p2p', 15);
      report.rollback_longest_gap_ms = {
        a_sees_b: a.longestGap('b', started),
        b_sees_a: b.longestGap('a', started),
      };
      expect(a.longestGap('b', started)).toBeLessThan(500);
      expect(b.longestGap('a', started)).toBeLessThan(500);
      // The silent one leaves: whichever way the retry in flight ends (completed and then back after
      // the hysteresis, or rolled back), the pair ends up peer to peer, still seeing each other.
      silent.close();
      const leaver = await connectSocket(impatient.url, await stack.token(roomId, 'silent'));
      expect(await ask(leaver, 'leave', { roomId })).toMatchObject({ ok: true });
      leaver.close();
      await expect
        .poll(async () => (await impatient.node.store.get(roomId))?.mode, { timeout: 20_000 })
        .toBe('p2p');
      await a.waitForFrames('b', 'p2p', 15);
      await b.waitForFrames('a', 'p2p', 15);
      await a.leave();
      await b.leave();
    } finally {
      await impatient.close();
    }
  }, 120_000);
});
