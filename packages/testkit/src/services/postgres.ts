import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import getPort from 'get-port';
import pg from 'pg';
import { type ManagedProcess, spawnProcess } from '../process';
import { StopWaiting, waitFor } from '../waitFor';
import { dockerEngineAvailable } from './containers';
import { findPostgresBin } from './findBinary';

export interface PostgresServer {
  /** URL of the server's default `postgres` database. */
  readonly url: string;
  readonly origin: 'env' | 'container' | 'local';
  /** Creates an empty database and returns its URL: one per test file keeps tests independent. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server but keeps its data, so `start()` brings the same database back. */
  pause(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface PostgresOptions {
  /** A server of the test's own even when DATABASE_URL is set; needed by tests that stop it. */
  dedicated?: boolean;
  /** Fixed port and directory (the local cluster's, kept between runs); default: free port, temp dir. */
  port?: number;
  dir?: string;
}

export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresServer> {
  const envUrl = process.env.DATABASE_URL;
  if (envUrl && !opts.dedicated) return fromEnv(envUrl);
  if (!opts.dedicated && (await dockerEngineAvailable())) return startContainer();
  return startLocal(opts);
}

async function createDatabase(serverUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name ${name}`);
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function fromEnv(url: string): PostgresServer {
  const unsupported = async () => {
    throw new Error('a PostgreSQL given by DATABASE_URL cannot be stopped; use { dedicated: true }');
  };
  return {
    url,
    origin: 'env',
    createDatabase: (name) => createDatabase(url, name),
    pause: unsupported,
    start: unsupported,
    stop: async () => {},
  };
}

async function startContainer(): Promise<PostgresServer> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('postgres:15-alpine')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  const url = `postgresql://postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
  return {
    url,
    origin: 'container',
    createDatabase: (name) => createDatabase(url, name),
    pause: async () => {
      await container.exec(['pg_ctl', 'stop', '-D', '/var/lib/postgresql/data', '-m', 'fast']);
    },
    start: async () => {
      await container.restart();
    },
    stop: async () => {
      await container.stop();
    },
  };
}

async function startLocal(opts: PostgresOptions): Promise<PostgresServer> {
  const bin = findPostgresBin();
  const host = '127.0.0.1';
  const port = opts.port ?? (await getPort({ host }));
  const ownDir = opts.dir === undefined;
  const user = process.getuid?.() === 0 ? postgresUser() : {};
  const root =
    opts.dir === undefined ? mkdtempSync(join(tmpdir(), 'trellis-pg-')) : reachableDir(opts.dir, user);
  const data = join(root, 'data');
  const sockets = join(root, 'sock');
  mkdirSync(sockets, { recursive: true });
  // PostgreSQL refuses to run as root; on CI (root) it runs as the postgres user, spawned with
  // that uid directly (not through runuser) so killing the child kills the server itself.
  if (user.uid !== undefined && user.gid !== undefined) {
    chownSync(root, user.uid, user.gid);
    chownSync(sockets, user.uid, user.gid);
  }
  // A kept directory is initialised once; initdb writes into a temporary name first so an
  // interrupted run never leaves a half-made cluster behind.
  if (!existsSync(join(data, 'PG_VERSION'))) {
    const fresh = `${data}.init`;
    rmSync(fresh, { recursive: true, force: true });
    execFileSync(join(bin, 'initdb'), ['-D', fresh, '-U', 'postgres', '-A', 'trust', '--no-sync'], {
      stdio: 'pipe',
      ...user,
    });
    renameSync(fresh, data);
  }

  const url = `postgresql://postgres@${host}:${port}/postgres`;
  let proc: ManagedProcess | undefined;
  const start = async () => {
    if (proc?.running) return;
    // Throwaway test servers trade durability for speed; a kept (local cluster) one does not.
    const speed = ownDir
      ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
      : [];
    proc = spawnProcess(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        sockets,
        '-c',
        `listen_addresses=${host}`,
        '-c',
        'max_connections=200',
        ...speed,
      ],
      { name: `postgres:${port}`, ...user },
    );
    const current = proc;
    await waitFor(
      async () => {
        if (!current.running) throw new StopWaiting(`postgres exited:\n${current.output}`);
        const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
        try {
          await client.connect();
          return true;
        } finally {
          await client.end().catch(() => {});
        }
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `postgres on ${port}` },
    );
  };
  await start();

  return {
    url,
    origin: 'local',
    createDatabase: (name) => createDatabase(url, name),
    pause: async () => {
      // SIGINT = "fast" shutdown: clients are disconnected, data is kept.
      await proc?.stop('SIGINT');
    },
    start,
    stop: async () => {
      await proc?.stop('SIGINT');
      if (ownDir) rmSync(root, { recursive: true, force: true });
    },
  };
}

function postgresUser(): { uid?: number; gid?: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * The postgres user must be able to reach its data directory. A checkout under /root (mode 0700)
 * is out of its reach; then the data lives under /var/lib/trellis instead, one directory per
 * requested path, so it is still kept between runs.
 */
function reachableDir(dir: string, user: { uid?: number }): string {
  mkdirSync(dir, { recursive: true });
  if (user.uid === undefined) return dir;
  for (let current = resolve(dir); ; current = dirname(current)) {
    const stat = statSync(current);
    const traversable = stat.uid === user.uid || (stat.mode & 0o001) !== 0;
    if (!traversable && current !== resolve(dir)) {
      const hash = createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 12);
      const fallback = join('/var/lib/trellis', `postgres-${hash}`);
      mkdirSync(fallback, { recursive: true });
      chmodSync('/var/lib/trellis', 0o755);
      return fallback;
    }
    if (current === dirname(current)) return dir;
  }
}

/** One query on a fresh connection: for tests that check what landed in a database. */
export async function queryPostgres<Row = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as Row[];
  } finally {
    await client.end();
  }
}
