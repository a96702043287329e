// bench/sfu-forwarding: real VP8 + Opus RTP from N publishers to M subscribers through (a) bare
// mediasoup in this process and (b) a Trellis sfu process commanded over the bus, side by side in the
// same run from the same load generator. Then 10 concurrent 5-person calls on one node, and a
// subscriber ramp on one worker until loss passes 1 %. One JSON document on stdout; progress on stderr.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { startRedis } from '@trellis/testkit';
import { type SpawnedSfu, spawnSfu } from '../../services/sfu/test/support/spawnSfu';
import { connectBenchBus, ensureMediasoupWorkerBin } from '../common';
import { BareDriver, TrellisDriver } from './drivers';
import { loadMedia, mediaSummary } from './media';
import { runRamp } from './ramp';
import { buildReport, type ConfigurationResult, compareSides, METHOD } from './report';
import { runConfiguration, type Timing, type Topology } from './scenario';
import { progress, round } from './util';

/**
 * The previous mediasoup release's Node half, driving `workerBin`: mediasoup reads
 * MEDIASOUP_WORKER_BIN once, when it is imported, so it is set around this import only (the sfu
 * processes spawned later inherit the current worker's path).
 */
async function loadPreviousMediasoup(workerBin: string): Promise<typeof import('mediasoup')> {
  const current = process.env.MEDIASOUP_WORKER_BIN;
  process.env.MEDIASOUP_WORKER_BIN = workerBin;
  try {
    // Same API for what the bare driver calls (routers, plain transports, produce, consume).
    return (await import('mediasoup-previous')) as unknown as typeof import('mediasoup');
  } finally {
    process.env.MEDIASOUP_WORKER_BIN = current;
  }
}

const { values } = parseArgs({
  options: {
    configs: { type: 'string', default: '2x4,5x5,10x10' },
    'warmup-seconds': { type: 'string', default: '2.5' },
    'window-seconds': { type: 'string', default: '8' },
    calls: { type: 'string', default: '10' },
    'call-size': { type: 'string', default: '5' },
    'ramp-publishers': { type: 'string', default: '5' },
    'ramp-probes': { type: 'string', default: '4' },
    'ramp-cap': { type: 'string', default: '2500' },
    'ramp-seconds': { type: 'string', default: '120' },
    /** Which parts to run: configs, calls, ramp. */
    parts: { type: 'string', default: 'configs,calls,ramp' },
    /**
     * Side a on the previous mediasoup (the bench's `mediasoup-previous` dependency) with this
     * worker binary, beside Trellis on the current one: old and new worker in the same windows.
     */
    'bare-previous-worker': { type: 'string' },
  },
});
const CONFIGS: Topology[] = values.configs.split(',').map((c) => {
  const [publishers, subscribers] = c.split('x').map(Number);
  if (!publishers || !subscribers || publishers > 20 || subscribers > 50) throw new Error(`bad config ${c}`);
  return { calls: 1, publishers, subscribers };
});
const TIMING: Timing = {
  warmupMs: Number(values['warmup-seconds']) * 1000,
  windowMs: Math.min(60, Number(values['window-seconds'])) * 1000,
  graceMs: 300,
};
const CALLS = Math.min(20, Number(values.calls));
const CALL_SIZE = Math.min(10, Number(values['call-size']));
const RAMP = {
  publishers: Math.min(10, Number(values['ramp-publishers'])),
  probes: Math.min(10, Number(values['ramp-probes'])),
  cap: Math.min(5000, Number(values['ramp-cap'])),
  maxMs: Math.min(300, Number(values['ramp-seconds'])) * 1000,
  warmupMs: 2200,
  windowMs: 3000,
  graceMs: 300,
  lossLimitPct: 1,
};
const PARTS = new Set(values.parts.split(','));

const startedAt = performance.now();
ensureMediasoupWorkerBin();
const mediasoup = await import('mediasoup');

const media = await loadMedia();
const streams = { video: media.video, audio: media.audio };

progress('starting a dedicated redis-server, a bare mediasoup worker and a 1-worker Trellis sfu');
const redis = await startRedis({ dedicated: true });
const bus = await connectBenchBus(redis.url, 'bench-sfu-client');
const sfus: SpawnedSfu[] = [];
const spawn = async (nodeId: string, workers: number) => {
  const sfu = await spawnSfu({
    redisUrl: redis.url,
    nodeId,
    workers,
    // The ramp goes past the default placement cap (500 consumers a worker) on purpose.
    env: { SFU_MAX_CONSUMERS_PER_WORKER: '100000', SFU_DRAIN_TIMEOUT_MS: '0' },
  });
  sfus.push(sfu);
  return { sfu, driver: new TrellisDriver(bus, nodeId, sfu.process.pid!, streams) };
};
const bareMediasoup = values['bare-previous-worker']
  ? await loadPreviousMediasoup(values['bare-previous-worker'])
  : mediasoup;
const bareWorker = await bareMediasoup.createWorker({ logLevel: 'warn' });
const bare = new BareDriver(bareWorker, streams);
const { driver: trellis } = await spawn('bench-sfu-1w', 1);

try {
  const configurations: ConfigurationResult[] = [];
  if (PARTS.has('configs')) {
    for (const topology of CONFIGS) {
      const name = `${topology.publishers}x${topology.subscribers}`;
      progress(
        `${name}: bare mediasoup and Trellis side by side, ${topology.publishers * 2 * topology.subscribers} consumers each`,
      );
      const [a, b] = await runConfiguration([bare, trellis], media, topology, TIMING, name);
      for (const [side, r] of [['bare', a!] as const, ['trellis', b!] as const]) {
        progress(
          `${name}: ${side}: ${r.packets_per_second} packets/s, ${r.worker_cpu.us_per_forwarded_packet_schedstat} µs ` +
            `worker CPU a packet, loss ${r.loss_pct} %, latency p50 ${r.latency.p50_ms} ms p95 ${r.latency.p95_ms} ms`,
        );
      }
      configurations.push(compareSides(name, topology, a!, b!));
    }
  }
  bareWorker.close();

  let concurrentCalls: Record<string, unknown> | undefined;
  if (PARTS.has('calls')) {
    const workers = os.availableParallelism();
    progress(
      `concurrent calls: ${CALLS} calls of ${CALL_SIZE} publishers + ${CALL_SIZE} subscribers, ${workers}-worker node`,
    );
    const { sfu, driver } = await spawn('bench-sfu-calls', workers);
    const topology = { calls: CALLS, publishers: CALL_SIZE, subscribers: CALL_SIZE };
    const timing = { ...TIMING, windowMs: Math.max(TIMING.windowMs, 10_000) };
    const [result] = await runConfiguration([driver], media, topology, timing, 'calls');
    progress(
      `concurrent calls: loss ${result!.loss_pct} %, workers ${result!.worker_cpu.pct_of_core} % of a core`,
    );
    concurrentCalls = {
      calls: CALLS,
      publishers_per_call: CALL_SIZE,
      subscribers_per_call: CALL_SIZE,
      node_workers: workers,
      workers_at_end: (await bus.registry.get('bench-sfu-calls'))?.workers,
      ...result!,
    };
    await sfu.process.stop('SIGTERM', 5_000);
  }

  let ramp: Awaited<ReturnType<typeof runRamp>> | undefined;
  if (PARTS.has('ramp')) {
    progress(`ramp: subscribers join one call of ${RAMP.publishers} publishers on the 1-worker node`);
    ramp = await runRamp(trellis, media, RAMP);
  }

  const result = {
    bench: 'sfu-forwarding',
    machine: {
      cpus: os.availableParallelism(),
      cpu: os.cpus()[0]?.model,
      node: process.version,
      mediasoup: mediasoup.version,
      bare_side_mediasoup: bareMediasoup.version,
      loadavg_at_end: os.loadavg().map((l) => round(l, 2)),
    },
    media: mediaSummary(media),
    method: {
      ...METHOD,
      timing_s: {
        warmup: TIMING.warmupMs / 1000,
        window: TIMING.windowMs / 1000,
        grace: TIMING.graceMs / 1000,
      },
    },
    configurations,
    concurrent_calls: concurrentCalls,
    ramp,
    report: buildReport(configurations, concurrentCalls, ramp),
    duration_s: round((performance.now() - startedAt) / 1000, 1),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  for (const sfu of sfus) await sfu.process.stop('SIGTERM', 5_000).catch(() => {});
  bareWorker.close();
  await bus.close();
  await redis.stop();
}
process.exit(0);
