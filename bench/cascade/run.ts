// bench/cascade: one call across several sfu processes on this machine, joined by SRTP PipeTransports.
// (1) The latency one pipe hop adds, against same-node forwarding in the same window; (2) a call of up
// to 50 participants over 3 nodes (VP8 + Opus replayed from a pre-encoded clip; all audio and 9 videos
// each), grown step by step until loss at the probes reaches 1 %. One JSON document on stdout,
// progress on stderr; everything on 127.0.0.1, bounded in count and time.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { startRedis } from '@trellis/testkit';
import { connectBenchBus, ensureMediasoupWorkerBin } from '../common';
import { loadMedia, mediaSummary } from '../sfu-forwarding/media';
import { progress, round } from '../sfu-forwarding/util';
import { Cluster } from './cluster';
import { runHop } from './hop';
import { runCallRamp } from './ramp';
import { buildReport, METHOD } from './report';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    /**
     * Call sizes tried in order; stops at the first that loses ≥ the limit (then one step between).
     * Past the target (50), the steps look for the headroom and what runs out first.
     */
    sizes: { type: 'string', default: '10,20,30,40,50,60,70' },
    target: { type: 'string', default: '50' },
    videos: { type: 'string', default: '9' },
    'probes-per-node': { type: 'string', default: '1' },
    'hop-participants-per-node': { type: 'string', default: '2' },
    'warmup-seconds': { type: 'string', default: '2.5' },
    'window-seconds': { type: 'string', default: '8' },
    'hop-window-seconds': { type: 'string', default: '10' },
    'loss-limit-pct': { type: 'string', default: '1' },
    /** No ramp step starts after this many seconds from the start. */
    'max-seconds': { type: 'string', default: '240' },
    /** by-node (default) or concurrent: see call.ts and repro-pipe-race.ts. */
    setup: { type: 'string', default: 'by-node' },
    /** Where non-probe subscribers' media goes: unbound (default) or unread; see sink.ts. */
    sink: { type: 'string', default: 'unbound' },
    /** After the ramp, rebuild the target and first failed sizes with the other sink ('false': skip). */
    'sink-check': { type: 'string', default: 'true' },
    /** Which parts to run: hop, call. */
    parts: { type: 'string', default: 'hop,call' },
  },
});
const clamp = (v: string, lo: number, hi: number) => Math.min(hi, Math.max(lo, Number(v) || lo));
const NODES = clamp(values.nodes, 2, 4);
const SIZES = values.sizes
  .split(',')
  .slice(0, 10)
  .map((s) => clamp(s, 2, 80));
const TARGET = clamp(values.target, 2, 80);
const SETUP = values.setup === 'concurrent' ? 'concurrent' : 'by-node';
const SINK = values.sink === 'unread' ? 'unread' : 'unbound';
const TIMING = {
  warmupMs: clamp(values['warmup-seconds'], 2.1, 10) * 1000,
  windowMs: clamp(values['window-seconds'], 2, 30) * 1000,
  graceMs: 300,
  setup: SETUP,
  sink: SINK,
} as const;
const HOP = {
  participantsPerNode: clamp(values['hop-participants-per-node'], 1, 4),
  ...TIMING,
  windowMs: clamp(values['hop-window-seconds'], 2, 30) * 1000,
};
const PARTS = new Set(values.parts.split(','));

const startedAt = performance.now();
ensureMediasoupWorkerBin();
const { version: mediasoupVersion } = await import('mediasoup');

const media = await loadMedia();

progress(`starting a dedicated redis-server and ${NODES} one-worker sfu processes`);
const redis = await startRedis({ dedicated: true });
const bus = await connectBenchBus(redis.url, 'bench-cascade-client');
let cluster: Cluster | undefined;
try {
  cluster = await Cluster.start(bus, redis.url, NODES);
  progress(`nodes up after ${round((performance.now() - startedAt) / 1000, 1)} s`);

  let hop: Awaited<ReturnType<typeof runHop>> | undefined;
  if (PARTS.has('hop')) {
    progress(
      `pipe hop: ${HOP.participantsPerNode * NODES} participants, all probes, ${HOP.windowMs / 1000} s window`,
    );
    hop = await runHop(cluster, media, HOP);
    progress(
      `pipe hop: p50 same ${hop.same_node.p50_ms} / cross ${hop.cross_node.p50_ms} ms, ` +
        `p95 same ${hop.same_node.p95_ms} / cross ${hop.cross_node.p95_ms} ms (added ${hop.hop_added_ms.p95} ms)`,
    );
  }

  let call: Awaited<ReturnType<typeof runCallRamp>> | undefined;
  if (PARTS.has('call')) {
    call = await runCallRamp(cluster, media, {
      sizes: SIZES,
      videosPerSubscriber: clamp(values.videos, 1, 20),
      probesPerNode: clamp(values['probes-per-node'], 1, 4),
      ...TIMING,
      lossLimitPct: Number(values['loss-limit-pct']),
      deadline: startedAt + clamp(values['max-seconds'], 30, 600) * 1000,
      ...(values['sink-check'] === 'false'
        ? {}
        : {
            sinkCheck: {
              sink: SINK === 'unbound' ? 'unread' : 'unbound',
              target: TARGET,
              deadline: startedAt + (clamp(values['max-seconds'], 30, 600) + 30) * 1000,
            },
          }),
    });
  }

  const result = {
    bench: 'cascade',
    machine: {
      cpus: os.availableParallelism(),
      cpu: os.cpus()[0]?.model,
      node: process.version,
      mediasoup: mediasoupVersion,
      loadavg_at_end: os.loadavg().map((l) => round(l, 2)),
    },
    cluster: {
      sfu_processes: NODES,
      workers_per_process: 1,
      nodes: cluster.nodes.map((n) => n.nodeId),
      still_running_at_end: cluster.running(),
    },
    media: mediaSummary(media),
    method: {
      ...METHOD,
      timing_s: {
        warmup: TIMING.warmupMs / 1000,
        window: TIMING.windowMs / 1000,
        hop_window: HOP.windowMs / 1000,
        grace: TIMING.graceMs / 1000,
      },
      videos_per_subscriber: clamp(values.videos, 1, 20),
      probes_per_node: clamp(values['probes-per-node'], 1, 4),
      setup: SETUP,
      sink: SINK,
    },
    pipe_hop: hop,
    call,
    report: buildReport(hop, call, TARGET, SINK),
    duration_s: round((performance.now() - startedAt) / 1000, 1),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await cluster?.stop();
  await bus.close();
  await redis.stop();
}
process.exit(0);
