import { RedisBus } from '@trellis/bus';
import { ConsumerClosed, NodeLost } from '@trellis/protocol';
import { createMetricsRegistry } from '@trellis/telemetry';
import { type RedisServer, startRedis, waitFor } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietLogger } from '../inprocess/fixtures';
import { type SpawnedSfu, spawnSfu } from '../support/spawnSfu';
import { PlainCall } from './plainCall';

const TTL_MS = 1500; // spawnSfu's heartbeat: every 500 ms, entries live 1500 ms

describe('a call across three sfu processes when one is killed', () => {
  let redis: RedisServer;
  let client: RedisBus;
  const sfus = new Map<string, SpawnedSfu>();
  let call: PlainCall;

  beforeAll(async () => {
    redis = await startRedis();
    for (const nodeId of ['sfu-a', 'sfu-b', 'sfu-c'])
      sfus.set(nodeId, await spawnSfu({ redisUrl: redis.url, nodeId }));
    client = await RedisBus.connect({
      nodeId: 'signaling-test',
      redis: { mode: 'single', url: redis.url, keyPrefix: 'trellis:' },
      logger: quietLogger(),
      metrics: createMetricsRegistry({ service: 't', nodeId: 'signaling-test' }),
    });
    call = new PlainCall(client, 'call-loss');
  }, 60_000);

  afterAll(async () => {
    await call?.close();
    for (const sfu of sfus.values()) await sfu.process.stop('SIGINT');
    await client?.close();
    await redis?.stop();
  });

  it('keeps A and B forwarding with no gap over 200 ms and reports C lost within the TTL', async () => {
    const closed: Array<{ nodeId: string; peerId: string }> = [];
    await client
      .consumeEvents('loss-test')
      .on(ConsumerClosed, (p) => {
        closed.push({ nodeId: p.nodeId, peerId: p.peerId });
      })
      .start();
    const lost: Array<{
      at: number;
      payload: { nodeId: string; rooms: Array<{ roomId: string; peerIds: string[] }> };
    }> = [];
    await client.broadcast.subscribe(NodeLost, (payload) => {
      lost.push({ at: Date.now(), payload });
    });

    const alice = await call.publish('sfu-a', 'alice', 0x0a);
    const carol = await call.publish('sfu-c', 'carol', 0x0c);
    const bobSeesAlice = await call.subscribe('sfu-b', 'bob', alice);
    const bobSeesCarol = await call.subscribe('sfu-b', 'bob', carol);
    const amySeesCarol = await call.subscribe('sfu-a', 'amy', carol);
    for (const stream of [bobSeesAlice, bobSeesCarol, amySeesCarol]) {
      await waitFor(() => stream.count() > 100, { what: 'media across the three nodes', timeoutMs: 15_000 });
    }
    // Let one heartbeat carry the room's participants, as a real call would have had time to.
    await new Promise((resolve) => setTimeout(resolve, 700));

    const killedAt = Date.now();
    await sfus.get('sfu-c')!.process.kill();
    await waitFor(() => lost.length > 0, { what: 'NodeLost for sfu-c', timeoutMs: 10_000 });
    const detectionMs = lost[0]!.at - killedAt;
    // Measure B's stream from A for a while after the kill, then check it never stalled.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const gap = bobSeesAlice.longestGapSince(killedAt);
    console.info(
      `[node-loss] NodeLost after ${detectionMs} ms (TTL ${TTL_MS} ms); longest A→B gap after the kill ${gap} ms`,
    );

    expect(lost).toHaveLength(1);
    expect(lost[0]!.payload).toEqual({
      nodeId: 'sfu-c',
      rooms: [{ roomId: 'call-loss', peerIds: ['carol'] }],
    });
    // Expiry comes at most a TTL after the last beat before the kill; the sweep runs every 250 ms
    // on top, and a loaded 2-core CI machine delays timers: allow that, report the real figure.
    expect(detectionMs).toBeLessThanOrEqual(TTL_MS + 750);
    expect(gap).toBeLessThan(200);
    // The survivors dropped their pipes to C: the consumers of carol's producer closed on A and B.
    await waitFor(() => closed.filter((c) => c.peerId === 'amy' || c.peerId === 'bob').length >= 2, {
      what: 'consumers of the lost node to close',
    });
    expect(closed.map((c) => c.nodeId).sort()).toEqual(['sfu-a', 'sfu-b']);
    for (const stream of [bobSeesAlice, bobSeesCarol, amySeesCarol]) stream.stop();
    alice.stop();
    carol.stop();
  }, 60_000);
});
