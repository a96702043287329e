import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessSignaling, type Stack, startSignaling, startStack, uid } from '../support/stack';
import { TestParticipant } from '../support/TestParticipant';

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
    const join = async (id: string, sig: InProcessSignaling) => {
      const p = await TestParticipant.join({
        url: sig.url,
        token: await stack.token(roomId, id),
        roomId,
        id,
      });
      people.push(p);
      return p;
    };
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
    const join = async (id: string, sig: InProcessSignaling) => {
      const p = await TestParticipant.join({
        url: sig.url,
        token: await stack.token(roomId, id),
        roomId,
        id,
      });
      people.push(p);
      return p;
    };
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
});
