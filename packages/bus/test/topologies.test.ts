import { NodeStateChanged } from '@trellis/protocol';
import {
  type RedisCluster,
  type RedisSentinelSetup,
  startRedisCluster,
  startRedisSentinel,
  waitFor,
} from '@trellis/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { connectBus, Echo, RoomNote } from './helpers';

type Bus = Awaited<ReturnType<typeof connectBus>>['bus'];

describe('Redis Cluster and Sentinel', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const track = <T extends { bus: Bus }>(connection: T): T => {
    cleanups.push(() => connection.bus.close());
    return connection;
  };

  it('serves commands, room events and broadcasts across the slots of a 3-master cluster', async () => {
    const cluster: RedisCluster = await startRedisCluster();
    cleanups.push(() => cluster.stop());
    const config = { mode: 'cluster' as const, nodes: cluster.nodes, keyPrefix: 'trellis:' };
    const caller = track(await connectBus(config, 'caller'));
    const served = track(await connectBus(config, 'server'));

    // Targets whose streams hash to different slots, hence different masters.
    const targets = ['sfu-a', 'sfu-b', 'sfu-c', 'sfu-d'];
    for (const target of targets) {
      const server = served.bus.serveCommands(target);
      server.handle(Echo, ({ text }) => ({ text, by: target }));
      await server.start();
    }
    const replies = await Promise.all(
      targets.flatMap((target) =>
        Array.from({ length: 25 }, (_, i) => caller.bus.commands.request(target, Echo, { text: `${i}` })),
      ),
    );
    expect(replies.filter((r, i) => r.by === targets[Math.floor(i / 25)])).toHaveLength(100);

    const seen: string[] = [];
    await served.bus
      .consumeEvents('signaling')
      .on(RoomNote, ({ seq }, meta) => {
        seen.push(`${meta.subject}:${seq}`);
      })
      .start();
    const rooms = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
    for (const room of rooms)
      for (let seq = 0; seq < 5; seq++) await caller.bus.events.append(room, RoomNote, { seq, text: '' });
    await waitFor(() => seen.length === 30, { what: '30 room events from six rooms' });
    for (const room of rooms)
      expect(seen.filter((s) => s.startsWith(`${room}:`))).toEqual(
        [0, 1, 2, 3, 4].map((n) => `${room}:${n}`),
      );

    const heard: string[] = [];
    await served.bus.broadcast.subscribe(NodeStateChanged, (p) => {
      heard.push(p.state);
    });
    await caller.bus.broadcast.publish(NodeStateChanged, {
      nodeId: 'sfu-a',
      kind: 'sfu',
      state: 'draining',
      region: 'r',
    });
    await waitFor(() => heard.length === 1, { what: 'a broadcast through the cluster' });
  }, 60_000);

  it('finds the master through Sentinel and keeps serving after a failover', async () => {
    const setup: RedisSentinelSetup = await startRedisSentinel();
    cleanups.push(() => setup.stop());
    const config = {
      mode: 'sentinel' as const,
      sentinels: setup.sentinels,
      name: setup.name,
      keyPrefix: 'trellis:',
    };
    const caller = track(await connectBus(config, 'caller', { requestTimeoutMs: 20_000 }));
    const served = track(await connectBus(config, 'server'));
    const server = served.bus.serveCommands('sfu-s');
    server.handle(Echo, ({ text }) => ({ text, by: 'sfu-s' }));
    await server.start();

    await expect(caller.bus.commands.request('sfu-s', Echo, { text: 'before' })).resolves.toMatchObject({
      text: 'before',
    });
    // Let the replica catch up with the group and inbox, then lose the master.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await setup.killMaster();
    // The sentinel notices after 1 s, promotes the replica; clients ask the sentinel again.
    await expect(caller.bus.commands.request('sfu-s', Echo, { text: 'after' })).resolves.toMatchObject({
      text: 'after',
    });
  }, 60_000);
});
