import { TcpBalancer, waitFor } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type InProcessSignaling,
  type SpawnedSignaling,
  type Stack,
  spawnSignaling,
  startSignaling,
  startStack,
  uid,
} from '../support/stack';
import { joiner, sfuCall, type TestParticipant } from '../support/TestParticipant';

const pairs = (people: TestParticipant[]) =>
  people.flatMap((viewer) => people.filter((p) => p !== viewer).map((other) => [viewer, other.id] as const));

/** Rooms an SFU node hosts, from its metrics; a node that is gone hosts none. */
async function roomsOn(metricsPort: number): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return Number(/^trellis_sfu_rooms(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The drain cap in the drain test: the node should leave long before it. */
const DRAIN_CAP_MS = 20_000;

describe('failover: processes die mid-call and the call carries on', () => {
  let stack: Stack;
  let doomed: SpawnedSignaling;
  let survivor: InProcessSignaling;
  let balancer: TcpBalancer;
  const people: TestParticipant[] = [];
  const report: Record<string, unknown> = {};

  beforeAll(async () => {
    // Each node takes 10 consumers: three participants (6) fill one, so a fourth spills to another.
    stack = await startStack({ sfuNodes: 1, sfuEnv: { SFU_MAX_CONSUMERS_PER_WORKER: '10' } });
    doomed = await spawnSignaling(stack.redis.url);
    survivor = await startSignaling(stack.redis.url);
    const backend = (url: string) => ({ host: '127.0.0.1', port: Number(new URL(url).port) });
    balancer = await TcpBalancer.start([backend(doomed.url), backend(survivor.url)]);
  }, 60_000);

  afterAll(async () => {
    for (const p of people) p.close();
    await balancer?.close();
    await doomed?.process.stop('SIGINT');
    await survivor?.close();
    await stack?.close();
    console.log(`failover ${JSON.stringify(report)}`);
  });

  it('a killed signaling node: its clients resume on the other, and frames never stop', async () => {
    const roomId = uid('room');
    await sfuCall(joiner(stack, roomId, people), ['a', 'b', 'c'], balancer.url);
    for (const [viewer, other] of pairs(people)) await viewer.waitForFrames(other, 'sfu', 15);
    const before = await survivor.node.store.get(roomId);
    const onDoomed = Object.values(before!.participants).filter(
      (p) => p.connection?.nodeId === doomed.nodeId,
    );
    expect(onDoomed.length).toBeGreaterThan(0);

    const killedAt = performance.now();
    await doomed.process.kill();
    // Everyone resumes: same participants, same sessions, same producers; nobody republished.
    await expect
      .poll(
        async () => {
          const state = await survivor.node.store.get(roomId);
          return Object.values(state?.participants ?? {}).every(
            (p) => p.connection?.nodeId === survivor.nodeId,
          );
        },
        { timeout: 20_000, interval: 100 },
      )
      .toBe(true);
    const resumedMs = Math.round(performance.now() - killedAt);
    const after = await survivor.node.store.get(roomId);
    expect(Object.keys(after!.participants).sort()).toEqual(['a', 'b', 'c']);
    for (const p of onDoomed) expect(after!.participants[p.id]!.sessionId).toBe(p.sessionId);
    expect(Object.keys(after!.producers).sort()).toEqual(Object.keys(before!.producers).sort());
    for (const [viewer, other] of pairs(people)) await viewer.waitForFrames(other, 'sfu', 15);
    const gaps = pairs(people).map(([viewer, other]) => viewer.longestGap(other, killedAt));
    report.signaling_killed = {
      clients_on_killed_node: onDoomed.length,
      all_resumed_ms: resumedMs,
      longest_frame_gap_ms: Math.max(...gaps),
    };
    // Media does not pass through signaling: its death shows no freeze.
    expect(Math.max(...gaps)).toBeLessThan(500);
  }, 120_000);

  it('a killed sfu node: its participants are re-homed and decode again', async () => {
    // The call (three on the first node) gains a fourth on a new node, then the first node dies.
    for (const p of people.splice(0)) p.close();
    const room = uid('room');
    const toRoom = joiner(stack, room, people);
    const join = (id: string) => toRoom(id, balancer.url);
    await sfuCall(toRoom, ['a', 'b', 'c'], balancer.url);
    for (const [viewer, other] of pairs(people)) await viewer.waitForFrames(other, 'sfu', 15);
    const first = stack.sfus[0]!;
    const second = await stack.addSfu({
      SFU_MAX_CONSUMERS_PER_WORKER: '500',
      SFU_DRAIN_TIMEOUT_MS: String(DRAIN_CAP_MS),
    });
    // Let the first node's load reach the registry before the fourth is placed.
    await new Promise((r) => setTimeout(r, 1500));
    await join('d');
    for (const [viewer, other] of pairs(people)) await viewer.waitForFrames(other, 'sfu', 15, 30_000);
    const spanned = await survivor.node.store.get(room);
    expect(spanned!.participants.d!.nodeId).toBe(second.nodeId);
    expect(spanned!.participants.a!.nodeId).toBe(first.nodeId);

    const killedAt = performance.now();
    await first.process.kill();
    for (const [viewer, other] of pairs(people)) await viewer.waitForFrames(other, 'sfu', 15, 40_000);
    // Recovery: when the last frozen picture moved again.
    const freezes = pairs(people).map(([viewer, other]) => viewer.longestFreeze(other, killedAt));
    const recoveredMs = Math.round(Math.max(...freezes.map((f) => f.endedAt)) - killedAt);
    const state = await survivor.node.store.get(room);
    expect(Object.values(state!.participants).map((p) => p.nodeId)).toEqual([
      second.nodeId,
      second.nodeId,
      second.nodeId,
      second.nodeId,
    ]);
    report.sfu_killed = {
      participants_on_killed_node: 3,
      all_decoding_again_ms: recoveredMs,
      longest_frame_gap_ms: Math.max(
        ...pairs(people).map(([viewer, other]) => viewer.longestGap(other, killedAt)),
      ),
    };
  }, 150_000);

  it('a draining sfu node: its participants move to another node and decode again', async () => {
    for (const p of people.splice(0)) await p.leave();
    // The drained node exits once it is empty: no peer of the previous call may linger there.
    await waitFor(
      async () => (await Promise.all(stack.sfus.map((s) => roomsOn(s.metricsPort)))).every((n) => n === 0),
      {
        timeoutMs: 30_000,
        what: 'the previous call to leave every node',
      },
    );
    await stack.addSfu({ SFU_MAX_CONSUMERS_PER_WORKER: '500', SFU_DRAIN_TIMEOUT_MS: String(DRAIN_CAP_MS) });
    const room = uid('room');
    await sfuCall(joiner(stack, room, people), ['a', 'b', 'c'], balancer.url);
    for (const [viewer, other] of pairs(people)) await viewer.waitForFrames(other, 'sfu', 15);
    const hostId = (await survivor.node.store.get(room))!.participants.a!.nodeId;
    const host = stack.sfus.find((s) => s.nodeId === hostId)!;

    // SIGTERM drains: everyone is asked to move at once, publishes on the new node while the old
    // one still forwards, then closes its old path; the node exits when its last peer has gone.
    const drainedAt = performance.now();
    const stopping = host.process.stop('SIGTERM', DRAIN_CAP_MS + 10_000);
    const exit = await host.process.exited;
    const exitedAfterMs = performance.now() - drainedAt;
    await stopping;
    expect(exit.signal).toBeNull();
    // Well before the cap: the room emptied because the participants closed their old paths.
    expect(exitedAfterMs, host.process.output.slice(-4000)).toBeLessThan(DRAIN_CAP_MS / 2);
    for (const [viewer, other] of pairs(people)) await viewer.waitForFrames(other, 'sfu', 15, 40_000);
    const state = (await survivor.node.store.get(room))!;
    for (const p of Object.values(state.participants)) expect(p.nodeId).not.toBe(hostId);
    // Only the new producers are left: the old ones were closed as the old paths were released.
    await expect
      .poll(async () =>
        Object.values((await survivor.node.store.get(room))!.producers)
          .map((p) => p.nodeId)
          .filter((id) => id === hostId),
      )
      .toEqual([]);
    expect(Object.keys((await survivor.node.store.get(room))!.producers)).toHaveLength(3);
    const freezes = pairs(people).map(([viewer, other]) => viewer.longestFreeze(other, drainedAt));
    const longest = Math.max(...freezes.map((f) => f.gapMs));
    report.sfu_drained = {
      participants_moved: 3,
      node_exited_ms: Math.round(exitedAfterMs),
      all_decoding_on_new_node_ms: Math.round(Math.max(...freezes.map((f) => f.endedAt)) - drainedAt),
      longest_frame_gap_ms: Math.round(longest),
    };
    // Make-before-break: no viewer waits for a keyframe without a picture (a gap would be ≥ 1 s).
    expect(longest).toBeLessThan(700);
  }, 150_000);
});
