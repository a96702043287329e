import { Writable } from 'node:stream';
import type { RedisBus } from '@trellis/bus';
import {
  ConnectPlainTransport,
  Consume,
  CreatePlainTransport,
  GetRouterCapabilities,
  Produce,
} from '@trellis/protocol';
import { createLogger } from '@trellis/telemetry';
import { createRtpReceiver } from '@trellis/testkit/media';
import getPort from 'get-port';
import type { types } from 'mediasoup';
import type { RoomOptions } from '../../src/Room';
import type { WorkerPool } from '../../src/WorkerPool';

/** Plain RTP producers in these tests send this VP8 stream (payload type and SSRC as declared). */
export const VP8_PT = 101;
export function vp8Parameters(ssrc: number): types.RtpParameters {
  return {
    codecs: [{ mimeType: 'video/VP8', payloadType: VP8_PT, clockRate: 90_000 }],
    encodings: [{ ssrc }],
  };
}

export function quietLogger() {
  return createLogger({
    service: 'sfu-test',
    nodeId: 'sfu-test',
    level: 'warn',
    destination: new Writable({ write: (_chunk, _enc, done) => done() }),
  });
}

/** Consecutive free ports for WebRtcServers, below the ephemeral range. */
export async function freePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const start = 10_000 + Math.floor(Math.random() * 20_000);
    const ports = Array.from({ length: count }, (_, i) => start + i);
    let free = true;
    for (const port of ports) if ((await getPort({ host: '127.0.0.1', port })) !== port) free = false;
    if (free) return ports;
  }
  throw new Error('no free port range');
}

/** Room options for single-node tests: asking another node for anything is a test failure. */
export function roomOptions(roomId: string, pool: WorkerPool): RoomOptions {
  return {
    roomId,
    pool,
    settings: { initialAvailableOutgoingBitrate: 1_000_000, maxIncomingBitrate: 1_500_000 },
    logger: quietLogger(),
    remote: {
      nodeId: 'solo',
      instanceId: 'solo-instance',
      request: () => Promise.reject(new Error('single-node test asked another node')),
    },
    pipe: { listenIp: '127.0.0.1', portRange: { min: 21000, max: 21999 } },
  };
}

type Request = RedisBus['commands']['request'];

/** Bus commands to one sfu node, typed by their definition; `bus` is read at each call. */
export function commandsTo(bus: () => RedisBus, nodeId: string) {
  return <C extends Parameters<Request>[1]>(def: C, payload: Parameters<Request>[2]) =>
    bus().commands.request(nodeId, def, payload as never);
}

/**
 * Through bus commands only: peer `pub` produces VP8 (`ssrc`) on a comedia plain transport, peer
 * `sub` consumes it on a plain transport connected to a local RTP receiver. The consumer is left
 * paused, as Consume creates it.
 */
export async function plainRtpPair(call: ReturnType<typeof commandsTo>, roomId: string, ssrc: number) {
  const { rtpCapabilities } = await call(GetRouterCapabilities, { roomId });
  const ingest = await call(CreatePlainTransport, {
    roomId,
    peerId: 'pub',
    direction: 'send',
    comedia: true,
  });
  const { producerId } = await call(Produce, {
    roomId,
    peerId: 'pub',
    transportId: ingest.transportId,
    kind: 'video',
    rtpParameters: vp8Parameters(ssrc),
  });
  const receiver = await createRtpReceiver();
  const egress = await call(CreatePlainTransport, { roomId, peerId: 'sub', direction: 'recv' });
  await call(ConnectPlainTransport, {
    roomId,
    peerId: 'sub',
    transportId: egress.transportId,
    ip: '127.0.0.1',
    port: receiver.port,
  });
  const consumer = await call(Consume, {
    roomId,
    peerId: 'sub',
    transportId: egress.transportId,
    producerId,
    rtpCapabilities,
  });
  return { rtpCapabilities, ingest, producerId, receiver, egress, consumer };
}
