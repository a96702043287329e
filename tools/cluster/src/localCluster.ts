import { join } from 'node:path';
import { type PostgresServer, startPostgres, startRedis } from '@trellis/testkit';
import pg from 'pg';
import type { Progress } from './progress';

export interface LocalClusterOptions {
  /** Where Redis's append-only file and PostgreSQL's data live between runs. */
  stateDir: string;
  redisPort: number;
  postgresPort: number;
  progress: Progress;
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

/**
 * Starts the local cluster. Later issues add the services (signaling, SFU nodes, persister, web)
 * after the data stores, each handed `env`. If any part fails to start, the parts already running
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
    return { parts, env, stop: stopAll };
  } catch (error) {
    progress.fail(error instanceof Error ? error.message : String(error));
    await stopAll();
    throw error;
  }
}

async function timed<T>(progress: Progress, what: string, start: () => Promise<T>): Promise<T> {
  progress.step(`starting ${what}`);
  const began = Date.now();
  const result = await start();
  progress.done(`${what} ready in ${Date.now() - began} ms`);
  return result;
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
