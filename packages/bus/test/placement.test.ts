import { fileURLToPath } from 'node:url';
import type { NodeInfo } from '@trellis/protocol';
import { type ManagedProcess, type RedisServer, spawnProcess, startRedis } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoomPlacement } from '../src/placement/RoomPlacement';
import { createNodeSelector } from '../src/selector/index';
import { connectBus } from './helpers';

const race = fileURLToPath(new URL('./fixtures/placeRace.ts', import.meta.url));

function sfu(nodeId: string, consumers: number[], state: NodeInfo['state'] = 'serving'): NodeInfo {
  return {
    nodeId,
    kind: 'sfu',
    region: 'local',
    state,
    startedAt: 0,
    updatedAt: Date.now(),
    rtc: [],
    workers: consumers.map((c, pid) => ({
      pid,
      routers: 0,
      transports: 0,
      producers: 0,
      consumers: c,
      cpuPercent: 0,
    })),
    maxConsumersPerWorker: 100,
  };
}

describe('room placement', () => {
  let redis: RedisServer;
  let conn: Awaited<ReturnType<typeof connectBus>>;
  let placement: RoomPlacement;
  const children: ManagedProcess[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    conn = await connectBus(redis.url, 'placement-test');
    placement = new RoomPlacement({
      redis: conn.bus.redis,
      keys: conn.bus.keys,
      registry: conn.bus.registry,
      selector: createNodeSelector('least-loaded'),
      maxAgeMs: 60_000,
    });
  });
  afterAll(async () => {
    for (const child of children) await child.kill();
    await conn?.bus.close();
    await redis?.stop();
  });

  const publish = (...nodes: NodeInfo[]) =>
    Promise.all(nodes.map((n) => conn.bus.registry.publish(n, 60_000)));

  it('gives one call exactly one home under 20 concurrent first joins from two processes', async () => {
    await publish(sfu('sfu-a', [0]), sfu('sfu-b', [0]), sfu('sfu-c', [0]), sfu('sfu-d', [0]));
    const procs = ['p1', 'p2'].map((name) => {
      const child = spawnProcess(
        process.execPath,
        ['--import', 'tsx', race, redis.url, 'race-room', '10', name],
        { name },
      );
      children.push(child);
      return child;
    });
    await Promise.all(procs.map((p) => p.waitForOutput(/READY/)));
    // Both processes are connected and waiting; release them at once.
    await Promise.all(['p1', 'p2'].map((name) => conn.bus.redis.rpush(`test:race-go:${name}`, 'go')));
    const results = await Promise.all(procs.map((p) => p.waitForOutput(/RESULT (.*)/)));
    const homes = results.flatMap((m) => JSON.parse(m[1]!) as Array<{ nodeId: string; placed: boolean }>);
    expect(homes).toHaveLength(20);
    expect(new Set(homes.map((h) => h.nodeId)).size).toBe(1);
    expect(await conn.bus.redis.get(conn.bus.keys.roomHome('race-room'))).toBe(homes[0]!.nodeId);
  }, 30_000);

  it('keeps a call on its home while it fits, spills when full, and refuses when nothing fits', async () => {
    await publish(
      sfu('sfu-a', [10]),
      sfu('sfu-b', [50]),
      sfu('sfu-c', [100], 'draining'),
      sfu('sfu-d', [95]),
    );
    expect((await placement.home('call-1')).nodeId).toBe('sfu-a');
    expect(await placement.nodeForParticipant('call-1', { consumers: 10 })).toBe('sfu-a');
    // sfu-a fills up: the next participant spills to the least loaded node with room.
    await publish(sfu('sfu-a', [95]));
    expect(await placement.nodeForParticipant('call-1', { consumers: 10 })).toBe('sfu-b');
    expect(await placement.nodesOf('call-1')).toEqual(['sfu-a', 'sfu-b']);
    // A call already on sfu-b keeps using it before opening a third node.
    await publish(sfu('sfu-d', [0]));
    expect(await placement.nodeForParticipant('call-1', { consumers: 10 })).toBe('sfu-b');
    // Nothing with room for 60 consumers: a typed refusal, not an overloaded node.
    await expect(placement.nodeForParticipant('call-1', { consumers: 200 })).rejects.toMatchObject({
      code: 'CAPACITY_EXCEEDED',
    });
    await placement.release('call-1');
    expect(await placement.nodesOf('call-1')).toEqual([]);
  });

  it('re-homes a call whose home node is gone, and never places on a draining node', async () => {
    await conn.bus.registry.remove('sfu-a');
    await conn.bus.registry.remove('sfu-b');
    await conn.bus.registry.remove('sfu-d');
    await publish(sfu('sfu-e', [0]), sfu('sfu-c', [0], 'draining'));
    await conn.bus.redis.set(conn.bus.keys.roomHome('call-2'), 'sfu-gone');
    expect(await placement.home('call-2')).toEqual({ nodeId: 'sfu-e', placed: true });
    expect(await placement.home('call-2')).toEqual({ nodeId: 'sfu-e', placed: false });
  });
});
