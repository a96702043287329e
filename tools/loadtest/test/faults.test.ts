import { TcpBalancer } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type InProcessSignaling,
  type Stack,
  startSignaling,
  startStack,
} from '../../../services/signaling/test/support/stack';
import { LoadOptions } from '../src/LoadOptions';
import { LoadParticipant } from '../src/LoadParticipant';
import type { ParticipantResult } from '../src/LoadParticipantTypes';
import { planParticipants } from '../src/LoadRun';
import { loadMediaClip } from '../src/media/MediaClip';

const DRAIN_CAP_MS = 20_000;

/** The longest gap of any viewer→publisher video pair after `from` (epoch ms), open gaps included. */
function longestGapAfter(results: ParticipantResult[], from: number, to: number): number {
  let longest = 0;
  for (const viewer of results) {
    for (const view of viewer.video) {
      for (const [a, b] of view.gaps) if (b > from) longest = Math.max(longest, b - a);
      longest = Math.max(longest, to - (view.lastFrameAt ?? 0));
    }
  }
  return Math.round(longest);
}

/**
 * What bench:chaos relies on in the load tester: a participant whose signaling node goes resumes its
 * session through the balancer without touching its media, and one whose SFU node drains moves
 * make-before-break and releases the old node (which then exits long before its cap).
 */
describe('load participants through faults', () => {
  let stack: Stack;
  let a: InProcessSignaling;
  let b: InProcessSignaling;
  let balancer: TcpBalancer;
  const participants: LoadParticipant[] = [];

  beforeAll(async () => {
    stack = await startStack({ sfuNodes: 1, sfuEnv: { SFU_DRAIN_TIMEOUT_MS: String(DRAIN_CAP_MS) } });
    a = await startSignaling(stack.redis.url);
    b = await startSignaling(stack.redis.url);
    const backend = (url: string) => ({ host: '127.0.0.1', port: Number(new URL(url).port) });
    balancer = await TcpBalancer.start([backend(a.url), backend(b.url)]);
    const room = `faults-${Date.now().toString(36)}`;
    const tokens = await Promise.all(['p0', 'p1', 'p2'].map((id) => stack.token(room, id)));
    const specs = await planParticipants(LoadOptions.parse({ url: balancer.url, tokens, videoLayer: 0 }));
    const clip = loadMediaClip();
    for (const spec of specs) participants.push(new LoadParticipant(spec, clip));
    for (const p of participants) await p.join();
    // The move to the SFU and a few seconds of media there.
    await new Promise((r) => setTimeout(r, 8_000));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(participants.map((p) => p.leave()));
    await balancer?.close();
    await b?.close();
    await a?.close();
    await stack?.close();
  });

  it('a signaling node that goes away: its participants resume on the other, media untouched', async () => {
    const closedAt = Date.now();
    await a.close();
    await new Promise((r) => setTimeout(r, 4_000));
    const results = participants.map((p) => p.result());
    // Round robin put two of the three on the node that went.
    expect(results.reduce((n, r) => n + r.resumes, 0)).toBeGreaterThanOrEqual(1);
    for (const r of results) expect(r.errors.SESSION_LOST ?? 0, r.identity).toBe(0);
    expect(longestGapAfter(results, closedAt, Date.now())).toBeLessThan(500);
  }, 30_000);

  it('a draining SFU node: each moves before it lets go, and the node exits long before its cap', async () => {
    await stack.addSfu({ SFU_DRAIN_TIMEOUT_MS: String(DRAIN_CAP_MS) });
    const host = stack.sfus[0]!;
    const drainedAt = Date.now();
    const end = await host.process.signalAndTime('SIGTERM', DRAIN_CAP_MS + 10_000);
    expect(end.killed).toBe(false);
    // The load participants released their old peers (releaseNode): nothing waited for the cap.
    expect(end.ms).toBeLessThan(DRAIN_CAP_MS / 2);
    await new Promise((r) => setTimeout(r, 2_000));
    const results = participants.map((p) => p.result());
    for (const r of results) expect(r.rehomes, r.identity).toBe(1);
    // The first test's dropped connection is the only error anyone saw.
    for (const r of results)
      expect(
        Object.keys(r.errors).filter((c) => c !== 'DISCONNECTED'),
        r.identity,
      ).toEqual([]);
    expect(longestGapAfter(results, drainedAt, Date.now())).toBeLessThan(700);
  }, 60_000);
});
