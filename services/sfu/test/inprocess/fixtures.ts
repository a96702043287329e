import { Writable } from 'node:stream';
import { createLogger } from '@trellis/telemetry';
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
