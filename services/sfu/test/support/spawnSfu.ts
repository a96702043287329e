import { fileURLToPath } from 'node:url';
import { type ManagedProcess, spawnProcess } from '@trellis/testkit';
import getPort from 'get-port';

const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface SpawnedSfu {
  readonly nodeId: string;
  readonly process: ManagedProcess;
  /** First RTC port; worker i listens on rtcPort + i (UDP and TCP). */
  readonly rtcPort: number;
  readonly metricsPort: number;
}

/** A real sfu process (`src/main.ts` under tsx), ready once it logs that it is serving. */
export async function spawnSfu(opts: {
  redisUrl: string;
  nodeId: string;
  workers?: number;
  env?: Record<string, string>;
}): Promise<SpawnedSfu> {
  const workers = opts.workers ?? 1;
  const rtcPort = await freeRange(workers);
  const metricsPort = await getPort({ host: '127.0.0.1' });
  const proc = spawnProcess(process.execPath, ['--import', 'tsx', main], {
    name: `sfu:${opts.nodeId}`,
    echo: process.env.SFU_TEST_ECHO === '1',
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.SFU_TEST_LOG_LEVEL ?? 'info',
      NODE_ID: opts.nodeId,
      REDIS_URL: opts.redisUrl,
      SFU_WORKERS: String(workers),
      SFU_RTC_PORT: String(rtcPort),
      SFU_RTC_LISTEN_IP: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      SFU_HEARTBEAT_INTERVAL_MS: '500',
      SFU_HEARTBEAT_TTL_MS: '1500',
      ...opts.env,
    },
  });
  await proc.waitForOutput(/"msg":"sfu node serving"/, 30_000);
  return { nodeId: opts.nodeId, process: proc, rtcPort, metricsPort };
}

/** `count` consecutive free ports (each worker's WebRtcServer takes one for UDP and TCP). */
async function freeRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below the ephemeral range (32768+), where outgoing connections could already hold a port.
    const start = 10_000 + Math.floor(Math.random() * 20_000);
    const ports = Array.from({ length: count }, (_, i) => start + i);
    if (await allFree(ports)) return start;
  }
  throw new Error(`no range of ${count} free ports found`);
}

// get-port reserves what it returns for a while, so each port is asked about exactly once.
async function allFree(ports: number[]): Promise<boolean> {
  for (const port of ports) if ((await getPort({ host: '127.0.0.1', port })) !== port) return false;
  return true;
}
