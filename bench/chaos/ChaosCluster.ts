import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BusKeys } from '@trellis/bus';
import { Migrator } from '@trellis/db';
import { type SpawnedSfu, spawnSfu } from '@trellis/sfu/testing';
import {
  type ManagedProcess,
  type PostgresServer,
  type RedisServer,
  spawnProcess,
  startPostgres,
  startRedis,
  TcpBalancer,
} from '@trellis/testkit';
import getPort from 'get-port';
import { Redis } from 'ioredis';
import { progress } from '../sfu-forwarding/util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Production defaults, except what a one-IP loopback run needs (rate limits off, loopback RTC). */
const PRODUCTION = { NODE_ENV: 'production', LOG_LEVEL: 'info' };
const SFU_DEFAULTS = { ...PRODUCTION, SFU_HEARTBEAT_INTERVAL_MS: '1000', SFU_HEARTBEAT_TTL_MS: '3000' };

interface SignalingSlot {
  nodeId: string;
  port: number;
  process: ManagedProcess | undefined;
}

/**
 * The local cluster bench:chaos breaks: Redis (append-only, so a killed one comes back with its
 * data), PostgreSQL, the persister, SFU nodes and two signaling nodes behind a round-robin TCP
 * balancer (what an operator puts in front of them), every one a real process it can kill and
 * start again. `stop()` ends everything it started, whatever state the faults left it in.
 */
export class ChaosCluster {
  readonly secret = randomBytes(32).toString('hex');
  readonly sfus = new Map<string, SpawnedSfu>();
  #sfuCount = 0;
  #signaling: SignalingSlot[] = [];
  #persister: ManagedProcess | undefined;
  #balancer: TcpBalancer | undefined;
  /** Each process started, restarts included (name#n), for logs(). */
  readonly #everStarted = new Map<string, ManagedProcess>();

  private constructor(
    readonly redis: RedisServer,
    readonly postgres: PostgresServer,
    readonly databaseUrl: string,
  ) {}

  static async start(opts: { sfuNodes: number; signalingNodes: number }): Promise<ChaosCluster> {
    progress('chaos: Redis (append-only) and PostgreSQL');
    const redis = await startRedis({ dedicated: true, appendOnly: true });
    const postgres = await startPostgres({ dedicated: true }).catch(async (error: unknown) => {
      await redis.stop();
      throw error;
    });
    const databaseUrl = await postgres.createDatabase('trellis_chaos');
    const cluster = new ChaosCluster(redis, postgres, databaseUrl);
    try {
      await new Migrator({ databaseUrl }).deploy();
      progress('chaos: persister');
      cluster.#persister = await cluster.#service('persister', 'services/persister/src/main.ts', {
        NODE_ID: 'chaos-persister',
        METRICS_PORT: '0',
      });
      for (let i = 0; i < opts.sfuNodes; i++) await cluster.addSfu();
      for (let i = 0; i < opts.signalingNodes; i++) {
        cluster.#signaling.push({
          nodeId: `chaos-signaling-${i + 1}`,
          port: await getPort({ host: '127.0.0.1' }),
          process: undefined,
        });
        await cluster.startSignaling(i);
      }
      cluster.#balancer = await TcpBalancer.start(
        cluster.#signaling.map((s) => ({ host: '127.0.0.1', port: s.port })),
      );
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Where clients connect: the balancer in front of the signaling nodes. */
  get url(): string {
    if (!this.#balancer) throw new Error('the cluster is not started');
    return this.#balancer.url;
  }

  async addSfu(): Promise<SpawnedSfu> {
    const nodeId = `chaos-sfu-${++this.#sfuCount}`;
    progress(`chaos: SFU node ${nodeId}`);
    const sfu = await spawnSfu({ redisUrl: this.redis.url, nodeId, env: { ...SFU_DEFAULTS } });
    this.sfus.set(nodeId, sfu);
    this.#everStarted.set(nodeId, sfu.process);
    void sfu.process.exited.then(() => this.sfus.delete(nodeId));
    return sfu;
  }

  /** The calls a node's heartbeat says it hosts (what NodeLost will name if it dies). */
  async registeredRooms(nodeId: string): Promise<string[]> {
    const redis = new Redis(this.redis.url);
    try {
      return Object.keys(await redis.hgetall(new BusKeys().nodeRooms(nodeId)));
    } finally {
      redis.disconnect();
    }
  }

  signalingNode(index: number): SignalingSlot {
    const slot = this.#signaling[index];
    if (!slot) throw new Error(`no signaling node ${index}`);
    return slot;
  }

  /** (Re)starts signaling node `index` on its port and node id, as a supervisor would. */
  async startSignaling(index: number): Promise<void> {
    const slot = this.signalingNode(index);
    progress(`chaos: signaling node ${slot.nodeId} on ${slot.port}`);
    slot.process = await this.#service(slot.nodeId, 'services/signaling/src/main.ts', {
      NODE_ID: slot.nodeId,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(slot.port),
      METRICS_PORT: '0',
      JWT_SECRET: this.secret,
      // Every participant of the run comes from one IP.
      RATE_LIMITS: 'false',
    });
  }

  async #service(name: string, entry: string, env: Record<string, string>): Promise<ManagedProcess> {
    const proc = spawnProcess(process.execPath, ['--import', 'tsx', join(ROOT, entry)], {
      name,
      env: {
        ...process.env,
        ...PRODUCTION,
        REDIS_URL: this.redis.url,
        DATABASE_URL: this.databaseUrl,
        ...env,
      },
    });
    let key = name;
    for (let n = 2; this.#everStarted.has(key); n++) key = `${name}#${n}`;
    this.#everStarted.set(key, proc);
    try {
      await proc.waitForOutput(/"msg":"(signaling node|persister) serving"/, 60_000);
    } catch (error) {
      await proc.stop('SIGKILL');
      throw error;
    }
    return proc;
  }

  /** Every process's output so far, by name (written next to the report for a post-mortem). */
  logs(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, p] of this.#everStarted) out[name] = p.output;
    return out;
  }

  async stop(): Promise<void> {
    await this.#balancer?.close();
    const running = [
      ...this.#signaling.map((s) => s.process),
      ...[...this.sfus.values()].map((s) => s.process),
      this.#persister,
    ].filter((p): p is ManagedProcess => p !== undefined);
    // SIGINT stops each at once (no drain); stop() kills whatever is still there after its grace.
    await Promise.all(running.map((p) => p.stop('SIGINT', 10_000).catch(() => undefined)));
    // A fault may have left either store stopped: start() is not needed to stop them.
    await this.redis.stop().catch(() => undefined);
    await this.postgres.stop().catch(() => undefined);
  }
}
