import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import getPort from 'get-port';
import type { ManagedProcess } from '../process';
import { waitFor } from '../waitFor';
import { findBinary } from './findBinary';
import { REDIS_HOST, spawnRedis } from './redisProcess';
import { tcpRequest } from './tcp';

const run = promisify(execFile);
const HOST = REDIS_HOST;

export interface RedisCluster {
  readonly nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

/** A three-master Redis Cluster on loopback, from Debian's redis-server and redis-cli. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const binary = findBinary('redis-server', ['/usr/bin/redis-server']);
  const cli = findBinary('redis-cli', ['/usr/bin/redis-cli']);
  const dir = mkdtempSync(join(tmpdir(), 'trellis-redis-cluster-'));
  const nodes: Array<{ port: number; proc: ManagedProcess }> = [];
  const stop = async () => {
    for (const node of nodes) await node.proc.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await getPort({ host: HOST });
      const settings = {
        port,
        dir,
        appendonly: 'no',
        'cluster-enabled': 'yes',
        'cluster-config-file': `nodes-${port}.conf`,
        'cluster-node-timeout': 2000,
      };
      nodes.push({ port, proc: await spawnRedis(binary, settings) });
    }
    await run(cli, [
      '--cluster',
      'create',
      ...nodes.map((n) => `${HOST}:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const node of nodes) {
      await waitFor(
        async () => (await tcpRequest(HOST, node.port, 'CLUSTER INFO')).includes('cluster_state:ok'),
        {
          timeoutMs: 15_000,
          what: `cluster state ok on ${node.port}`,
        },
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: nodes.map((n) => ({ host: HOST, port: n.port })), stop };
}

export interface RedisSentinelSetup {
  readonly sentinels: { host: string; port: number }[];
  readonly name: string;
  readonly masterPort: number;
  /** kill -9 of the current master: the sentinel promotes the replica. */
  killMaster(): Promise<void>;
  stop(): Promise<void>;
}

/** A master, one replica and one sentinel watching them (quorum 1), for failover tests. */
export async function startRedisSentinel(): Promise<RedisSentinelSetup> {
  const binary = findBinary('redis-server', ['/usr/bin/redis-server']);
  const dir = mkdtempSync(join(tmpdir(), 'trellis-redis-sentinel-'));
  const name = 'trellis-master';
  const procs: ManagedProcess[] = [];
  const stop = async () => {
    for (const proc of [...procs].reverse()) await proc.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  const base = (port: number) => ({ port, dir, appendonly: 'no', dbfilename: `dump-${port}.rdb` });
  try {
    const masterPort = await getPort({ host: HOST });
    const replicaPort = await getPort({ host: HOST });
    const sentinelPort = await getPort({ host: HOST });
    const master = await spawnRedis(binary, base(masterPort));
    procs.push(master);
    procs.push(await spawnRedis(binary, { ...base(replicaPort), replicaof: `${HOST} ${masterPort}` }));
    // Sentinel rewrites its config file, so it gets one of its own.
    const config = join(dir, 'sentinel.conf');
    writeFileSync(
      config,
      [
        `port ${sentinelPort}`,
        `bind ${HOST}`,
        'protected-mode no',
        `dir ${dir}`,
        `sentinel monitor ${name} ${HOST} ${masterPort} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        '',
      ].join('\n'),
    );
    procs.push(
      await spawnRedis(binary, { port: sentinelPort }, { leadingArgs: [config, '--sentinel'], bare: true }),
    );
    await waitFor(
      async () => (await tcpRequest(HOST, masterPort, 'INFO replication')).includes('connected_slaves:1'),
      {
        what: 'the replica to attach',
      },
    );
    return {
      sentinels: [{ host: HOST, port: sentinelPort }],
      name,
      masterPort,
      killMaster: () => master.kill(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
