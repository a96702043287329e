import { RedisBus } from '@trellis/bus';
import { ClosePeer, CreatePlainTransport, GetPeerStats, ParticipantsMustMove } from '@trellis/protocol';
import { createMetricsRegistry } from '@trellis/telemetry';
import { type RedisServer, startRedis, waitFor } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietLogger } from '../inprocess/fixtures';
import { type SpawnedSfu, spawnSfu } from '../support/spawnSfu';
import { PlainCall } from './plainCall';

const DRAIN_MS = 2500;

describe('draining an sfu process', () => {
  let redis: RedisServer;
  let client: RedisBus;
  let sfu: SpawnedSfu;
  let call: PlainCall;

  beforeAll(async () => {
    redis = await startRedis();
    sfu = await spawnSfu({
      redisUrl: redis.url,
      nodeId: 'sfu-d',
      env: { SFU_DRAIN_TIMEOUT_MS: String(DRAIN_MS) },
    });
    client = await RedisBus.connect({
      nodeId: 'signaling-test',
      redis: { mode: 'single', url: redis.url, keyPrefix: 'trellis:' },
      logger: quietLogger(),
      metrics: createMetricsRegistry({ service: 't', nodeId: 'signaling-test' }),
    });
    call = new PlainCall(client, 'call-drain');
  }, 60_000);

  afterAll(async () => {
    await call?.close();
    await sfu?.process.stop('SIGKILL');
    await client?.close();
    await redis?.stop();
  });

  it('refuses new participants, asks the rest to move at once, and exits at its cap if they stay', async () => {
    const moves: string[][] = [];
    await client
      .consumeEvents('drain-test')
      .on(ParticipantsMustMove, (p) => {
        moves.push(p.peerIds.sort());
      })
      .start();
    const pub = await call.publish('sfu-d', 'pat', 0x0d);
    const sub = await call.subscribe('sfu-d', 'sam', pub);
    await waitFor(() => sub.count() > 50, { what: 'media before the drain' });

    const termAt = Date.now();
    sfu.process.child.kill('SIGTERM');
    await waitFor(async () => (await client.registry.get('sfu-d'))?.state === 'draining', {
      what: 'the draining state',
    });
    const join = client.commands.request('sfu-d', CreatePlainTransport, {
      roomId: 'call-drain',
      peerId: 'newcomer',
      direction: 'recv',
    });
    await expect(join).rejects.toMatchObject({ code: 'NODE_DRAINING' });
    const elsewhere = client.commands.request('sfu-d', CreatePlainTransport, {
      roomId: 'other-call',
      peerId: 'x',
      direction: 'recv',
    });
    await expect(elsewhere).rejects.toMatchObject({ code: 'NODE_DRAINING' });
    // Those already there carry on meanwhile.
    const before = sub.count();
    await expect(
      client.commands.request('sfu-d', GetPeerStats, { roomId: 'call-drain', peerId: 'sam' }),
    ).resolves.toBeDefined();
    await waitFor(() => sub.count() > before + 20, { what: 'media to keep flowing while draining' });

    // Asked at once, not after the cap: they move while this node still forwards their media.
    await waitFor(() => moves.length > 0, { what: 'the move request', timeoutMs: DRAIN_MS - 500 });
    const askedAfterMs = Date.now() - termAt;
    expect(moves[0]).toEqual(['pat', 'sam']);
    // Nobody leaves here (plain transports have no client to close them): the cap ends the drain.
    const exit = await sfu.process.exited;
    const tookMs = Date.now() - termAt;
    console.info(
      `[drain] move request ${askedAfterMs} ms, exited ${tookMs} ms after SIGTERM (cap ${DRAIN_MS} ms)`,
    );
    expect(exit.code).toBe(0);
    expect(tookMs).toBeGreaterThanOrEqual(DRAIN_MS - 100);
    expect(tookMs).toBeLessThan(DRAIN_MS + 3000);
    expect(await client.registry.get('sfu-d')).toBeUndefined();
    sub.stop();
    pub.stop();
  }, 60_000);

  it('exits as soon as the participants it was asked to move have left, long before its cap', async () => {
    const capMs = 30_000;
    const node = await spawnSfu({
      redisUrl: redis.url,
      nodeId: 'sfu-e',
      env: { SFU_DRAIN_TIMEOUT_MS: String(capMs) },
    });
    try {
      const moved: string[] = [];
      await client
        .consumeEvents('drain-test-e')
        .on(ParticipantsMustMove, (p) => {
          if (p.nodeId === 'sfu-e') moved.push(...p.peerIds);
        })
        .start();
      const second = new PlainCall(client, 'call-drain-e');
      const pub = await second.publish('sfu-e', 'pia', 0x0e);
      const sub = await second.subscribe('sfu-e', 'sol', pub);
      await waitFor(() => sub.count() > 50, { what: 'media before the drain' });
      const termAt = Date.now();
      node.process.child.kill('SIGTERM');
      await waitFor(() => moved.length === 2, { what: 'the move request' });
      // What signaling does once each has its path on another node.
      for (const peerId of moved)
        await client.commands.request('sfu-e', ClosePeer, { roomId: 'call-drain-e', peerId });
      const exit = await node.process.exited;
      const tookMs = Date.now() - termAt;
      console.info(`[drain] emptied: exited ${tookMs} ms after SIGTERM (cap ${capMs} ms)`);
      expect(exit.code).toBe(0);
      expect(tookMs).toBeLessThan(capMs / 3);
      sub.stop();
      pub.stop();
      await second.close();
    } finally {
      await node.process.stop('SIGKILL');
    }
  }, 60_000);
});
