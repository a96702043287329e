// Set-up every benchmark repeats: the worker binary, and a bus client of its own.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisBus } from '@trellis/bus';
import { createLogger, createMetricsRegistry } from '@trellis/telemetry';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * mediasoup reads MEDIASOUP_WORKER_BIN when it is loaded (in this process and in spawned sfu
 * processes): call this before importing it. Instant once the worker is built and cached.
 */
export function ensureMediasoupWorkerBin(): void {
  process.env.MEDIASOUP_WORKER_BIN ??= execFileSync(join(ROOT, 'scripts/mediasoup-worker.sh'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** A quiet bus client for a benchmark, with a generous request timeout for set-up under load. */
export function connectBenchBus(url: string, nodeId: string, keyPrefix = 'trellis:'): Promise<RedisBus> {
  return RedisBus.connect({
    nodeId,
    redis: { mode: 'single', url, keyPrefix },
    logger: createLogger({ service: 'bench', nodeId, level: 'warn' }),
    metrics: createMetricsRegistry({ service: 'bench', nodeId }),
    requestTimeoutMs: 30_000,
  });
}
