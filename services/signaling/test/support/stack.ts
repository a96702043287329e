import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { RedisBus } from '@trellis/bus';
import { DEV_JWT_SECRET, loadConfig, type SignalingConfig, signalingConfig } from '@trellis/config';
import type { Api } from '@trellis/protocol';
import { type SpawnedSfu, spawnSfu } from '@trellis/sfu/testing';
import { createLogger, createMetricsRegistry, type LogLevel } from '@trellis/telemetry';
import { type ManagedProcess, type RedisServer, spawnProcess, startRedis } from '@trellis/testkit';
import getPort from 'get-port';
import { io, type Socket } from 'socket.io-client';
import type { z } from 'zod';
import { mintToken } from '../../src/auth/mintToken';
import { SignalingNode } from '../../src/SignalingNode';

const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export function uid(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Environment shared by every signaling node of a test stack (in-process or spawned). */
export function signalingEnv(redisUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    REDIS_URL: redisUrl,
    HTTP_HOST: '127.0.0.1',
    METRICS_PORT: '0',
    P2P_HYSTERESIS_MS: '1500',
    MIGRATION_TIMEOUT_MS: '15000',
    MIGRATION_RETRY_MS: '1000',
    RESUME_GRACE_MS: '15000',
    ...extra,
  };
}

export interface InProcessSignaling {
  readonly url: string;
  readonly nodeId: string;
  readonly node: SignalingNode;
  readonly config: SignalingConfig;
  /** The node's own bus: a test can send through it and watch the node's bus metrics move. */
  readonly bus: RedisBus;
  close(): Promise<void>;
}

/** A signaling node in this process: its code counts towards coverage and its state can be read. */
export async function startSignaling(
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<InProcessSignaling> {
  const nodeId = env.NODE_ID ?? uid('sig');
  const config = loadConfig(
    signalingConfig,
    signalingEnv(redisUrl, { NODE_ID: nodeId, HTTP_PORT: '0', ...env }),
  );
  const logger = createLogger({
    service: 'signaling',
    nodeId,
    level: (process.env.SIGNALING_TEST_LOG_LEVEL ?? 'warn') as LogLevel,
  });
  const metrics = createMetricsRegistry({ service: 'signaling', nodeId });
  const bus = await RedisBus.connect({ nodeId, redis: config.redis, logger, metrics });
  const node = new SignalingNode({ config, bus, logger, metrics, heartbeatMs: 500 });
  const address = await node.start();
  return {
    url: `http://127.0.0.1:${address.port}`,
    nodeId,
    node,
    config,
    bus,
    async close() {
      await node.close();
      await bus.close();
    },
  };
}

export interface SpawnedSignaling {
  readonly url: string;
  readonly nodeId: string;
  readonly process: ManagedProcess;
}

/** A real signaling process (`src/main.ts` under tsx): the one to kill. */
export async function spawnSignaling(
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<SpawnedSignaling> {
  const nodeId = env.NODE_ID ?? uid('sig');
  const port = await getPort({ host: '127.0.0.1' });
  const proc = spawnProcess(process.execPath, ['--import', 'tsx', main], {
    name: `signaling:${nodeId}`,
    env: {
      ...process.env,
      LOG_LEVEL: process.env.SIGNALING_TEST_LOG_LEVEL ?? 'info',
      ...signalingEnv(redisUrl, { NODE_ID: nodeId, HTTP_PORT: String(port), ...env }),
    },
  });
  await proc.waitForOutput(/"msg":"signaling node serving"/, 30_000);
  return { url: `http://127.0.0.1:${port}`, nodeId, process: proc };
}

export interface Stack {
  readonly redis: RedisServer;
  readonly sfus: SpawnedSfu[];
  /** Starts one more sfu process (joining the cluster mid-test). */
  addSfu(env?: Record<string, string>): Promise<SpawnedSfu>;
  token(
    roomId: string,
    identity: string,
    grant?: Partial<z.input<typeof Api.RoomGrant>>,
    ttlSeconds?: number,
  ): Promise<string>;
  close(): Promise<void>;
}

/** Real Redis and `sfuNodes` real sfu processes; signaling nodes are added by each test. */
export async function startStack(
  opts: { sfuNodes?: number; sfuEnv?: Record<string, string>; dedicatedRedis?: boolean } = {},
): Promise<Stack> {
  // Dedicated: a Redis of the test's own, which it may kill and restart.
  const redis = await startRedis({ dedicated: opts.dedicatedRedis ?? false });
  const sfus: SpawnedSfu[] = [];
  const stack: Stack = {
    redis,
    sfus,
    async addSfu(env = {}) {
      const sfu = await spawnSfu({
        redisUrl: redis.url,
        nodeId: uid(`sfu${sfus.length + 1}`),
        env: { ...opts.sfuEnv, ...env },
      });
      sfus.push(sfu);
      return sfu;
    },
    token: (roomId, identity, grant = {}, ttlSeconds = 600) =>
      mintToken({
        secret: DEV_JWT_SECRET,
        issuer: 'trellis',
        audience: 'trellis',
        identity,
        grant: { room: roomId, ...grant },
        ttlSeconds,
      }),
    async close() {
      await Promise.allSettled(sfus.map((s) => s.process.stop('SIGINT')));
      await redis.stop();
    },
  };
  try {
    for (let i = 0; i < (opts.sfuNodes ?? 1); i += 1) await stack.addSfu();
  } catch (error) {
    await stack.close();
    throw error;
  }
  return stack;
}

/** A bare Socket.IO client speaking the request table: for tests that check the wire itself. */
export async function connectSocket(url: string, token: string | undefined): Promise<Socket> {
  const socket = io(url, {
    transports: ['websocket'],
    auth: token === undefined ? {} : { token },
    reconnection: false,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
  return socket;
}

export function ask<T = unknown>(
  socket: Socket,
  name: string,
  payload: unknown,
  timeoutMs = 10_000,
): Promise<Api.Ack<T>> {
  return socket.timeout(timeoutMs).emitWithAck(name, payload) as Promise<Api.Ack<T>>;
}
