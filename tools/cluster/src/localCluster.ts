import { join, resolve } from 'node:path';
import {
  type ManagedProcess,
  type PostgresServer,
  spawnProcess,
  startPostgres,
  startRedis,
} from '@trellis/testkit';
import pg from 'pg';
import type { Progress } from './progress';

export interface LocalClusterOptions {
  /** Where Redis's append-only file and PostgreSQL's data live between runs. */
  stateDir: string;
  redisPort: number;
  postgresPort: number;
  /** SFU nodes to run; node i takes RTC ports from sfuRtcPort + 100·i and metrics on sfuMetricsPort + i. */
  sfuNodes: number;
  sfuRtcPort: number;
  sfuMetricsPort: number;
  /** Signaling nodes to run; node i serves REST + Socket.IO on signalingPort + i, metrics on signalingMetricsPort + i. */
  signalingNodes?: number;
  signalingPort?: number;
  signalingMetricsPort?: number;
  /** The web app (Next.js, built first if its sources changed) on this port; 0 or absent: none. */
  webPort?: number;
  /** Run the persister (BullMQ → PostgreSQL) with its metrics on this port; absent: no persister. */
  persisterMetricsPort?: number;
  progress: Progress;
  /** Copy the services' log lines to the terminal. */
  echoLogs?: boolean;
}

/** A part of the cluster, started in order and stopped in reverse. */
interface Part {
  name: string;
  endpoint: string;
  stop(): Promise<void>;
}

export interface RunningCluster {
  readonly parts: readonly Part[];
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

const DATABASE = 'trellis';
const REPO_ROOT = resolve(import.meta.dirname, '../../..');

/**
 * Starts the local cluster: the data stores, then the services (SFU nodes, then signaling; the
 * persister and the web app join as they are built), each handed `env`. If any part fails to start, the parts already running
 * are stopped before the error propagates, so a failed start leaves nothing behind.
 */
export async function startLocalCluster(opts: LocalClusterOptions): Promise<RunningCluster> {
  const { progress } = opts;
  const parts: Part[] = [];
  const stopAll = async () => {
    for (const part of [...parts].reverse()) {
      progress.step(`stopping ${part.name}`);
      await part.stop();
      progress.done(`${part.name} stopped`);
    }
    parts.length = 0;
  };
  try {
    const redis = await timed(progress, `Redis on 127.0.0.1:${opts.redisPort}`, () =>
      startRedis({
        dedicated: true,
        appendOnly: true,
        port: opts.redisPort,
        dir: join(opts.stateDir, 'redis'),
      }),
    );
    parts.push({ name: 'redis', endpoint: redis.url, stop: () => redis.stop() });

    const postgres = await timed(progress, `PostgreSQL on 127.0.0.1:${opts.postgresPort}`, () =>
      startPostgres({ dedicated: true, port: opts.postgresPort, dir: join(opts.stateDir, 'postgres') }),
    );
    const databaseUrl = await ensureDatabase(postgres, DATABASE).catch(async (error) => {
      await postgres.stop();
      throw error;
    });
    parts.push({ name: 'postgres', endpoint: databaseUrl, stop: () => postgres.stop() });

    const env = { REDIS_URL: redis.url, DATABASE_URL: databaseUrl };
    // The offline migrator (what `prisma migrate deploy` does): applies only what is new.
    await timed(progress, 'database migrations', () => migrate(databaseUrl));
    if (opts.persisterMetricsPort !== undefined) {
      const metricsPort = opts.persisterMetricsPort;
      const persister = await timed(progress, 'persister (BullMQ → PostgreSQL)', () =>
        startService({
          name: 'persister',
          entry: 'services/persister/src/main.ts',
          ready: /"msg":"persister serving"/,
          echo: opts.echoLogs ?? false,
          env: { ...env, NODE_ID: 'persister-1', METRICS_PORT: String(metricsPort) },
        }),
      );
      parts.push({
        name: 'persister',
        endpoint: `call history into ${databaseUrl}, metrics http://127.0.0.1:${metricsPort}/metrics`,
        // SIGTERM: the jobs in flight finish first.
        stop: () => persister.stop('SIGTERM'),
      });
    }
    for (let i = 0; i < opts.sfuNodes; i++) {
      const nodeId = `sfu-${i + 1}`;
      const rtcPort = opts.sfuRtcPort + 100 * i;
      const metricsPort = opts.sfuMetricsPort + i;
      const sfu = await timed(progress, `SFU node ${nodeId} (WebRTC on 127.0.0.1:${rtcPort})`, () =>
        startService({
          name: nodeId,
          entry: 'services/sfu/src/main.ts',
          ready: /"msg":"sfu node serving"/,
          echo: opts.echoLogs ?? false,
          env: {
            ...env,
            NODE_ID: nodeId,
            SFU_WORKERS: '1',
            SFU_RTC_PORT: String(rtcPort),
            METRICS_PORT: String(metricsPort),
          },
        }),
      );
      parts.push({
        name: nodeId,
        endpoint: `webrtc udp/tcp 127.0.0.1:${rtcPort}, metrics http://127.0.0.1:${metricsPort}/metrics`,
        stop: () => sfu.stop('SIGTERM'),
      });
    }
    // The browser app's origin may open Socket.IO connections to signaling.
    const webOrigins = opts.webPort
      ? [`http://127.0.0.1:${opts.webPort}`, `http://localhost:${opts.webPort}`]
      : [];
    const signalingUrls: string[] = [];
    for (let i = 0; i < (opts.signalingNodes ?? 0); i++) {
      const nodeId = `signaling-${i + 1}`;
      const port = (opts.signalingPort ?? 3000) + i;
      const metricsPort = (opts.signalingMetricsPort ?? 9475) + i;
      const signaling = await timed(progress, `signaling node ${nodeId} (http://127.0.0.1:${port})`, () =>
        startService({
          name: nodeId,
          entry: 'services/signaling/src/main.ts',
          ready: /"msg":"signaling node serving"/,
          echo: opts.echoLogs ?? false,
          env: {
            ...env,
            NODE_ID: nodeId,
            HTTP_PORT: String(port),
            METRICS_PORT: String(metricsPort),
            ...(webOrigins.length > 0 ? { CORS_ORIGINS: webOrigins.join(',') } : {}),
          },
        }),
      );
      signalingUrls.push(`http://127.0.0.1:${port}`);
      parts.push({
        name: nodeId,
        endpoint: `REST + Socket.IO http://127.0.0.1:${port} (OpenAPI at /openapi.json, dev tokens at POST /dev/token)`,
        stop: () => signaling.stop('SIGTERM'),
      });
    }
    if (opts.webPort && signalingUrls.length > 0) {
      const web = await startWebApp(opts, signalingUrls);
      parts.push({
        name: 'web',
        endpoint: `http://127.0.0.1:${opts.webPort} (lobby; calls use signaling ${signalingUrls.join(', ')})`,
        stop: () => web.stop('SIGTERM'),
      });
    }
    return { parts, env, stop: stopAll };
  } catch (error) {
    progress.fail(error instanceof Error ? error.message : String(error));
    await stopAll();
    throw error;
  }
}

/** Builds the web app if its sources changed (a few seconds, with next's progress), then `next start`. */
async function startWebApp(opts: LocalClusterOptions, signalingUrls: string[]): Promise<ManagedProcess> {
  const { progress } = opts;
  const { buildWebApp, nextBin, webDir } = await import('../../../services/web/scripts/buildOnce');
  await timed(progress, 'web app build (next build, skipped when its sources are unchanged)', () =>
    buildWebApp((line) => {
      if (/Compil|Generating static pages \(\d+\/\d+\)$|Finalizing|error/i.test(line))
        progress.step(`  ${line.trim()}`);
    }),
  );
  return timed(progress, `web app on http://127.0.0.1:${opts.webPort}`, async () => {
    const proc = spawnProcess(nextBin, ['start', '-p', String(opts.webPort), '-H', '127.0.0.1'], {
      name: 'web',
      cwd: webDir,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        NEXT_TELEMETRY_DISABLED: '1',
        TRELLIS_SIGNALING_URLS: signalingUrls.join(','),
      },
      echo: opts.echoLogs ?? false,
    });
    try {
      await proc.waitForOutput(/Ready in|ready started server/i, 60_000);
    } catch (error) {
      await proc.stop('SIGKILL');
      throw error;
    }
    return proc;
  });
}

/** A Trellis service from this checkout, run with tsx, ready when its log says so. */
async function startService(opts: {
  name: string;
  entry: string;
  ready: RegExp;
  env: Record<string, string>;
  echo: boolean;
}): Promise<ManagedProcess> {
  const proc = spawnProcess(process.execPath, ['--import', 'tsx', join(REPO_ROOT, opts.entry)], {
    name: opts.name,
    env: { ...process.env, ...opts.env },
    echo: opts.echo,
  });
  try {
    await proc.waitForOutput(opts.ready, 60_000);
  } catch (error) {
    await proc.stop('SIGKILL');
    throw error;
  }
  return proc;
}

async function timed<T>(progress: Progress, what: string, start: () => Promise<T>): Promise<T> {
  progress.step(`starting ${what}`);
  const began = Date.now();
  const result = await start();
  progress.done(`${what} ready in ${Date.now() - began} ms`);
  return result;
}

/** Runs packages/db's migrator in a child process; fails with its output if a migration fails. */
async function migrate(databaseUrl: string): Promise<void> {
  const proc = spawnProcess(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'packages/db/src/migrate.ts'), 'deploy'],
    { name: 'migrate', env: { ...process.env, DATABASE_URL: databaseUrl } },
  );
  const { code } = await proc.exited;
  if (code !== 0) throw new Error(`database migrations failed (exit ${code}):\n${proc.output.slice(-2000)}`);
}

/** Creates the application database on the first run only: its data is kept between runs. */
async function ensureDatabase(server: PostgresServer, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return url.toString();
}
