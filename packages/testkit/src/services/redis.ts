import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import type { ManagedProcess } from '../process';
import { dockerEngineAvailable } from './containers';
import { findBinary } from './findBinary';
import { REDIS_HOST, spawnRedis } from './redisProcess';

export interface RedisServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Where the server came from: REDIS_URL, a container, or a local redis-server. */
  readonly origin: 'env' | 'container' | 'local';
  /** kill -9, as in a crash: append-only data already written survives. */
  kill(): Promise<void>;
  /** (Re)starts the server on the same port and data directory. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** Append-only file on, so a killed server restarts with every acknowledged write. */
  appendOnly?: boolean;
  /**
   * A server of the test's own, even when REDIS_URL is set; needed by tests that kill and restart it.
   * Otherwise REDIS_URL, then testcontainers, then a local Debian redis-server.
   */
  dedicated?: boolean;
  /** Fixed port and data directory (the local cluster's); default: a free port and a temp dir. */
  port?: number;
  dir?: string;
}

export async function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  const envUrl = process.env.REDIS_URL;
  if (envUrl && !opts.dedicated) return fromEnv(envUrl);
  if (!opts.dedicated && (await dockerEngineAvailable())) return startContainer(opts);
  return startLocal(opts);
}

function fromEnv(url: string): RedisServer {
  const parsed = new URL(url);
  const unsupported = async () => {
    throw new Error('a Redis given by REDIS_URL cannot be killed or restarted; use { dedicated: true }');
  };
  return {
    url,
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    origin: 'env',
    kill: unsupported,
    start: unsupported,
    stop: async () => {},
  };
}

async function startContainer(opts: RedisOptions): Promise<RedisServer> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const args = ['redis-server', '--save', '', '--appendonly', opts.appendOnly ? 'yes' : 'no'];
  const container = await new GenericContainer('redis:7-alpine')
    .withCommand(args)
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  const host = container.getHost();
  const port = container.getMappedPort(6379);
  return {
    url: `redis://${host}:${port}`,
    host,
    port,
    origin: 'container',
    kill: async () => {
      await container.restart({ timeout: 0 });
    },
    start: async () => {},
    stop: async () => {
      await container.stop();
    },
  };
}

async function startLocal(opts: RedisOptions): Promise<RedisServer> {
  const binary = findBinary('redis-server', ['/usr/bin/redis-server', '/usr/local/bin/redis-server']);
  const host = REDIS_HOST;
  const port = opts.port ?? (await getPort({ host }));
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'trellis-redis-'));
  mkdirSync(dir, { recursive: true });
  const settings = {
    port,
    dir,
    appendonly: opts.appendOnly ? 'yes' : 'no',
    appendfsync: 'everysec',
  };
  let proc: ManagedProcess | undefined;

  const start = async () => {
    if (proc?.running) return;
    proc = await spawnRedis(binary, settings);
  };
  await start();

  return {
    url: `redis://${host}:${port}`,
    host,
    port,
    origin: 'local',
    kill: async () => {
      await proc?.kill();
    },
    start,
    stop: async () => {
      // SIGTERM: Redis flushes its append-only file before exiting.
      await proc?.stop('SIGTERM');
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `during` with `redis` killed (kill -9, as in a crash), then starts it again on the same port
 * and data directory, whatever `during` did: an outage test never leaves the server down.
 */
export async function whileRedisDown<T>(redis: RedisServer, during: () => Promise<T>): Promise<T> {
  await redis.kill();
  try {
    return await during();
  } finally {
    await redis.start();
  }
}
