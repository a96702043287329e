// The processes under test: a dedicated redis-server, one sfu process, one signaling process (its
// real main.ts, as deployed), and the bare Socket.IO server of the baseline. All children of this
// process, killed with it however it ends (testkit's spawnProcess).
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type SpawnedSfu, spawnSfu } from '@trellis/sfu/testing';
import { mintToken } from '@trellis/signaling/mintToken';
import { type ManagedProcess, type RedisServer, spawnProcess, startRedis } from '@trellis/testkit';
import getPort from 'get-port';
import { Redis } from 'ioredis';

const HERE = dirname(fileURLToPath(import.meta.url));
const SIGNALING_MAIN = join(HERE, '../../services/signaling/src/main.ts');
const BARE_SERVER = join(HERE, 'bareServer.ts');

export interface SignalingProcess {
  readonly url: string;
  readonly nodeId: string;
  readonly process: ManagedProcess;
  readonly secret: string;
  readonly env: Record<string, string>;
}

export interface BareServer {
  readonly url: string;
  readonly process: ManagedProcess;
}

/** The signaling environment: production mode, rate limits off, never back to P2P during the run. */
export function signalingEnv(redisUrl: string, nodeId: string, port: number, secret: string) {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    NODE_ID: nodeId,
    REDIS_URL: redisUrl,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    METRICS_PORT: '0',
    JWT_SECRET: secret,
    RATE_LIMITS: 'false',
    // A call on the SFU stays there while joiners come and go (the first-frame trials).
    P2P_HYSTERESIS_MS: '600000',
    MIGRATION_TIMEOUT_MS: '30000',
    MIGRATION_RETRY_MS: '1000',
    // Every client leaves explicitly; a socket that dropped without leaving frees its place soon.
    RESUME_GRACE_MS: '2000',
  };
}

export async function spawnSignaling(redisUrl: string): Promise<SignalingProcess> {
  const nodeId = 'bench-signaling';
  const port = await getPort({ host: '127.0.0.1' });
  const secret = randomBytes(32).toString('hex');
  const env = signalingEnv(redisUrl, nodeId, port, secret);
  const proc = spawnProcess(process.execPath, ['--import', 'tsx', SIGNALING_MAIN], {
    name: `signaling:${nodeId}`,
    env: { ...process.env, ...env },
  });
  await proc.waitForOutput(/"msg":"signaling node serving"/, 30_000);
  const { JWT_SECRET: _secret, ...shown } = env;
  return { url: `http://127.0.0.1:${port}`, nodeId, process: proc, secret, env: shown };
}

export function startSfu(redisUrl: string): Promise<SpawnedSfu> {
  return spawnSfu({ redisUrl, nodeId: 'bench-signaling-sfu', workers: 1, env: { LOG_LEVEL: 'info' } });
}

export async function spawnBareServer(): Promise<BareServer> {
  const proc = spawnProcess(process.execPath, ['--import', 'tsx', BARE_SERVER], { name: 'bare-socket.io' });
  const [, port] = await proc.waitForOutput(/listening (\d+)/, 30_000);
  return { url: `http://127.0.0.1:${port}`, process: proc };
}

export function tokenFor(
  signaling: SignalingProcess,
  roomId: string,
  identity: string,
  ttlSeconds = 3600,
): Promise<string> {
  return mintToken({
    secret: signaling.secret,
    issuer: 'trellis',
    audience: 'trellis',
    identity,
    grant: { room: roomId },
    ttlSeconds,
  });
}

/** redis-server's version and pid (for its CPU), from INFO. */
export async function redisInfo(redis: RedisServer): Promise<{ version: string; pid: number | undefined }> {
  const client = new Redis(redis.url);
  try {
    const text = await client.info('server');
    const pid = Number(/process_id:(\d+)/.exec(text)?.[1]);
    return {
      version: /redis_version:(\S+)/.exec(text)?.[1] ?? 'unknown',
      pid: Number.isFinite(pid) ? pid : undefined,
    };
  } finally {
    client.disconnect();
  }
}

export { startRedis };

/**
 * Calls still in Redis after every participant left, by mode and size (none is the clean outcome),
 * and the deadline poller's index.
 */
export async function leftoverCalls(
  redis: RedisServer,
): Promise<{ calls: number; by_state: Record<string, number>; example?: string; due: number }> {
  const client = new Redis(redis.url);
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await client.scan(cursor, 'MATCH', 'trellis:call:*', 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0' && keys.length < 10_000);
    const byState: Record<string, number> = {};
    let example: string | undefined;
    for (const key of keys) {
      const json = await client.hget(key, 's');
      const state = json
        ? (JSON.parse(json) as { mode?: string; participants?: Record<string, unknown> })
        : undefined;
      const label = `${state?.mode}, ${Object.keys(state?.participants ?? {}).length} participants`;
      byState[label] = (byState[label] ?? 0) + 1;
      example ??= json?.slice(0, 600) ?? undefined;
    }
    return {
      calls: keys.length,
      by_state: byState,
      ...(example ? { example } : {}),
      due: await client.zcard('trellis:calls:due'),
    };
  } finally {
    client.disconnect();
  }
}

/** The signaling node's "mode transition ended" log lines, by direction and result. */
export function transitionsFromLog(output: string): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const line of output.split('\n')) {
    if (!line.includes('"mode transition ended"')) continue;
    try {
      const { to, result } = JSON.parse(line) as { to?: string; result?: string };
      const key = `to ${to}: ${result}`;
      tally[key] = (tally[key] ?? 0) + 1;
    } catch {
      // Not a whole JSON line: counted by digestLog.
    }
  }
  return tally;
}

export interface LogDigest {
  warn: number;
  error: number;
  fatal: number;
  /** The distinct messages of warn-and-worse lines, with a count and one full line each. */
  messages: Array<{ level: string; msg: string; count: number; example: string }>;
}

// Trellis loggers write level names ("level":"warn"); plain pino writes numbers (40).
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const levelName = (n: number) => (n >= 60 ? 'fatal' : n >= 50 ? 'error' : 'warn');

/** What a child said at warn level or worse; output that is not a JSON log line counts as an error. */
export function digestLog(output: string, ignore: readonly RegExp[] = []): LogDigest {
  const digest: LogDigest = { warn: 0, error: 0, fatal: 0, messages: [] };
  const byMsg = new Map<string, LogDigest['messages'][number]>();
  for (const line of output.split('\n')) {
    if (!line.trim() || /^listening \d+$/.test(line) || ignore.some((re) => re.test(line))) continue;
    let entry: { level?: number | string; msg?: string } | undefined;
    try {
      entry = line.startsWith('{') ? (JSON.parse(line) as typeof entry) : undefined;
    } catch {
      entry = undefined;
    }
    if (!entry) {
      count(50, 'output that is not a JSON log line', line);
      continue;
    }
    const level = typeof entry.level === 'number' ? entry.level : (LEVELS[String(entry.level)] ?? 0);
    if (level >= 40) count(level, entry.msg ?? '', line);
  }
  digest.messages = [...byMsg.values()].sort((a, b) => b.count - a.count).slice(0, 10);
  return digest;

  function count(level: number, msg: string, line: string): void {
    const name = levelName(level);
    digest[name]++;
    const key = `${name}:${msg}`;
    const seen = byMsg.get(key);
    if (seen) seen.count++;
    else byMsg.set(key, { level: name, msg, count: 1, example: line.slice(0, 1500) });
  }
}
