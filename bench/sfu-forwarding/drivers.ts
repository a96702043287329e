// One topology, two ways to build it: (a) bare mediasoup in this process, (b) a Trellis sfu process
// commanded over the bus. Both create the same objects: a comedia PlainTransport and two producers per
// publisher; a connected recv PlainTransport per subscriber with a paused consumer per producer, then
// resumed (the order a Trellis client follows).
import type { RedisBus } from '@trellis/bus';
import {
  ClosePeer,
  type CommandDef,
  ConnectPlainTransport,
  Consume,
  CreatePlainTransport,
  GetRouterCapabilities,
  Produce,
  type RequestOf,
  ResumeConsumer,
} from '@trellis/protocol';
import type { types } from 'mediasoup';
import { ROUTER_MEDIA_CODECS } from '../../services/sfu/src/codecs';
import type { CapturedStream } from './media';
import { mapLimit } from './util';

export interface Remote {
  ip: string;
  port: number;
}

export interface ProducedMedia {
  remote: Remote;
  producerIds: { video: string; audio: string };
}

export interface DriverRoom {
  readonly roomId: string;
  addPublisher(peerId: string, ssrcs: { video: number; audio: number }): Promise<ProducedMedia>;
  /**
   * Consumes every producer into a transport sending to `remote`, paused; tells `onConsumer` each
   * consumer's SSRC, then resumes them all.
   */
  addSubscriber(
    peerId: string,
    remote: Remote,
    producerIds: readonly string[],
    onConsumer?: (producerId: string, ssrc: number) => void,
  ): Promise<void>;
  close(): Promise<void>;
}

export interface SfuDriver {
  readonly name: 'bare-mediasoup' | 'trellis-sfu';
  createRoom(roomId: string): Promise<DriverRoom>;
  /** The mediasoup worker processes whose CPU is measured. */
  workerPids(): Promise<number[]>;
  /** Other processes of the SFU (Trellis's Node process), reported but not charged per packet. */
  readonly sidePids: readonly number[];
}

/** Parallel commands while setting up one subscriber (and across subscribers). */
const SETUP_CONCURRENCY = 16;

export function producerParameters(stream: CapturedStream, ssrc: number): types.RtpParameters {
  return {
    codecs: [
      {
        mimeType: stream.mimeType,
        payloadType: stream.payloadType,
        clockRate: stream.clockRate,
        ...(stream.channels === undefined ? {} : { channels: stream.channels }),
        parameters: stream.kind === 'audio' ? { useinbandfec: 1 } : {},
        rtcpFeedback: [],
      },
    ],
    encodings: [{ ssrc }],
  };
}

type Streams = { video: CapturedStream; audio: CapturedStream };

/** (a) mediasoup's own API on one worker of this process, routers with Trellis's codecs. */
export class BareDriver implements SfuDriver {
  readonly name = 'bare-mediasoup' as const;
  readonly sidePids: readonly number[] = [];
  readonly #worker: types.Worker;
  readonly #streams: Streams;

  constructor(worker: types.Worker, streams: Streams) {
    this.#worker = worker;
    this.#streams = streams;
  }

  async workerPids(): Promise<number[]> {
    return [this.#worker.pid];
  }

  async createRoom(roomId: string): Promise<DriverRoom> {
    const router = await this.#worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
    const streams = this.#streams;
    const plain = (comedia: boolean) =>
      router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
        rtcpMux: true,
        comedia,
      });
    return {
      roomId,
      async addPublisher(_peerId, ssrcs) {
        const transport = await plain(true);
        const [video, audio] = await Promise.all([
          transport.produce({ kind: 'video', rtpParameters: producerParameters(streams.video, ssrcs.video) }),
          transport.produce({ kind: 'audio', rtpParameters: producerParameters(streams.audio, ssrcs.audio) }),
        ]);
        return {
          remote: { ip: transport.tuple.localAddress, port: transport.tuple.localPort },
          producerIds: { video: video.id, audio: audio.id },
        };
      },
      async addSubscriber(_peerId, remote, producerIds, onConsumer) {
        const transport = await plain(false);
        await transport.connect({ ip: remote.ip, port: remote.port });
        const consumers = await mapLimit(producerIds, SETUP_CONCURRENCY, (producerId) =>
          transport.consume({ producerId, rtpCapabilities: router.rtpCapabilities, paused: true }),
        );
        for (const c of consumers) onConsumer?.(c.producerId, c.rtpParameters.encodings![0]!.ssrc!);
        await mapLimit(consumers, SETUP_CONCURRENCY, (c) => c.resume());
      },
      async close() {
        router.close();
      },
    };
  }
}

/** (b) the Trellis sfu process: every object made through bus commands, as a client would. */
export class TrellisDriver implements SfuDriver {
  readonly name = 'trellis-sfu' as const;
  readonly sidePids: readonly number[];
  readonly #bus: RedisBus;
  readonly #nodeId: string;
  readonly #streams: Streams;

  constructor(bus: RedisBus, nodeId: string, nodePid: number, streams: Streams) {
    this.#bus = bus;
    this.#nodeId = nodeId;
    this.sidePids = [nodePid];
    this.#streams = streams;
  }

  async workerPids(): Promise<number[]> {
    const info = await this.#bus.registry.get(this.#nodeId);
    if (!info?.workers?.length) throw new Error(`no registry entry with workers for ${this.#nodeId}`);
    return info.workers.map((w) => w.pid);
  }

  async createRoom(roomId: string): Promise<DriverRoom> {
    const request = <C extends CommandDef>(def: C, payload: RequestOf<C>) =>
      this.#bus.commands.request(this.#nodeId, def, payload);
    const { rtpCapabilities } = await request(GetRouterCapabilities, { roomId });
    const streams = this.#streams;
    const peers = new Set<string>();
    const plain = async (peerId: string, direction: 'send' | 'recv') => {
      peers.add(peerId);
      return request(CreatePlainTransport, {
        roomId,
        peerId,
        direction,
        comedia: direction === 'send',
        rtcpMux: true,
        enableSrtp: false,
      });
    };
    return {
      roomId,
      async addPublisher(peerId, ssrcs) {
        const transport = await plain(peerId, 'send');
        const produce = (kind: 'video' | 'audio', ssrc: number) =>
          request(Produce, {
            roomId,
            peerId,
            transportId: transport.transportId,
            kind,
            rtpParameters: producerParameters(streams[kind], ssrc) as never,
            paused: false,
          });
        const [video, audio] = await Promise.all([
          produce('video', ssrcs.video),
          produce('audio', ssrcs.audio),
        ]);
        return {
          remote: { ip: transport.ip, port: transport.port },
          producerIds: { video: video.producerId, audio: audio.producerId },
        };
      },
      async addSubscriber(peerId, remote, producerIds, onConsumer) {
        const transport = await plain(peerId, 'recv');
        const { transportId } = transport;
        await request(ConnectPlainTransport, {
          roomId,
          peerId,
          transportId,
          ip: remote.ip,
          port: remote.port,
        });
        const consumers = await mapLimit(producerIds, SETUP_CONCURRENCY, (producerId) =>
          request(Consume, { roomId, peerId, transportId, producerId, rtpCapabilities }),
        );
        for (const c of consumers) onConsumer?.(c.producerId, Number(c.rtpParameters.encodings?.[0]?.ssrc));
        await mapLimit(consumers, SETUP_CONCURRENCY, (c) =>
          request(ResumeConsumer, { roomId, peerId, consumerId: c.consumerId }),
        );
      },
      async close() {
        await mapLimit([...peers], SETUP_CONCURRENCY, (peerId) => request(ClosePeer, { roomId, peerId }));
      },
    };
  }
}
