import { waitFor } from '@trellis/testkit';
import {
  createRtpReceiver,
  openUdpSocket,
  type RtpReceiver,
  sendRtpStream,
  vp8Payload,
} from '@trellis/testkit/media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Peer } from '../../src/Peer';
import { Room } from '../../src/Room';
import type { RoomEvents } from '../../src/RoomTypes';
import { WorkerPool } from '../../src/WorkerPool';
import { freePorts, quietLogger, roomOptions, VP8_PT, vp8Parameters } from './fixtures';

describe('Room and Peer on a real worker pool', () => {
  let pool: WorkerPool;
  const receivers: RtpReceiver[] = [];
  beforeAll(async () => {
    // One consumer per worker: the second subscriber forces the room onto a second worker.
    pool = await WorkerPool.create(
      { workers: 2, listenIp: '127.0.0.1', ports: await freePorts(2), maxConsumersPerWorker: 1 },
      quietLogger(),
    );
  });
  afterAll(async () => {
    for (const r of receivers) await r.close();
    pool?.close();
  });

  async function subscriber(room: Room, peer: Peer, producerId: string) {
    const receiver = await createRtpReceiver();
    receivers.push(receiver);
    const transport = await peer.createPlainTransport({
      direction: 'recv',
      comedia: false,
      rtcpMux: true,
      enableSrtp: false,
    });
    await peer.connectPlainTransport(transport.id, { ip: '127.0.0.1', port: receiver.port });
    const consumer = await peer.consume({
      transportId: transport.id,
      producerId,
      rtpCapabilities: room.rtpCapabilities,
    });
    expect(consumer.paused).toBe(true);
    await peer.setConsumerPaused(consumer.id, false);
    return { receiver, consumer };
  }

  it('spreads a call over two workers, pipes the producer across, and cascades closes', async () => {
    const room = await Room.create(roomOptions('room-spread', pool));
    const events: Array<[keyof RoomEvents, ...unknown[]]> = [];
    for (const name of ['producerclose', 'consumerclose', 'transportclose', 'close'] as const) {
      room.on(name, (...args: unknown[]) => events.push([name, ...args]));
    }
    const alice = await room.getOrCreatePeer('alice');
    const send = await alice.createPlainTransport({
      direction: 'send',
      comedia: true,
      rtcpMux: true,
      enableSrtp: false,
    });
    const producer = await alice.produce({
      transportId: send.id,
      kind: 'video',
      rtpParameters: vp8Parameters(0x1111),
      paused: false,
    });

    const bob = await room.getOrCreatePeer('bob');
    const atBob = await subscriber(room, bob, producer.id);
    const carol = await room.getOrCreatePeer('carol');
    const atCarol = await subscriber(room, carol, producer.id);
    expect(room.routers).toHaveLength(2);
    expect(carol.home.handle).not.toBe(alice.home.handle);
    expect(room.usesWorker(carol.home.handle)).toBe(true);

    const socket = await openUdpSocket();
    await sendRtpStream({
      host: send.tuple.localAddress,
      port: send.tuple.localPort,
      count: 200,
      intervalMs: 5,
      payloadType: VP8_PT,
      ssrc: 0x1111,
      payload: vp8Payload({ size: 400 }),
      socket,
    });
    socket.close();
    // Same router and piped router both deliver (a few packets may precede the first keyframe ask).
    await waitFor(
      () => atBob.receiver.countBySsrc(atBob.consumer.rtpParameters.encodings![0]!.ssrc!) >= 190,
      {
        what: 'bob to receive the stream',
      },
    );
    await waitFor(
      () => atCarol.receiver.countBySsrc(atCarol.consumer.rtpParameters.encodings![0]!.ssrc!) >= 190,
      {
        what: 'carol to receive the piped stream',
      },
    );

    await alice.closeProducer(producer.id);
    const consumerCloses = events.filter(([name]) => name === 'consumerclose');
    await waitFor(() => events.filter(([name]) => name === 'consumerclose').length === 2, {
      what: 'both consumers to close',
    });
    expect(consumerCloses.every(([, , , reason]) => reason === 'producer-closed')).toBe(true);
    expect(events.find(([name]) => name === 'producerclose')?.[3]).toBe('closed-by-peer');
    await expect(alice.closeProducer(producer.id)).rejects.toMatchObject({ code: 'PRODUCER_NOT_FOUND' });

    bob.close();
    expect(events.filter(([name]) => name === 'transportclose').map((e) => e[3])).toEqual(['peer-left']);
    carol.close();
    expect(room.closed).toBe(false);
    alice.close();
    expect(room.closed).toBe(true);
    expect(events.at(-1)).toEqual(['close', 'empty', []]);
    await expect(room.getOrCreatePeer('dave')).rejects.toMatchObject({ code: 'ROOM_NOT_FOUND' });
  }, 30_000);

  it('refuses what a peer may not do, with typed errors', async () => {
    const room = await Room.create(roomOptions('room-rules', pool));
    const peer = await room.getOrCreatePeer('p');
    const recv = await peer.createPlainTransport({
      direction: 'recv',
      comedia: false,
      rtcpMux: true,
      enableSrtp: false,
    });
    await expect(
      peer.produce({ transportId: recv.id, kind: 'video', rtpParameters: vp8Parameters(1), paused: false }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(peer.restartIce(recv.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(peer.connectTransport(recv.id, { fingerprints: [] } as never)).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(peer.connectPlainTransport('nope', { ip: '127.0.0.1', port: 9 })).rejects.toMatchObject({
      code: 'TRANSPORT_NOT_FOUND',
    });
    await expect(
      peer.consume({ transportId: recv.id, producerId: 'nope', rtpCapabilities: room.rtpCapabilities }),
    ).rejects.toMatchObject({
      code: 'PRODUCER_NOT_FOUND',
    });
    await expect(peer.setConsumerPaused('nope', false)).rejects.toMatchObject({ code: 'CONSUMER_NOT_FOUND' });
    expect(() => room.peer('ghost')).toThrow(expect.objectContaining({ code: 'PEER_NOT_FOUND' }));
    room.close('node-stopping');
    expect(() => peer.transport(recv.id)).toThrow(expect.objectContaining({ code: 'PEER_NOT_FOUND' }));
  });

  it('replaces a worker killed with SIGKILL on the same port and closes its rooms', async () => {
    const room = await Room.create(roomOptions('room-doomed', pool));
    await room.getOrCreatePeer('x');
    const victim = room.routers[0]!.handle;
    const port = victim.listen.port;
    const closed = new Promise<string>((resolve) => room.once('close', (reason) => resolve(reason)));
    const died = new Promise<[number, number | undefined]>((resolve) =>
      pool.once('workerdied', (dead, replacement) => resolve([dead.pid, replacement?.pid])),
    );
    process.kill(victim.pid, 'SIGKILL');
    expect(await closed).toBe('worker-died');
    const [deadPid, newPid] = await died;
    expect(deadPid).toBe(victim.pid);
    expect(newPid).toBeGreaterThan(0);
    const replacement = pool.handles[victim.index]!;
    expect(replacement.pid).toBe(newPid);
    expect(replacement.listen.port).toBe(port);
    // The node keeps serving: a new room on the replacement works.
    const again = await Room.create(roomOptions('room-after', pool));
    expect(again.rtpCapabilities.codecs?.length).toBeGreaterThan(0);
    again.close('node-stopping');
  }, 30_000);
});
