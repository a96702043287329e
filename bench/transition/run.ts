// bench/transition: the receiver's view of P2P↔SFU switches. Two wrtc participants (alice, bob)
// stay in a call; a third (carol) joins, which moves the call to the SFU, then leaves, which moves
// it back to P2P after the hysteresis (shortened here). For every switch, each of alice and bob
// reports the longest interval between frames of the other that its exposed track delivered —
// what a viewer of that tile sees. Baseline, same run and same receivers: the longest interval in
// an equally long window with no switch (steady P2P), i.e. the jitter of the media itself.
// One JSON document on stdout, progress on stderr; bounded in switches and in time.
import os from 'node:os';
import { parseArgs } from 'node:util';
import {
  type InProcessSignaling,
  type Stack,
  startSignaling,
  startStack,
  uid,
} from '../../services/signaling/test/support/stack';
import { TestParticipant } from '../../services/signaling/test/support/TestParticipant';
import { ensureMediasoupWorkerBin } from '../common';
import { progress, sleep } from '../sfu-forwarding/util';
import { summarize } from '../signaling/stats';

const { values } = parseArgs({
  options: {
    /** Switches each way (each cycle is one P2P→SFU and one SFU→P2P). */
    switches: { type: 'string', default: '20' },
    /** Signaling's wait before leaving the SFU once the call is back to two. */
    'hysteresis-ms': { type: 'string', default: '500' },
    /** Frames of the other each receiver must show on the new path before a switch counts as done. */
    frames: { type: 'string', default: '15' },
    /** The no-switch window the baseline measures, per cycle. */
    'baseline-ms': { type: 'string', default: '2000' },
    'max-seconds': { type: 'string', default: '600' },
    /** Camera simulcast on the SFU path (the SDK's default). */
    simulcast: { type: 'string', default: 'true' },
  },
});
const clamp = (v: string, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.floor(Number(v)) || lo));
const SWITCHES = clamp(values.switches, 1, 200);
const HYSTERESIS_MS = clamp(values['hysteresis-ms'], 0, 60_000);
const FRAMES = clamp(values.frames, 1, 300);
const BASELINE_MS = clamp(values['baseline-ms'], 200, 30_000);
const MAX_MS = clamp(values['max-seconds'], 10, 3_600) * 1000;
const SIMULCAST = values.simulcast !== 'false';
const TARGET_P95_MS = 250;

ensureMediasoupWorkerBin();
// The in-process signaling node logs to stdout, which carries this benchmark's JSON.
process.env.SIGNALING_TEST_LOG_LEVEL ??= 'error';

interface SwitchSample {
  cycle: number;
  /** From the trigger (join/leave) to both receivers showing the new path. */
  switch_ms: number;
  /** Longest frame interval each receiver showed of the other, trigger to done. */
  alice_sees_bob_ms: number;
  bob_sees_alice_ms: number;
}

async function waitOnPath(viewers: Array<[TestParticipant, string]>, path: 'p2p' | 'sfu'): Promise<void> {
  for (const [viewer, other] of viewers) await viewer.waitForFrames(other, path, FRAMES, 30_000);
}

async function main(): Promise<number> {
  const started = Date.now();
  progress(`starting redis, one sfu and one signaling node (hysteresis ${HYSTERESIS_MS} ms)`);
  const stack: Stack = await startStack({ sfuNodes: 1 });
  let signaling: InProcessSignaling | undefined;
  const people: TestParticipant[] = [];
  const toSfu: SwitchSample[] = [];
  const toP2p: SwitchSample[] = [];
  const baseline: number[] = [];
  const failures: string[] = [];
  try {
    signaling = await startSignaling(stack.redis.url, {
      P2P_HYSTERESIS_MS: String(HYSTERESIS_MS),
      MIGRATION_RETRY_MS: '500',
    });
    const roomId = uid('bench-transition');
    const url = signaling.url;
    const join = async (id: string, at: string) => {
      const token = await stack.token(roomId, id);
      const participant = await TestParticipant.join({ url: at, token, roomId, id, simulcast: SIMULCAST });
      people.push(participant);
      return participant;
    };
    const alice = await join('alice', url);
    const bob = await join('bob', url);
    await alice.waitForMode('p2p');
    await bob.waitForMode('p2p');
    const pair: Array<[TestParticipant, string]> = [
      [alice, 'bob'],
      [bob, 'alice'],
    ];
    await waitOnPath(pair, 'p2p');
    for (let cycle = 1; cycle <= SWITCHES; cycle++) {
      if (Date.now() - started > MAX_MS) {
        failures.push(`stopped after ${cycle - 1} cycles: max-seconds reached`);
        break;
      }
      try {
        // Baseline: the same receivers, steady P2P, no switch.
        const quiet = performance.now();
        await sleep(BASELINE_MS);
        baseline.push(alice.longestGap('bob', quiet), bob.longestGap('alice', quiet));

        let mark = performance.now();
        const carol = await join(`carol-${cycle}`, url);
        await alice.waitForMode('sfu', 30_000);
        await bob.waitForMode('sfu', 30_000);
        await waitOnPath(pair, 'sfu');
        toSfu.push({
          cycle,
          switch_ms: Math.round(performance.now() - mark),
          alice_sees_bob_ms: alice.longestGap('bob', mark),
          bob_sees_alice_ms: bob.longestGap('alice', mark),
        });

        mark = performance.now();
        await carol.leave();
        people.splice(people.indexOf(carol), 1);
        await alice.waitForMode('p2p', 30_000);
        await bob.waitForMode('p2p', 30_000);
        await waitOnPath(pair, 'p2p');
        toP2p.push({
          cycle,
          switch_ms: Math.round(performance.now() - mark),
          alice_sees_bob_ms: alice.longestGap('bob', mark),
          bob_sees_alice_ms: bob.longestGap('alice', mark),
        });
        const last = toP2p.at(-1);
        const first = toSfu.at(-1);
        progress(
          `cycle ${cycle}/${SWITCHES}: →sfu gaps ${first?.alice_sees_bob_ms}/${first?.bob_sees_alice_ms} ms, →p2p gaps ${last?.alice_sees_bob_ms}/${last?.bob_sees_alice_ms} ms`,
        );
      } catch (error) {
        failures.push(`cycle ${cycle}: ${error instanceof Error ? error.message : String(error)}`);
        progress(`cycle ${cycle} failed: ${String(error)}`);
        break;
      }
    }
  } finally {
    for (const p of people) p.close();
    await signaling?.close();
    await stack.close();
  }
  const gaps = (samples: SwitchSample[]) =>
    samples.flatMap((s) => [s.alice_sees_bob_ms, s.bob_sees_alice_ms]);
  const p2pToSfu = summarize(gaps(toSfu));
  const sfuToP2p = summarize(gaps(toP2p));
  const result = {
    bench: 'transition',
    machine: { cpus: os.cpus().length, node: process.version },
    config: {
      switches_each_way: SWITCHES,
      hysteresis_ms: HYSTERESIS_MS,
      frames_on_new_path: FRAMES,
      simulcast: SIMULCAST,
      receivers: 'wrtc (libwebrtc in Node), 320x180@30 VP8 synthetic video, TrellisCall SDK',
    },
    completed: { p2p_to_sfu: toSfu.length, sfu_to_p2p: toP2p.length },
    receiver_frame_gap: {
      p2p_to_sfu: p2pToSfu,
      sfu_to_p2p: sfuToP2p,
      baseline_no_switch: summarize(baseline),
    },
    switch_duration: {
      p2p_to_sfu: summarize(toSfu.map((s) => s.switch_ms)),
      sfu_to_p2p: summarize(toP2p.map((s) => s.switch_ms)),
    },
    target: {
      p95_ms: TARGET_P95_MS,
      p2p_to_sfu_met: p2pToSfu.p95_ms < TARGET_P95_MS,
      sfu_to_p2p_met: sfuToP2p.p95_ms < TARGET_P95_MS,
    },
    samples: { p2p_to_sfu: toSfu, sfu_to_p2p: toP2p },
    failures,
    duration_s: Math.round((Date.now() - started) / 1000),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return failures.length > 0 ? 1 : 0;
}

process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));
// Exit at once: wrtc's native peer connections abort the process if left to finalize at teardown.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
