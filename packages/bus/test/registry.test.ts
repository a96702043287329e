import type { NodeInfo } from '@trellis/protocol';
import { type RedisServer, startRedis, waitFor } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeHeartbeat } from '../src/registry/NodeHeartbeat';
import { connectBus, memoryLogger } from './helpers';

const info = (nodeId: string, state: NodeInfo['state'] = 'serving'): NodeInfo => ({
  nodeId,
  kind: 'sfu',
  region: 'eu',
  state,
  startedAt: 1,
  updatedAt: Date.now(),
  rtc: [{ ip: '127.0.0.1', udpPort: 40000, tcpPort: 40000 }],
  workers: [{ pid: 1, routers: 0, transports: 0, producers: 0, consumers: 0, cpuPercent: 0 }],
  maxConsumersPerWorker: 500,
});

describe('node registry', () => {
  let redis: RedisServer;
  let conn: Awaited<ReturnType<typeof connectBus>>;
  beforeAll(async () => {
    redis = await startRedis();
    conn = await connectBus(redis.url, 'registry-test');
  });
  afterAll(async () => {
    await conn?.bus.close();
    await redis?.stop();
  });

  it('lists live nodes; one whose TTL ran out is expired until someone claims its loss', async () => {
    const { registry } = conn.bus;
    await registry.publish(info('sfu-1'), 10_000);
    await registry.publish(info('sfu-2'), 200);
    expect((await registry.list()).map((n) => n.nodeId)).toEqual(['sfu-1', 'sfu-2']);
    await waitFor(async () => (await registry.list()).length === 1, { what: 'sfu-2 to expire' });
    expect(await registry.get('sfu-2')).toBeUndefined();
    // Listing has no side effects: the loss is still there to be announced, exactly once.
    expect(await registry.expired()).toEqual(['sfu-2']);
    expect(await registry.claimLost('sfu-2')).toBe(true);
    expect(await registry.claimLost('sfu-2')).toBe(false);
    expect(await registry.expired()).toEqual([]);
    await registry.remove('sfu-1');
    expect(await registry.list()).toEqual([]);
  });

  it('skips an unreadable entry instead of failing the listing', async () => {
    const { registry } = conn.bus;
    await registry.publish(info('sfu-3'), 10_000);
    await conn.bus.redis.set(conn.bus.keys.node('sfu-odd'), '{"nodeId":"sfu-odd"}');
    await conn.bus.redis.sadd(conn.bus.keys.nodes(), 'sfu-odd');
    expect((await registry.list()).map((n) => n.nodeId)).toEqual(['sfu-3']);
    // Unreadable is not lost: a node of another version may be alive and beating.
    expect(await registry.expired()).toEqual([]);
    await registry.remove('sfu-3');
    await registry.remove('sfu-odd');
  });

  it('keeps a node alive while its heartbeat runs and removes it on stop', async () => {
    const { registry } = conn.bus;
    let state: NodeInfo['state'] = 'starting';
    const heartbeat = new NodeHeartbeat({
      registry,
      describe: () => info('sfu-beat', state),
      intervalMs: 50,
      ttlMs: 150,
      logger: memoryLogger('registry-test', 'sfu-beat').logger,
    });
    await heartbeat.start();
    expect((await registry.get('sfu-beat'))?.state).toBe('starting');
    state = 'serving';
    await new Promise((resolve) => setTimeout(resolve, 400)); // well past one TTL: beats keep it
    expect((await registry.get('sfu-beat'))?.state).toBe('serving');
    await heartbeat.stop();
    expect(await registry.get('sfu-beat')).toBeUndefined();
    expect(
      () =>
        new NodeHeartbeat({
          registry,
          describe: () => info('x'),
          intervalMs: 100,
          ttlMs: 100,
          logger: undefined as never,
        }),
    ).toThrow(/longer/);
  });
});
