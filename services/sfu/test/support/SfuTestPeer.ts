import { performance } from 'node:perf_hooks';
import type { CommandSender } from '@trellis/bus';
import {
  ClosePeer,
  CloseProducer,
  type CommandDef,
  ConnectTransport,
  Consume,
  type ConsumerLayers,
  CreateWebRtcTransport,
  GetRouterCapabilities,
  Produce,
  type ReplyOf,
  type RequestOf,
  ResumeConsumer,
  SetConsumerPreferences,
} from '@trellis/protocol';
import {
  type AudioDataCounter,
  countAudioData,
  countVideoFrames,
  createSyntheticAudioSource,
  createSyntheticVideoSource,
  createWrtcDevice,
  type SyntheticVideo,
  type VideoFrameCounter,
} from '@trellis/testkit/media';
import type { types as client, Device } from 'mediasoup-client';
import { createVoiceSource, type VoiceSource } from './voiceSource';

// Commands wait on a real process that may be busy encoding for other peers on a 2-core box.
const COMMAND_TIMEOUT_MS = 10_000;

/**
 * Three layers at 1/4, 1/2 and full size. The caps keep the sum (1.1 Mbps) well under the node's
 * default per-transport incoming cap (1.5 Mbps): with libwebrtc's own 720p targets (~3 Mbps) the
 * sender's estimate hovers under that cap and the top layer flickers on and off.
 */
const SIMULCAST_ENCODINGS: client.RtpEncodingParameters[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 100_000 },
  { scaleResolutionDownBy: 2, maxBitrate: 300_000 },
  { scaleResolutionDownBy: 1, maxBitrate: 700_000 },
];

export interface PublishedVideo {
  readonly producerId: string;
  readonly producer: client.Producer;
  readonly source: SyntheticVideo;
}

export interface PublishedAudio {
  readonly producerId: string;
  readonly producer: client.Producer;
}

export interface PublishedVoice extends PublishedAudio {
  readonly source: VoiceSource;
}

interface ConsumedBase {
  readonly consumerId: string;
  readonly producerId: string;
  readonly type: ReplyOf<typeof Consume>['type'];
  /** What the Consume reply said: the contract creates consumers paused. */
  readonly createdPaused: boolean;
  readonly consumer: client.Consumer;
  /** performance.now() just before ResumeConsumer was sent: first-frame latency is measured from it. */
  readonly resumedAt: number;
}
export interface ConsumedVideo extends ConsumedBase {
  readonly kind: 'video';
  readonly frames: VideoFrameCounter;
}
export interface ConsumedAudio extends ConsumedBase {
  readonly kind: 'audio';
  readonly audio: AudioDataCounter;
}
export type Consumed = ConsumedVideo | ConsumedAudio;

/**
 * One participant: a mediasoup-client Device on libwebrtc (wrtc) with a send and a recv transport,
 * where every server-side step is a bus command to the sfu node, as signaling would send it.
 */
export class SfuTestPeer {
  readonly roomId: string;
  readonly peerId: string;
  readonly device: Device;
  readonly sendTransport: client.Transport;
  readonly recvTransport: client.Transport;
  readonly #commands: CommandSender;
  readonly #nodeId: string;
  // Everything local this peer made, released by close() whatever state a failed test left it in.
  readonly #sources: Array<{ stop(): void }> = [];
  readonly #producers = new Map<string, client.Producer>();
  readonly #consumers = new Map<string, Consumed>();
  #closed = false;

  private constructor(init: {
    commands: CommandSender;
    nodeId: string;
    roomId: string;
    peerId: string;
    device: Device;
    send: client.Transport;
    recv: client.Transport;
  }) {
    this.#commands = init.commands;
    this.#nodeId = init.nodeId;
    this.roomId = init.roomId;
    this.peerId = init.peerId;
    this.device = init.device;
    this.sendTransport = init.send;
    this.recvTransport = init.recv;
  }

  static async join(opts: {
    bus: { commands: CommandSender };
    nodeId: string;
    roomId: string;
    peerId: string;
  }): Promise<SfuTestPeer> {
    const { bus, nodeId, roomId, peerId } = opts;
    const request = <C extends CommandDef>(def: C, payload: RequestOf<C>) =>
      bus.commands.request(nodeId, def, payload, { timeoutMs: COMMAND_TIMEOUT_MS });
    const { rtpCapabilities } = await request(GetRouterCapabilities, { roomId });
    const device = await createWrtcDevice(rtpCapabilities as client.RtpCapabilities);
    const transports: client.Transport[] = [];
    try {
      for (const direction of ['send', 'recv'] as const) {
        const created = await request(CreateWebRtcTransport, { roomId, peerId, direction });
        // The bus schemas are looser than mediasoup-client's unions (string vs literal types).
        const options = {
          id: created.transportId,
          iceParameters: created.iceParameters,
          iceCandidates: created.iceCandidates,
          dtlsParameters: created.dtlsParameters,
        } as client.TransportOptions;
        const transport =
          direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
        transports.push(transport);
        // mediasoup-client asks for the DTLS connect on first use: the first produce on the send
        // transport, the first consume on the recv one (so Consume legitimately precedes Connect).
        transport.on('connect', ({ dtlsParameters }, callback, errback) => {
          request(ConnectTransport, { roomId, peerId, transportId: transport.id, dtlsParameters }).then(
            () => callback(),
            errback,
          );
        });
        if (direction === 'send') {
          transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
            request(Produce, {
              roomId,
              peerId,
              transportId: transport.id,
              kind,
              rtpParameters: rtpParameters as RequestOf<typeof Produce>['rtpParameters'],
              appData,
            }).then(({ producerId }) => callback({ id: producerId }), errback);
          });
        }
      }
    } catch (error) {
      for (const transport of transports) transport.close();
      throw error;
    }
    const [send, recv] = transports as [client.Transport, client.Transport];
    return new SfuTestPeer({ commands: bus.commands, nodeId, roomId, peerId, device, send, recv });
  }

  /** Real VP8 from synthetic frames; with `simulcast`, three layers (use 1280x720: at 640x360 libwebrtc sends two). */
  async publishVideo(
    opts: { width?: number; height?: number; fps?: number; simulcast?: boolean } = {},
  ): Promise<PublishedVideo> {
    const { width = 320, height = 180, fps = 30, simulcast = false } = opts;
    const source = createSyntheticVideoSource({ width, height, fps });
    this.#sources.push(source);
    const producer = await this.sendTransport.produce({
      track: source.track,
      codec: this.device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === 'video/vp8'),
      ...(simulcast
        ? // Starting the send-side estimate at 1 Mbps sends all three layers from the first second.
          { encodings: SIMULCAST_ENCODINGS, codecOptions: { videoGoogleStartBitrate: 1000 } }
        : {}),
    });
    this.#producers.set(producer.id, producer);
    return { producerId: producer.id, producer, source };
  }

  /** Real Opus of a steady sine tone (amplitude 0: silence). */
  async publishAudio(opts: { amplitude?: number; frequencyHz?: number } = {}): Promise<PublishedAudio> {
    const { amplitude = 0.3, frequencyHz = 440 } = opts;
    const source = createSyntheticAudioSource({ amplitude, frequencyHz });
    this.#sources.push(source);
    const producer = await this.sendTransport.produce({ track: source.track });
    this.#producers.set(producer.id, producer);
    return { producerId: producer.id, producer };
  }

  /** Opus of speech-like audio that can start and stop talking: what active-speaker detection needs. */
  async publishVoice(opts: { talking: boolean }): Promise<PublishedVoice> {
    const source = createVoiceSource(opts);
    this.#sources.push(source);
    const producer = await this.sendTransport.produce({ track: source.track });
    this.#producers.set(producer.id, producer);
    return { producerId: producer.id, producer, source };
  }

  /** Consume (created paused) → local consumer with a frame/sample counter → ResumeConsumer. */
  async consume(
    producerId: string,
    opts: { preferredLayers?: ConsumerLayers; producerNodeId?: string } = {},
  ): Promise<Consumed> {
    const reply = await this.#request(Consume, {
      roomId: this.roomId,
      peerId: this.peerId,
      transportId: this.recvTransport.id,
      producerId,
      rtpCapabilities: this.device.rtpCapabilities as RequestOf<typeof Consume>['rtpCapabilities'],
      ...(opts.preferredLayers ? { preferredLayers: opts.preferredLayers } : {}),
      // A producer on another node of the call: this node pipes it in first.
      ...(opts.producerNodeId ? { producerNodeId: opts.producerNodeId } : {}),
    });
    const consumer = await this.recvTransport.consume({
      id: reply.consumerId,
      producerId,
      kind: reply.kind,
      rtpParameters: reply.rtpParameters as client.RtpParameters,
    });
    const base = {
      consumerId: reply.consumerId,
      producerId,
      type: reply.type,
      createdPaused: reply.paused,
      consumer,
      resumedAt: performance.now(),
    };
    // The sink is attached before resuming, so the very first decoded frame is counted.
    const consumed: Consumed =
      reply.kind === 'video'
        ? { ...base, kind: 'video', frames: countVideoFrames(consumer.track) }
        : { ...base, kind: 'audio', audio: countAudioData(consumer.track) };
    this.#consumers.set(consumed.consumerId, consumed);
    await this.#request(ResumeConsumer, {
      roomId: this.roomId,
      peerId: this.peerId,
      consumerId: reply.consumerId,
    });
    return consumed;
  }

  async consumeVideo(
    producerId: string,
    opts: { preferredLayers?: ConsumerLayers; producerNodeId?: string } = {},
  ) {
    const consumed = await this.consume(producerId, opts);
    if (consumed.kind !== 'video') throw new Error(`producer ${producerId} is ${consumed.kind}, not video`);
    return consumed;
  }

  async consumeAudio(producerId: string) {
    const consumed = await this.consume(producerId);
    if (consumed.kind !== 'audio') throw new Error(`producer ${producerId} is ${consumed.kind}, not audio`);
    return consumed;
  }

  setPreferredLayers(consumerId: string, preferredLayers: ConsumerLayers) {
    return this.#request(SetConsumerPreferences, {
      roomId: this.roomId,
      peerId: this.peerId,
      consumerId,
      preferredLayers,
    });
  }

  /** Stops sending locally, then tells the node (which closes the consumers fed by it). */
  async closeProducer(producerId: string): Promise<void> {
    this.#producers.get(producerId)?.close();
    this.#producers.delete(producerId);
    await this.#request(CloseProducer, { roomId: this.roomId, peerId: this.peerId, producerId });
  }

  /** Leaves the room on the node (ClosePeer), then releases everything local. */
  async leave(): Promise<boolean> {
    const { closed } = await this.#request(ClosePeer, { roomId: this.roomId, peerId: this.peerId });
    this.close();
    return closed;
  }

  /** Releases everything local (sinks, tracks, peer connections); the node's side is left to leave(). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const consumed of this.#consumers.values()) {
      if (consumed.kind === 'video') consumed.frames.stop();
      else consumed.audio.stop();
      consumed.consumer.close();
    }
    for (const producer of this.#producers.values()) producer.close();
    for (const source of this.#sources) source.stop();
    this.sendTransport.close();
    this.recvTransport.close();
  }

  #request<C extends CommandDef>(def: C, payload: RequestOf<C>): Promise<ReplyOf<C>> {
    return this.#commands.request(this.#nodeId, def, payload, { timeoutMs: COMMAND_TIMEOUT_MS });
  }
}
