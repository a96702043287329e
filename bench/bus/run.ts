// bench/bus: request/reply over the Trellis bus vs. a bare ioredis stream ping-pong, same Redis,
// same run. Prints JSON on stdout; progress on stderr.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { defineCommand } from '@trellis/protocol';
import { startRedis } from '@trellis/testkit';
import { z } from 'zod';
import { connectBenchBus } from '../common';
import { round } from '../sfu-forwarding/util';
import { startBaseline } from './baseline';
import { sequential, summarize, throughput } from './stats';

const { values } = parseArgs({
  options: {
    sequential: { type: 'string', default: '2000' },
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '64' },
    'max-seconds': { type: 'string', default: '20' },
  },
});
const SEQUENTIAL = Number(values.sequential);
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const MAX_MS = Number(values['max-seconds']) * 1000;

const Echo = defineCommand({
  type: 'bench.echo',
  request: z.object({ body: z.string() }),
  reply: z.object({ body: z.string() }),
});
// A payload the size of a typical signaling command (a transport's DTLS parameters, say).
const BODY = 'x'.repeat(512);
const progress = (message: string) => process.stderr.write(`==> ${message}\n`);

progress('starting a dedicated redis-server');
const redis = await startRedis({ dedicated: true });
const info = await fetchRedisVersion(redis.url);

progress(`baseline: ${SEQUENTIAL} sequential round trips, then ${REQUESTS} with ${CONCURRENCY} in flight`);
const baseline = await startBaseline(redis.url);
await sequential(200, MAX_MS, () => baseline.request(BODY)); // warm-up
const baseSeq = summarize(await sequential(SEQUENTIAL, MAX_MS, () => baseline.request(BODY)));
const baseTput = await throughput(REQUESTS, CONCURRENCY, MAX_MS, () => baseline.request(BODY));
await baseline.close();

progress('trellis bus: the same, through RedisBus (envelopes, zod on both ends, dedup, metrics)');
const connect = (nodeId: string) => connectBenchBus(redis.url, nodeId, 'bench:');
const serverBus = await connect('bench-server');
const clientBus = await connect('bench-client');
const server = serverBus.serveCommands('bench-target', { concurrency: 256 });
server.handle(Echo, ({ body }) => ({ body }));
await server.start();
const call = () => clientBus.commands.request('bench-target', Echo, { body: BODY });
await sequential(200, MAX_MS, call); // warm-up
const busSeq = summarize(await sequential(SEQUENTIAL, MAX_MS, call));
const busTput = await throughput(REQUESTS, CONCURRENCY, MAX_MS, call);
await clientBus.close();
await serverBus.close();
await redis.stop();

const result = {
  bench: 'bus',
  machine: { cpus: os.availableParallelism(), cpu: os.cpus()[0]?.model, node: process.version, redis: info },
  params: {
    sequential: SEQUENTIAL,
    requests: REQUESTS,
    concurrency: CONCURRENCY,
    payload_bytes: BODY.length,
  },
  baseline_ioredis_streams: { round_trip: baseSeq, throughput: baseTput },
  trellis_bus: { round_trip: busSeq, throughput: busTput },
  relative: {
    p50_round_trip_x: round(busSeq.p50_ms / baseSeq.p50_ms, 2),
    p99_round_trip_x: round(busSeq.p99_ms / baseSeq.p99_ms, 2),
    throughput_fraction: round(busTput.per_second / baseTput.per_second, 2),
  },
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
process.exit(0);

async function fetchRedisVersion(url: string): Promise<string> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url);
  const text = await client.info('server');
  client.disconnect();
  return /redis_version:(\S+)/.exec(text)?.[1] ?? 'unknown';
}
