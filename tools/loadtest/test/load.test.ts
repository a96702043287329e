// Not a dependency of this package (yet): the dev secret the test stack's signaling verifies with.

import { DEV_JWT_SECRET } from '@trellis/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type InProcessSignaling,
  type Stack,
  startSignaling,
  startStack,
} from '../../../services/signaling/test/support/stack';
import type { ParticipantResult } from '../src/LoadParticipantTypes';
import { runLoad } from '../src/LoadRun';
import { type PeerStats, SfuStatsReader, sumOf } from './support/sfuStats';

const CALLS = 2;
const PARTICIPANTS = 5;

describe('trellis load against a local cluster (signaling + 2 sfu nodes)', () => {
  let stack: Stack;
  let signaling: InProcessSignaling;
  let sfuStats: SfuStatsReader;

  beforeAll(async () => {
    stack = await startStack({ sfuNodes: 2 });
    signaling = await startSignaling(stack.redis.url);
    sfuStats = await SfuStatsReader.connect(stack.redis.url);
  }, 60_000);

  afterAll(async () => {
    await sfuStats?.close();
    await signaling?.close();
    await stack?.close();
  });

  it('2 calls × 5 for 20 s: every subscriber gets every publisher, and the counts match the SFU', async () => {
    const seen = new Map<string, PeerStats>();
    const report = await runLoad(
      {
        url: signaling.url,
        secret: DEV_JWT_SECRET,
        calls: CALLS,
        participants: PARTICIPANTS,
        durationSeconds: 20,
        joinRate: 10,
        workers: 2,
        videoLayer: 1,
      },
      {
        // Publishing has stopped and in-flight media arrived; everyone is still joined.
        beforeLeave: async (results) => {
          for (const r of results) {
            if (r.joined && r.nodeId && r.participantId) {
              seen.set(r.identity, await sfuStats.peer(r.nodeId, r.roomId, r.participantId));
            }
          }
        },
      },
    );
    const participants = report.participants as ParticipantResult[];
    const firstErrors = participants.flatMap((p) =>
      p.firstError ? [`${p.identity}: ${p.firstError.message}`] : [],
    );
    const context = JSON.stringify({ ...report, participants: undefined, firstErrors }, null, 2);

    expect(report.joins, context).toEqual({ attempted: 10, succeeded: 10, failed: 0 });
    expect(report.errors, context).toEqual({});
    // Each of 10 participants receives video and audio from the 4 others in its call.
    expect(report.subscriptions, context).toEqual({ expected: 80, withMedia: 80, missing: [] });
    expect(report.perCall.map((c) => c.joined)).toEqual([PARTICIPANTS, PARTICIPANTS]);
    // The first two of each call started in p2p: each call migrated to the SFU once, and everyone
    // the migration waited for reported the SFU path.
    expect(report.transitionsSeen).toBe(CALLS);
    expect(report.pathReadyReported).toBeGreaterThanOrEqual(CALLS * 3);
    for (const p of participants) {
      expect(p.modes.at(-1), p.identity).toBe('sfu');
      for (const s of p.subscriptions.filter((x) => x.kind === 'video')) {
        expect(s.frames, `${p.identity} ← ${s.publisherId}`).toBeGreaterThan(100);
      }
    }

    // The SFU's own counters, read while everyone was still joined but no longer sending.
    for (const p of participants) {
      const stats = seen.get(p.identity);
      expect(stats, `SFU stats of ${p.identity}`).toBeDefined();
      if (!stats) continue;
      // What this publisher sent (its retransmissions included) = what the SFU received plus what
      // it found missing; a simulcast producer has one stream per layer.
      const video = stats.producers.filter((x) => x.kind === 'video');
      const audio = stats.producers.filter((x) => x.kind === 'audio');
      expect([...video, ...audio].map((x) => x.id).sort()).toEqual([...p.producerIds].sort());
      const sfuIn = (list: typeof video) =>
        list.reduce(
          (n, x) =>
            n + sumOf(x.stats, 'inbound-rtp', 'packetCount') + sumOf(x.stats, 'inbound-rtp', 'packetsLost'),
          0,
        );
      expectClose(sfuIn(video), p.sent.videoPackets, `${p.identity} video: SFU received + lost vs sent`);
      expectClose(sfuIn(audio), p.sent.audioPackets, `${p.identity} audio: SFU received + lost vs sent`);
      // Per consumer: the packets the SFU sent this subscriber = the sequence numbers the load
      // tester saw go by (received, or counted lost).
      for (const s of p.subscriptions) {
        const consumer = stats.consumers.find((c) => c.id === s.consumerId);
        expect(consumer, `${p.identity} consumer ${s.consumerId}`).toBeDefined();
        if (!consumer) continue;
        const sfuSent = sumOf(consumer.stats, 'outbound-rtp', 'packetCount');
        const what = `${p.identity} ← ${s.publisherId} ${s.kind}`;
        expectClose(s.expected, sfuSent, `${what}: sequence numbers seen vs SFU sent`);
        expect(s.expected - s.lost, what).toBeLessThanOrEqual(sfuSent);
      }
    }
    // The JSON totals are the sums of what was checked above.
    const subs = participants.flatMap((p) => p.subscriptions);
    expect(report.received.packets).toBe(subs.reduce((n, s) => n + s.packets, 0));
    expect(report.received.lossPercent).toBeLessThan(1);
  }, 90_000);
});

/** Equal up to 1 % (packets racing the stats read on a loaded machine), and never far apart. */
function expectClose(actual: number, expected: number, what: string): void {
  expect(expected, what).toBeGreaterThan(0);
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
    Math.max(3, expected * 0.01),
  );
}
