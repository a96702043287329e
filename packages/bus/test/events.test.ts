import { NodeStateChanged } from '@trellis/protocol';
import { type RedisServer, startRedis, waitFor } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, metricValue, RoomNote } from './helpers';

type Seen = { node: string; subject: string | undefined; seq: number };

describe('room event streams and broadcast fan-out', () => {
  let redis: RedisServer;
  const buses: Array<Awaited<ReturnType<typeof connectBus>>> = [];
  const connect = async (nodeId: string) => {
    const bus = await connectBus(redis.url, nodeId, { claimIdleMs: 1000, claimIntervalMs: 200 });
    buses.push(bus);
    return bus;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const b of buses) await b.bus.close();
    await redis?.stop();
  });

  it('delivers each room event to one member of a group, in order per room, and all of them to another group', async () => {
    const producer = await connect('sfu-a');
    // Events appended before any consumer exists are delivered too (groups start at the beginning).
    await producer.bus.events.append('room-early', RoomNote, { seq: 0, text: 'before consumers' });

    const seen: Seen[] = [];
    const audit: Seen[] = [];
    for (const node of ['sig-1', 'sig-2']) {
      const { bus } = await connect(node);
      const source = bus.consumeEvents('signaling').on(RoomNote, ({ seq }, meta) => {
        seen.push({ node, subject: meta.subject, seq });
      });
      await source.start();
    }
    const auditor = await connect('auditor');
    await auditor.bus
      .consumeEvents('audit')
      .on(RoomNote, ({ seq }, meta) => {
        audit.push({ node: 'auditor', subject: meta.subject, seq });
      })
      .start();

    // New rooms appear while consumers run: they are picked up from the announcement.
    for (let seq = 1; seq <= 30; seq++) {
      for (const room of ['room-a', 'room-b', 'room-c'])
        await producer.bus.events.append(room, RoomNote, { seq, text: 'x' });
    }
    await waitFor(() => seen.length === 91 && audit.length === 91, {
      what: '91 events in both groups',
      timeoutMs: 10_000,
    });

    // Exactly once per group.
    const key = (s: Seen) => `${s.subject}:${s.seq}`;
    expect(new Set(seen.map(key)).size).toBe(91);
    // Each member handles a room's events in append order (across members, batches may interleave).
    for (const node of ['sig-1', 'sig-2']) {
      for (const room of ['room-a', 'room-b', 'room-c']) {
        const order = seen.filter((s) => s.node === node && s.subject === room).map((s) => s.seq);
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
    }
    for (const room of ['room-a', 'room-b', 'room-c']) {
      expect(audit.filter((s) => s.subject === room).map((s) => s.seq)).toEqual(
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
    }
    expect(audit.filter((s) => s.subject === 'room-early').map((s) => s.seq)).toEqual([0]);
  }, 30_000);

  it('dead-letters an invalid event and keeps consuming the room', async () => {
    const producer = await connect('sfu-b');
    const consumer = await connect('sig-3');
    const got: number[] = [];
    await consumer.bus
      .consumeEvents('dlq-check')
      .on(RoomNote, ({ seq }, meta) => {
        // This new group also reads the earlier tests' rooms; only room-d matters here.
        if (meta.subject === 'room-d') got.push(seq);
      })
      .start();
    await producer.bus.events.append('room-d', RoomNote, { seq: 1, text: 'ok' });
    const stream = producer.bus.keys.eventStream('room-d');
    const bad = {
      id: 'e1',
      kind: 'event',
      type: RoomNote.type,
      version: 1,
      ts: Date.now(),
      source: 'x',
      payload: { seq: 'two' },
    };
    await producer.bus.redis.xadd(stream, '*', 'm', JSON.stringify(bad));
    await producer.bus.redis.xadd(stream, '*', 'm', 'garbage');
    await producer.bus.events.append('room-d', RoomNote, { seq: 3, text: 'ok' });
    await waitFor(() => got.length === 2, { what: 'the two valid events' });
    expect(got).toEqual([1, 3]);
    expect(
      await metricValue(consumer.metrics, 'trellis_bus_dead_letters_total', { origin_kind: 'event' }),
    ).toBe(2);
    await expect(producer.bus.events.append('room-d', RoomNote, { seq: 'x' } as never)).rejects.toThrow(
      /seq/,
    );
  });

  it('removes a finished room stream', async () => {
    const { bus } = await connect('sfu-c');
    await bus.events.append('room-gone', RoomNote, { seq: 1, text: 'x' });
    expect(await bus.redis.sismember(bus.keys.eventSubjects(), 'room-gone')).toBe(1);
    await bus.events.removeSubject('room-gone');
    expect(await bus.redis.exists(bus.keys.eventStream('room-gone'))).toBe(0);
    expect(await bus.redis.sismember(bus.keys.eventSubjects(), 'room-gone')).toBe(0);
  });

  it('fans a broadcast out to every subscriber and dead-letters invalid ones', async () => {
    const sender = await connect('sfu-d');
    const received: string[] = [];
    const unsubscribes = [];
    for (const node of ['sig-4', 'sig-5']) {
      const { bus } = await connect(node);
      unsubscribes.push(
        await bus.broadcast.subscribe(NodeStateChanged, (p, meta) => {
          received.push(`${node}:${p.state}:${meta.source}`);
        }),
      );
    }
    await sender.bus.broadcast.publish(NodeStateChanged, {
      nodeId: 'sfu-d',
      kind: 'sfu',
      state: 'draining',
      region: 'eu',
    });
    await waitFor(() => received.length === 2, { what: 'both subscribers' });
    expect(received.sort()).toEqual(['sig-4:draining:sfu-d', 'sig-5:draining:sfu-d']);

    await sender.bus.redis.publish(sender.bus.keys.broadcastChannel(NodeStateChanged.type), '{"broken":');
    await waitFor(
      async () =>
        (await metricValue(buses.at(-1)!.metrics, 'trellis_bus_dead_letters_total', {
          origin_kind: 'broadcast',
        })) === 1,
      {
        what: 'a dead-lettered broadcast',
      },
    );
    await unsubscribes[0]!();
    await sender.bus.broadcast.publish(NodeStateChanged, {
      nodeId: 'sfu-d',
      kind: 'sfu',
      state: 'stopped',
      region: 'eu',
    });
    await waitFor(() => received.length === 3, { what: 'the remaining subscriber' });
    expect(received[2]).toBe('sig-5:stopped:sfu-d');
  });
});
