import type { RedisBus } from '@trellis/bus';
import {
  ConnectPlainTransport,
  Consume,
  CreatePlainTransport,
  GetRouterCapabilities,
  Produce,
  ResumeConsumer,
} from '@trellis/protocol';
import {
  buildRtpPacket,
  createRtpReceiver,
  openUdpSocket,
  type RtpReceiver,
  vp8Payload,
} from '@trellis/testkit/media';
import { VP8_PT, vp8Parameters } from '../inprocess/fixtures';

/**
 * Plain-RTP participants of cluster tests, set up through bus commands on real sfu processes: a
 * publisher that streams VP8 RTP until stopped, subscribers whose receivers time every packet.
 */
export class PlainCall {
  readonly receivers: RtpReceiver[] = [];
  readonly #arrivals = new Map<RtpReceiver, number[]>();

  constructor(
    private readonly bus: RedisBus,
    readonly roomId: string,
  ) {}

  #on<C extends Parameters<RedisBus['commands']['request']>[1]>(nodeId: string, def: C, payload: object) {
    return this.bus.commands.request(nodeId, def, payload as never, { timeoutMs: 10_000 });
  }

  async publish(nodeId: string, peerId: string, ssrc: number) {
    const ingest = await this.#on(nodeId, CreatePlainTransport, {
      roomId: this.roomId,
      peerId,
      direction: 'send',
      comedia: true,
    });
    const { producerId } = await this.#on(nodeId, Produce, {
      roomId: this.roomId,
      peerId,
      transportId: ingest.transportId,
      kind: 'video',
      rtpParameters: vp8Parameters(ssrc),
    });
    const socket = await openUdpSocket();
    let seq = 0;
    const payload = vp8Payload();
    // 200 packets/s, paced by a timer: the stream goes on while the test kills and drains nodes.
    const timer = setInterval(() => {
      for (let i = 0; i < 2; i++) {
        const packet = buildRtpPacket({
          payloadType: VP8_PT,
          ssrc,
          marker: true,
          sequenceNumber: seq & 0xffff,
          timestamp: seq * 900,
          payload,
        });
        seq++;
        socket.send(packet, ingest.port, ingest.ip);
      }
    }, 10);
    return {
      producerId,
      nodeId,
      stop: () => {
        clearInterval(timer);
        socket.close();
      },
    };
  }

  async subscribe(nodeId: string, peerId: string, producer: { producerId: string; nodeId: string }) {
    const { rtpCapabilities } = await this.#on(nodeId, GetRouterCapabilities, { roomId: this.roomId });
    const receiver = await createRtpReceiver();
    this.receivers.push(receiver);
    const arrivals: number[] = [];
    this.#arrivals.set(receiver, arrivals);
    const t = await this.#on(nodeId, CreatePlainTransport, {
      roomId: this.roomId,
      peerId,
      direction: 'recv',
    });
    await this.#on(nodeId, ConnectPlainTransport, {
      roomId: this.roomId,
      peerId,
      transportId: t.transportId,
      ip: '127.0.0.1',
      port: receiver.port,
    });
    const consumer = await this.#on(nodeId, Consume, {
      roomId: this.roomId,
      peerId,
      transportId: t.transportId,
      producerId: producer.producerId,
      rtpCapabilities,
      producerNodeId: producer.nodeId,
    });
    await this.#on(nodeId, ResumeConsumer, { roomId: this.roomId, peerId, consumerId: consumer.consumerId });
    const ssrc = consumer.rtpParameters.encodings![0]!.ssrc!;
    const poll = setInterval(() => {
      // Arrival times of this consumer's packets, sampled finely enough to see a 200 ms gap.
      const count = receiver.countBySsrc(ssrc);
      while (arrivals.length < count) arrivals.push(Date.now());
    }, 5);
    return {
      receiver,
      consumerId: consumer.consumerId,
      count: () => receiver.countBySsrc(ssrc),
      /** Longest silence between packets after `since` (ms since epoch). */
      longestGapSince: (since: number) => {
        const times = [since, ...arrivals.filter((t) => t > since)];
        let gap = 0;
        for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
        return gap;
      },
      stop: () => clearInterval(poll),
    };
  }

  async close(): Promise<void> {
    for (const r of this.receivers) await r.close();
  }
}
