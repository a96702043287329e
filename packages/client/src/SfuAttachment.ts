import { Api } from '@trellis/protocol';
import type { Device, types as msc } from 'mediasoup-client';
import type { TrellisLogger } from './Logger';
import type { SfuAttachmentEvents, SfuRemoteTrack, VideoCodecPreference } from './SfuSessionTypes';
import type { ApiRequestFn } from './SignalingClientTypes';
import { receiverStats, sharedStats } from './statsSources';
import { TrellisClientError } from './TrellisClientError';
import { TypedEmitter } from './TypedEmitter';

interface AttachmentOptions {
  roomId: string;
  device: Device;
  request: ApiRequestFn;
  iceServers?: RTCIceServer[];
  /** Camera video is sent as three simulcast layers (receivers pick one per tile size). */
  simulcast?: boolean;
  videoCodec?: VideoCodecPreference;
  logger: TrellisLogger;
}

/** ICE restarts tried on a failed transport before it is reported failed (then rehome decides). */
const MAX_ICE_RESTARTS = 2;

/**
 * Three layers at 1/4, 1/2 and full resolution: a small tile takes the 1/4 layer (~150 kbps), a
 * focused one the full. Highest layer first dropped by libwebrtc when the input is small.
 */
const SIMULCAST: RTCRtpEncodingParameters[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/**
 * AV1 goes as one stream with three temporal layers, not simulcast or spatial SVC: mediasoup
 * refuses AV1 simulcast, and it reads AV1's layers from the Dependency Descriptor without
 * forwarding it, so a receiver's libwebrtc can't assemble several spatial layers (an L3T3 stream
 * never decoded in Chromium). Every receiver gets the full picture; AV1's efficiency keeps it near
 * the bitrate of VP8's middle layer, and a small tile can still drop temporal layers.
 */
const AV1_ENCODING: RTCRtpEncodingParameters & { scalabilityMode: string } = {
  scalabilityMode: 'L1T3',
  maxBitrate: 900_000,
};

const DEPENDENCY_DESCRIPTOR =
  'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension';

/**
 * The AV1 codec to send with, when the router offers AV1 and this browser can send it *with* the
 * Dependency Descriptor. mediasoup finds AV1 key frames and layers only through the DD: a sender
 * without it (node-webrtc, older browsers) reaches the producer but no consumer ever gets a packet.
 */
export function av1Codec(device: Device): msc.RtpCodecCapability | undefined {
  const send = device.sendRtpCapabilities;
  const hasDd = send.headerExtensions?.some((h) => h.kind === 'video' && h.uri === DEPENDENCY_DESCRIPTOR);
  if (!hasDd) return undefined;
  return send.codecs?.find((c) => c.mimeType.toLowerCase() === 'video/av1');
}

/**
 * One attachment to an SFU node: a loaded Device's send and recv transports with their producers
 * and consumers. Rehoming builds a new attachment (transports land on the new node) before the old
 * one is closed; closing cascades to every producer and consumer.
 */
export class SfuAttachment extends TypedEmitter<SfuAttachmentEvents> {
  readonly device: Device;
  readonly #o: AttachmentOptions;
  #send: msc.Transport | undefined;
  #recv: msc.Transport | undefined;
  #recvStats: (() => Promise<RTCStatsReport>) | undefined;
  readonly #producers = new Map<string, msc.Producer>();
  readonly #consumers = new Map<string, { consumer: msc.Consumer; remote: SfuRemoteTrack }>();
  readonly #prefs = new Map<string, { paused: boolean; spatialLayer: number; priority: number }>();
  readonly #iceRestarts = new Map<string, number>();
  #nodeId: string | undefined;
  #closed = false;

  constructor(options: AttachmentOptions) {
    super();
    this.#o = options;
    this.device = options.device;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The SFU node the transports live on. */
  get nodeId(): string | undefined {
    return this.#nodeId;
  }

  get producerIds(): string[] {
    return [...this.#producers.keys()];
  }

  get remoteTracks(): SfuRemoteTrack[] {
    return [...this.#consumers.values()].map((c) => c.remote);
  }

  /** The local tracks published here. */
  get publishedTracks(): MediaStreamTrack[] {
    return [...this.#producers.values()].flatMap((p) => (p.track ? [p.track] : []));
  }

  hasConsumerFor(producerId: string): boolean {
    return [...this.#consumers.values()].some((c) => c.remote.producerId === producerId);
  }

  /** Creates the recv transport, and the send transport when there is something to publish. */
  async createTransports(publish: boolean): Promise<void> {
    const [send, recv] = await Promise.all([
      publish ? this.#createTransport('send') : Promise.resolve(undefined),
      this.#createTransport('recv'),
    ]);
    this.#send = send;
    this.#recv = recv;
    this.#recvStats = sharedStats(() => recv.getStats());
  }

  async publish(track: MediaStreamTrack, screen = false): Promise<msc.Producer> {
    const transport = this.#send;
    if (!transport || this.#closed)
      throw new TrellisClientError('INVALID_STATE', 'no send transport to publish on');
    // stopTracks false: the same track feeds the P2P connection and outlives every SFU attachment.
    // A screen share is one layer: text must stay sharp, and it is watched large.
    const simulcast = track.kind === 'video' && !screen && this.#o.simulcast !== false;
    const source = screen ? 'screen' : track.kind === 'audio' ? 'microphone' : 'camera';
    const av1 = track.kind === 'video' && this.#o.videoCodec === 'av1' ? av1Codec(this.device) : undefined;
    // Without an explicit codec mediasoup-client takes the router's first video codec, VP8.
    const encodings = av1 ? [{ ...AV1_ENCODING }] : simulcast ? SIMULCAST.map((e) => ({ ...e })) : undefined;
    const producer = await transport.produce({
      track,
      stopTracks: false,
      // The track is the application's: a device switch replaces it, pause must not disable it.
      disableTrackOnPause: false,
      ...(encodings ? { encodings } : {}),
      ...(av1 ? { codec: av1 } : {}),
      appData: { trackId: track.id, source },
    });
    if (this.#closed) {
      producer.close();
      throw new TrellisClientError('CLOSED', 'the SFU attachment closed while publishing');
    }
    this.#producers.set(producer.id, producer);
    producer.observer.once('close', () => this.#producers.delete(producer.id));
    return producer;
  }

  /** Sends `track` on the producer of its kind instead of the current one (a device switch). */
  async replaceTrack(kind: 'audio' | 'video', track: MediaStreamTrack | null): Promise<boolean> {
    const producer = [...this.#producers.values()].find(
      (p) => p.kind === kind && p.appData.source !== 'screen',
    );
    if (!producer) return false;
    await producer.replaceTrack({ track });
    return true;
  }

  /**
   * Receive preferences of one consumer: paused (an off-page tile) and the simulcast layer that fits
   * its tile. Only sent when something changed.
   */
  async setConsumerPreferences(
    consumerId: string,
    prefs: { paused: boolean; spatialLayer: number; priority: number },
  ): Promise<void> {
    const entry = this.#consumers.get(consumerId);
    if (!entry || this.#closed) return;
    // mediasoup's defaults (top layer, resumed) need no request.
    const last = this.#prefs.get(consumerId) ?? { paused: false, spatialLayer: 2, priority: 100 };
    const kind = entry.consumer.kind;
    const layersChanged =
      kind === 'video' && (last.spatialLayer !== prefs.spatialLayer || last.priority !== prefs.priority);
    const pausedChanged = last.paused !== prefs.paused;
    if (!layersChanged && !pausedChanged) return;
    this.#prefs.set(consumerId, prefs);
    await this.#o.request(Api.SetConsumerPreferences, {
      roomId: this.#o.roomId,
      consumerId,
      ...(pausedChanged ? { paused: prefs.paused } : {}),
      ...(layersChanged
        ? { preferredLayers: { spatialLayer: prefs.spatialLayer }, priority: prefs.priority }
        : {}),
    });
  }

  /** Our screen share's producer, if any. */
  get screenProducer(): msc.Producer | undefined {
    return [...this.#producers.values()].find((p) => p.appData.source === 'screen');
  }

  /** Closes one of our producers locally (the server closed it, or it was replaced). */
  closeProducer(producerId: string): void {
    this.#producers.get(producerId)?.close();
  }

  /**
   * Consumes a producer: the server creates the consumer paused, the local consumer is made, then
   * the server resumes it (so the first key frame is not spent before the track exists).
   */
  async consume(info: Api.ProducerInfo): Promise<SfuRemoteTrack> {
    const transport = this.#recv;
    if (!transport || this.#closed)
      throw new TrellisClientError('INVALID_STATE', 'no recv transport to consume on');
    const reply = await this.#o.request(Api.ConsumeProducer, {
      roomId: this.#o.roomId,
      transportId: transport.id,
      producerId: info.id,
      rtpCapabilities: this.device.rtpCapabilities as Api.ApiRequestOf<
        typeof Api.ConsumeProducer
      >['rtpCapabilities'],
    });
    if (this.#closed) throw new TrellisClientError('CLOSED', 'the SFU attachment closed while consuming');
    const consumer = await transport.consume({
      id: reply.consumerId,
      producerId: reply.producerId,
      kind: reply.kind,
      rtpParameters: reply.rtpParameters as msc.RtpParameters,
      appData: { participantId: reply.participantId },
    });
    const remote: SfuRemoteTrack = {
      participantId: reply.participantId,
      producerId: reply.producerId,
      consumerId: consumer.id,
      kind: reply.kind,
      screen: info.appData?.source === 'screen',
      track: consumer.track,
      getStats: receiverStats(() => consumer.getStats(), this.#recvStats ?? (() => transport.getStats())),
    };
    this.#consumers.set(consumer.id, { consumer, remote });
    consumer.observer.once('close', () => {
      this.#consumers.delete(consumer.id);
      this.#prefs.delete(consumer.id);
      this.safeEmit('consumer-closed', remote);
    });
    if (this.#closed) {
      consumer.close();
      throw new TrellisClientError('CLOSED', 'the SFU attachment closed while consuming');
    }
    try {
      await this.#o.request(Api.ResumeConsumer, { roomId: this.#o.roomId, consumerId: consumer.id });
    } catch (error) {
      consumer.close();
      throw error;
    }
    return remote;
  }

  /** Closes the consumers of `producerId` (its producer closed). */
  closeConsumersOf(producerId: string): void {
    for (const { consumer, remote } of [...this.#consumers.values()]) {
      if (remote.producerId === producerId) consumer.close();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Consumers first, so each is reported closed; transport.close() would close them silently.
    for (const { consumer } of [...this.#consumers.values()]) consumer.close();
    for (const producer of [...this.#producers.values()]) producer.close();
    this.#send?.close();
    this.#recv?.close();
    this.safeEmit('@close');
    this.removeAllListeners();
  }

  /** A failed transport gets new ICE credentials (a network change); after two tries it is reported. */
  async #restartIce(transport: msc.Transport, direction: 'send' | 'recv'): Promise<void> {
    const attempts = this.#iceRestarts.get(transport.id) ?? 0;
    if (attempts >= MAX_ICE_RESTARTS) {
      this.safeEmit('transport-failed', { direction });
      return;
    }
    this.#iceRestarts.set(transport.id, attempts + 1);
    this.#o.logger.info('sfu transport failed: restarting ICE', { direction, attempt: attempts + 1 });
    try {
      const { iceParameters } = await this.#o.request(Api.RestartIce, {
        roomId: this.#o.roomId,
        transportId: transport.id,
      });
      if (this.#closed || transport.closed) return;
      await transport.restartIce({ iceParameters: iceParameters as msc.IceParameters });
    } catch (error) {
      if (this.#closed) return;
      this.#o.logger.warn('ICE restart failed', { direction, error: String(error) });
      this.safeEmit('transport-failed', { direction });
    }
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<msc.Transport> {
    const { roomId, request, logger } = this.#o;
    const reply = await request(Api.CreateTransport, { roomId, direction });
    if (this.#closed)
      throw new TrellisClientError('CLOSED', 'the SFU attachment closed while creating transports');
    this.#nodeId = reply.nodeId;
    const options: msc.TransportOptions = {
      id: reply.transportId,
      iceParameters: reply.iceParameters as msc.IceParameters,
      iceCandidates: reply.iceCandidates as msc.IceCandidate[],
      dtlsParameters: reply.dtlsParameters as msc.DtlsParameters,
      ...(this.#o.iceServers ? { iceServers: this.#o.iceServers } : {}),
      appData: { nodeId: reply.nodeId },
    };
    const transport =
      direction === 'send'
        ? this.device.createSendTransport(options)
        : this.device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      request(Api.ConnectTransport, {
        roomId,
        transportId: transport.id,
        dtlsParameters: dtlsParameters as Api.ApiRequestOf<typeof Api.ConnectTransport>['dtlsParameters'],
      }).then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        request(Api.Produce, {
          roomId,
          transportId: transport.id,
          kind,
          rtpParameters: rtpParameters as Api.ApiRequestOf<typeof Api.Produce>['rtpParameters'],
          appData,
        }).then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    transport.on('connectionstatechange', (state) => {
      logger.debug('sfu transport state', { direction, state, transportId: transport.id });
      if (state === 'connected') this.#iceRestarts.delete(transport.id);
      if (state === 'failed' && !this.#closed) void this.#restartIce(transport, direction);
    });
    return transport;
  }
}
