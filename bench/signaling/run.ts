// bench/signaling: the gateway as clients see it, against one real signaling process (its main.ts,
// rate limits off) over a dedicated Redis and one sfu process, all on 127.0.0.1.
// (1) Joins: many clients each open a websocket and join, `concurrency` in flight, in calls of 2
//     (P2P: no SFU work) and of 5 (the 3rd join starts the move to the SFU); join ack latency.
// (2) Join-to-first-frame in a call already on the SFU (see firstFrame.ts).
// (3) Baseline, same run: a bare Socket.IO server in its own process answering the same
//     connect + one request/ack with no work.
// One JSON document on stdout, progress on stderr; every loop bounded in count and time.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { ensureMediasoupWorkerBin } from '../common';
import { progress, round, sleep } from '../sfu-forwarding/util';
import { type Client, ConnectAckPhase, type PhaseResult, type RoundResult } from './connectAck';
import { runFirstFrame } from './firstFrame';
import {
  digestLog,
  leftoverCalls,
  redisInfo,
  spawnBareServer,
  spawnSignaling,
  startRedis,
  startSfu,
  tokenFor,
  transitionsFromLog,
} from './servers';
import { ratio } from './stats';

const { values } = parseArgs({
  options: {
    /** Clients per measured join phase (each connects, joins and stays until the phase ends). */
    joins: { type: 'string', default: '400' },
    /** Connections (connect + join) in flight. */
    concurrency: { type: 'string', default: '32' },
    /** Rounds of each measured phase, interleaved (throughput: their median; latencies: pooled). */
    rounds: { type: 'string', default: '5' },
    /** Joins (and bare connections) at concurrency 1: the unloaded latency. */
    sequential: { type: 'string', default: '50' },
    /** Clients per phase of an unmeasured first round (JIT of both servers and of this process). */
    warmup: { type: 'string', default: '200' },
    /** Join-to-first-frame trials, one joiner at a time. */
    trials: { type: 'string', default: '20' },
    /** Uncounted joiners first (JIT warm-up of both sides). */
    'trial-warmup': { type: 'string', default: '3' },
    /**
     * Between one joiner leaving and the next connecting. At 0 the joiners' keyframe requests come
     * ~100 ms apart and each first frame waits ~1 s more (see first_frame's note).
     */
    'trial-pause-ms': { type: 'string', default: '500' },
    'trial-timeout-seconds': { type: 'string', default: '10' },
    /** Bound of each measured phase (no new client starts after it). */
    'phase-max-seconds': { type: 'string', default: '60' },
    'trials-max-seconds': { type: 'string', default: '60' },
    /** Which parts to run: baseline, joins, first-frame. */
    parts: { type: 'string', default: 'baseline,joins,first-frame' },
  },
});
const clamp = (v: string, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.floor(Number(v)) || lo));
const JOINS = clamp(values.joins, 10, 5000);
const CONCURRENCY = clamp(values.concurrency, 1, 512);
const ROUNDS = clamp(values.rounds, 1, 20);
const SEQUENTIAL = clamp(values.sequential, 0, 1000);
const WARMUP = clamp(values.warmup, 0, 1000);
const TRIALS = clamp(values.trials, 1, 200);
const TRIAL_TIMEOUT_MS = clamp(values['trial-timeout-seconds'], 1, 60) * 1000;
const PHASE_MAX_MS = clamp(values['phase-max-seconds'], 5, 600) * 1000;
const TRIALS_MAX_MS = clamp(values['trials-max-seconds'], 5, 600) * 1000;
const PARTS = new Set(values.parts.split(','));
const RUN = Date.now().toString(36);

// However the run ends, children go with it (testkit kills them on 'exit').
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const startedAt = performance.now();
const loadAtStart = os.loadavg().map((l) => round(l, 2));
ensureMediasoupWorkerBin();

progress('starting a dedicated redis-server, one sfu process, the signaling process and the bare server');
const redis = await startRedis({ dedicated: true });
const redisMeta = await redisInfo(redis);
const [sfu, signaling, bare] = await Promise.all([
  startSfu(redis.url),
  spawnSignaling(redis.url),
  spawnBareServer(),
]);
progress(`up after ${round((performance.now() - startedAt) / 1000, 1)} s: signaling ${signaling.url}`);

const signalingPids = { server: signaling.process.pid, redis: redisMeta.pid };
const barePids = { server: bare.process.pid };

/** Clients of `count` joins in calls of `size` (client i is in call ⌊i/size⌋, so a call's members join together). */
async function joinClients(tag: string, count: number, size: number): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 0; i < count; i++) {
    const roomId = `${tag}-${RUN}-${Math.floor(i / size)}`;
    clients.push({
      auth: { token: await tokenFor(signaling, roomId, `p${i % size}`) },
      request: 'join',
      payload: { roomId },
    });
  }
  return clients;
}
const bareClients = (count: number): Client[] =>
  Array.from({ length: count }, (_, i) => ({
    auth: {},
    request: 'join',
    payload: { roomId: `bare-${RUN}-${Math.floor(i / 2)}` },
  }));
const leave = {
  request: 'leave',
  payload: (c: Client) => ({ roomId: (c.payload as { roomId: string }).roomId }),
};
const joinLabel = (reply: unknown) => (reply as { room?: { mode?: string } }).room?.mode ?? 'none';

async function joinRound(
  phase: ConnectAckPhase,
  tag: string,
  count: number,
  size: number,
  concurrency = CONCURRENCY,
) {
  const clients = await joinClients(tag, count - (count % size), size);
  return phase.round({
    url: signaling.url,
    clients,
    concurrency,
    maxMs: PHASE_MAX_MS,
    leave,
    label: joinLabel,
    pids: signalingPids,
  });
}
function bareRound(phase: ConnectAckPhase, count: number, concurrency = CONCURRENCY) {
  return phase.round({
    url: bare.url,
    clients: bareClients(count),
    concurrency,
    maxMs: PHASE_MAX_MS,
    pids: barePids,
  });
}
const brief = (r: RoundResult) =>
  `${r.completed} in ${r.seconds} s = ${r.per_second}/s, ack p50 ${r.ack_p50_ms} ms, machine ${r.machine_busy_pct} % busy`;
const briefPhase = (r: PhaseResult) =>
  `${r.per_second}/s (median of ${r.rounds}), ack p50 ${r.ack.p50_ms} / p95 ${r.ack.p95_ms} / p99 ` +
  `${r.ack.p99_ms} ms, connect p50 ${r.connect.p50_ms} ms` +
  (r.failures.total ? `, ${r.failures.total} FAILED` : '');

try {
  const bareOn = PARTS.has('baseline');
  const joinsOn = PARTS.has('joins');
  const phases = {
    bare: new ConnectAckPhase(),
    rooms_of_2: new ConnectAckPhase(),
    rooms_of_5: new ConnectAckPhase(),
    bare_sequential: new ConnectAckPhase(),
    join_sequential: new ConnectAckPhase(),
  };
  if (bareOn || joinsOn) {
    progress(`warm-up: an unmeasured round of ${WARMUP} clients per phase; then ${SEQUENTIAL} one at a time`);
    if (WARMUP && bareOn) await bareRound(new ConnectAckPhase(), WARMUP);
    if (WARMUP && joinsOn) await joinRound(new ConnectAckPhase(), 'warm2', WARMUP, 2);
    if (WARMUP && joinsOn) await joinRound(new ConnectAckPhase(), 'warm5', WARMUP, 5);
    if (SEQUENTIAL && bareOn) await bareRound(phases.bare_sequential, SEQUENTIAL, 1);
    if (SEQUENTIAL && joinsOn) await joinRound(phases.join_sequential, 'seq', SEQUENTIAL, 2, 1);
    // Rounds interleave the phases, in a rotating order, so background load hits them alike.
    const steps: Array<[string, (r: number) => Promise<RoundResult>]> = [];
    if (bareOn) steps.push(['bare socket.io', () => bareRound(phases.bare, JOINS)]);
    if (joinsOn) {
      steps.push(['joins, calls of 2', (r) => joinRound(phases.rooms_of_2, `r2-${r}`, JOINS, 2)]);
      steps.push(['joins, calls of 5', (r) => joinRound(phases.rooms_of_5, `r5-${r}`, JOINS, 5)]);
    }
    for (let r = 0; r < ROUNDS; r++) {
      progress(`round ${r + 1}/${ROUNDS}: ${JOINS} clients per phase, ${CONCURRENCY} in flight`);
      for (let k = 0; k < steps.length; k++) {
        const [name, run] = steps[(r + k) % steps.length]!;
        progress(`  ${name}: ${brief(await run(r))}`);
      }
    }
  }
  const baseline = bareOn
    ? {
        concurrent: phases.bare.result(),
        ...(SEQUENTIAL ? { sequential: phases.bare_sequential.result() } : {}),
      }
    : undefined;
  const joinResults = joinsOn
    ? {
        rooms_of_2: phases.rooms_of_2.result(),
        rooms_of_5: phases.rooms_of_5.result(),
        ...(SEQUENTIAL ? { sequential_rooms_of_2: phases.join_sequential.result() } : {}),
      }
    : undefined;
  if (baseline) progress(`baseline: ${briefPhase(baseline.concurrent)}`);
  if (joinResults) {
    progress(`joins, calls of 2: ${briefPhase(joinResults.rooms_of_2)}`);
    progress(`joins, calls of 5: ${briefPhase(joinResults.rooms_of_5)}`);
  }

  let firstFrame: Awaited<ReturnType<typeof runFirstFrame>> | { error: string } | undefined;
  if (PARTS.has('first-frame')) {
    const roomId = `ff-${RUN}`;
    try {
      const ff = await runFirstFrame({
        url: signaling.url,
        roomId,
        token: (identity) => tokenFor(signaling, roomId, identity),
        trials: TRIALS,
        maxMs: TRIALS_MAX_MS,
        trialTimeoutMs: TRIAL_TIMEOUT_MS,
        warmup: clamp(values['trial-warmup'], 0, 20),
        settleMs: 1000,
        pauseMs: clamp(values['trial-pause-ms'], 0, 10_000),
        progress,
      });
      progress(
        `first frame: ${ff.completed}/${ff.trials}, p50 ${ff.first_frame.p50_ms} / p95 ` +
          `${ff.first_frame.p95_ms} ms (target ${ff.target_p95_ms}: ${ff.pass ? 'pass' : 'FAIL'})`,
      );
      firstFrame = ff;
    } catch (error) {
      // The call could not be set up: the rest of the report still stands.
      const message = error instanceof Error ? error.message : String(error);
      progress(`first frame: FAILED to set up the call: ${message}`);
      firstFrame = { error: message };
    }
  }

  // Every participant left: the calls should be gone from Redis (a leak here is a server bug).
  await sleep(1000);
  const leftover = await leftoverCalls(redis);
  if (leftover.calls || leftover.due) {
    progress(`calls left in Redis after every participant left: ${JSON.stringify(leftover.by_state)}`);
  }

  const two = joinResults?.rooms_of_2;
  const five = joinResults?.rooms_of_5;
  const base = baseline?.concurrent;
  const result = {
    bench: 'signaling',
    machine: {
      cpus: os.availableParallelism(),
      cpu: os.cpus()[0]?.model,
      node: process.version,
      redis: redisMeta.version,
      loadavg_at_start: loadAtStart,
      loadavg_at_end: os.loadavg().map((l) => round(l, 2)),
    },
    setup: {
      signaling: { processes: 1, env: signaling.env, socket_io: 'websocket only, @socket.io/redis-adapter' },
      sfu: { processes: 1, workers: 1, node_id: sfu.nodeId },
      baseline_server: 'socket.io, own process, websocket only, no auth, no adapter, ack answered at once',
      clients: 'socket.io-client in this process, one connection per participant (forceNew)',
    },
    params: {
      joins_per_round: JOINS,
      rounds: ROUNDS,
      concurrency: CONCURRENCY,
      sequential: SEQUENTIAL,
      warmup: WARMUP,
      trials: TRIALS,
      parts: [...PARTS],
    },
    method: {
      per_second:
        'connect + join (or connect + one ack for the baseline) completions per second, wall clock, per round; ' +
        'the median of the rounds. Rounds of the phases are interleaved in a rotating order',
      connect:
        'io() to the connect event: websocket upgrade + Socket.IO handshake (signaling verifies the JWT)',
      ack: 'emit to ack of the one request on the open connection',
      cpu_pct_of_core:
        'per round: scheduler run time from /proc/<pid>/task/*/schedstat over the round; bench_client is ' +
        'this process; machine_busy_pct is all cores (other work on the machine included)',
      calls: 'client i joins call ⌊i/size⌋: the members of a call join at about the same time',
    },
    joins: joinResults ?? null,
    join_to_first_frame: firstFrame ?? null,
    baseline_bare_socket_io: baseline ?? null,
    relative:
      two && base
        ? {
            join_vs_bare_ack_p50_ratio: ratio(two.ack.p50_ms, base.ack.p50_ms),
            join_vs_bare_ack_p95_ratio: ratio(two.ack.p95_ms, base.ack.p95_ms),
            join_vs_bare_ack_p99_ratio: ratio(two.ack.p99_ms, base.ack.p99_ms),
            join_vs_bare_connect_p50_ratio: ratio(two.connect.p50_ms, base.connect.p50_ms),
            joins_per_second_vs_bare_fraction: ratio(two.per_second, base.per_second, 3),
            rooms_of_5_vs_2_ack_p50_ratio: five ? ratio(five.ack.p50_ms, two.ack.p50_ms) : null,
            rooms_of_5_vs_2_per_second_fraction: five ? ratio(five.per_second, two.per_second, 3) : null,
            ...(joinResults?.sequential_rooms_of_2 && baseline?.sequential
              ? {
                  sequential_join_vs_bare_ack_p50_ratio: ratio(
                    joinResults.sequential_rooms_of_2.ack.p50_ms,
                    baseline.sequential.ack.p50_ms,
                  ),
                }
              : {}),
          }
        : null,
    server_logs: {
      signaling: {
        ...digestLog(signaling.process.output),
        transitions: transitionsFromLog(signaling.process.output),
      },
      sfu: digestLog(sfu.process.output),
      bare: digestLog(bare.process.output),
    },
    calls_left_in_redis_at_end: leftover,
    duration_s: round((performance.now() - startedAt) / 1000, 1),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await Promise.allSettled([
    signaling.process.stop('SIGTERM'),
    sfu.process.stop('SIGINT'),
    bare.process.stop('SIGTERM'),
  ]);
  await redis.stop();
}
// wrtc may crash in Node's teardown once a media source existed: exit explicitly (see testkit wrtc.ts).
process.exit(0);
