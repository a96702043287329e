import { fileURLToPath } from 'node:url';
import { NodeLost } from '@trellis/protocol';
import { type ManagedProcess, type RedisServer, spawnProcess, startRedis, waitFor } from '@trellis/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { busConnectionName } from '../src/registry/ConnectionPresence';
import { NodeLossMonitor } from '../src/registry/NodeLossMonitor';
import { connectBus, memoryLogger } from './helpers';

const fixture = fileURLToPath(new URL('./fixtures/beatingNode.ts', import.meta.url));
/** Far longer than any wait below: a node found lost in these tests was found by its connection. */
const LONG_TTL_MS = 60_000;

describe('node loss detection', () => {
  let redis: RedisServer;
  let watcher: Awaited<ReturnType<typeof connectBus>>;
  const children: ManagedProcess[] = [];
  const started = new Set<string>();
  const monitors: NodeLossMonitor[] = [];
  const lost: Array<{ nodeId: string; rooms: unknown }> = [];

  const monitor = (graceMs = 300) => {
    const m = new NodeLossMonitor({
      nodeId: 'watcher',
      registry: watcher.bus.registry,
      redis: watcher.bus.redis,
      keys: watcher.bus.keys,
      broadcast: watcher.bus.broadcast,
      intervalMs: 200,
      presence: { graceMs, intervalMs: 100 },
      holdBack: { baseMs: 1_500, maxMs: 10_000, memoryMs: 60_000 },
      logger: memoryLogger('loss-monitor', 'watcher').logger,
    });
    monitors.push(m);
    m.start();
    return m;
  };
  const startNode = async (nodeId: string, ttlMs = LONG_TTL_MS) => {
    const child = spawnProcess(
      process.execPath,
      ['--import', 'tsx', fixture, redis.url, nodeId, String(ttlMs)],
      {
        name: nodeId,
      },
    );
    children.push(child);
    started.add(nodeId);
    await child.waitForOutput(/READY/);
    return child;
  };
  const listed = async () => (await watcher.bus.registry.list()).map((n) => n.nodeId);

  beforeAll(async () => {
    // Append-only: the registry outlives the restart in the last test, as it would in production.
    redis = await startRedis({ dedicated: true, appendOnly: true });
    watcher = await connectBus(redis.url, 'watcher');
    await watcher.bus.broadcast.subscribe(NodeLost, (e) => void lost.push(e));
  });
  afterEach(async () => {
    for (const m of monitors.splice(0)) await m.stop();
    for (const child of children.splice(0)) await child.kill();
    // Killed without a monitor running: their entries would be found lost by the next test's.
    for (const nodeId of started) await watcher.bus.registry.remove(nodeId);
    started.clear();
    lost.length = 0;
  });
  afterAll(async () => {
    await watcher?.bus.close();
    await redis?.stop();
  });

  it('declares a killed process lost by its closed connection, long before its TTL, once', async () => {
    const child = await startNode('sfu-killed');
    monitor();
    monitor(); // a second monitor (another process's) must not announce it again
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(lost).toEqual([]); // alive: connection open
    await child.kill();
    await waitFor(() => lost.length > 0, { timeoutMs: 5_000, what: 'NodeLost for the killed node' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(lost).toEqual([
      { nodeId: 'sfu-killed', rooms: [{ roomId: 'room-1', peerIds: ['peer-a', 'peer-b'] }] },
    ]);
    expect(await listed()).not.toContain('sfu-killed');
  });

  it('holds a node that died back from selection when it returns, longer after each loss', async () => {
    monitor();
    const first = await startNode('sfu-flapping');
    await first.kill();
    await waitFor(() => lost.length === 1, { timeoutMs: 5_000, what: 'first loss' });
    const back = await startNode('sfu-flapping');
    expect(await listed()).not.toContain('sfu-flapping'); // held for 1.5 s
    await waitFor(async () => (await listed()).includes('sfu-flapping'), {
      timeoutMs: 5_000,
      what: 'the first hold to end',
    });
    await back.kill();
    await waitFor(() => lost.length === 2, { timeoutMs: 5_000, what: 'second loss' });
    expect(await watcher.bus.redis.pttl(watcher.bus.keys.nodeHold('sfu-flapping'))).toBeGreaterThan(1_500);
  });

  it('does not evict a node whose connection drops and comes straight back', async () => {
    await startNode('sfu-blip');
    monitor(1_000);
    const clients = (await watcher.bus.redis.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string;
    const line = clients.split('\n').find((l) => l.includes(` name=${busConnectionName('sfu-blip')} `));
    const id = / id=(\d+)/.exec(` ${line ?? ''}`)?.[1];
    expect(id).toBeDefined();
    await watcher.bus.redis.call('CLIENT', 'KILL', 'ID', id as string);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(lost).toEqual([]);
    expect(await listed()).toContain('sfu-blip');
  });

  it('does not read a Redis restart as every node dying', async () => {
    await startNode('sfu-survivor-1');
    await startNode('sfu-survivor-2');
    monitor();
    await redis.kill();
    // Down long enough that every client's reconnect back-off has grown to its cap: they come back
    // at scattered times, some well after the monitor's own connection.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await redis.start();
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    expect(lost).toEqual([]);
    await waitFor(async () => (await listed()).length === 2, {
      timeoutMs: 5_000,
      what: 'both nodes listed again',
    });
  }, 20_000);

  it('does not read an outage longer than the TTL as every node dying: the entries expired, the nodes did not', async () => {
    await startNode('sfu-outlived-1', 1_500);
    await startNode('sfu-outlived-2', 1_500);
    monitor();
    await redis.kill();
    // Every entry's TTL runs out while Redis is down (Redis counts expiry in wall-clock time).
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    await redis.start();
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    expect(lost).toEqual([]);
    expect((await listed()).sort()).toEqual(['sfu-outlived-1', 'sfu-outlived-2']);
  }, 30_000);

  it('declares a wedged process lost: connected but silent, it is only late for a few seconds', async () => {
    const child = await startNode('sfu-wedged', 1_500);
    monitor();
    const stoppedAt = Date.now();
    // SIGSTOP keeps its sockets open (its connection stays in CLIENT LIST) and stops its heartbeat.
    child.child.kill('SIGSTOP');
    try {
      await waitFor(() => lost.some((e) => e.nodeId === 'sfu-wedged'), {
        timeoutMs: 15_000,
        what: 'the wedged node declared lost',
      });
      // TTL (1.5 s) + the grace for late nodes (5 s), not before.
      expect(Date.now() - stoppedAt).toBeGreaterThan(5_000);
    } finally {
      child.child.kill('SIGCONT');
    }
  }, 30_000);
});
