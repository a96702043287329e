import { TrellisError } from '@trellis/protocol';
import type { types } from 'mediasoup';
import { media } from './mediaErrors';
import type {
  ConsumeOptions,
  CreatePlainTransportOptions,
  CreateTransportOptions,
  ProduceOptions,
  TransportAppData,
} from './PeerTypes';
import type { RoomEvents, RoomRouter, RoomTransportSettings } from './RoomTypes';

/**
 * libwebrtc drops a keyframe request that comes within 300 ms of the last one it honoured
 * (EncoderRtcpFeedback's minimum keyframe send interval), and mediasoup re-asks only after 1 s: a
 * consumer that starts a moment after another (joiners, everyone after a re-home) waited ~1 s for
 * its first picture. With this delay mediasoup gathers the requests that follow one and sends them
 * as one, just late enough to be honoured. mediasoup gathers per stream (SSRC) while libwebrtc's
 * limit is per sender, so with simulcast a request for another layer can still wait the 1 s.
 */
const KEYFRAME_REQUEST_DELAY_MS = 350;

/** What a peer needs from its room; the Room implements it. */
export interface PeerContext {
  readonly roomId: string;
  readonly settings: RoomTransportSettings;
  notify<K extends keyof RoomEvents>(event: K, ...args: RoomEvents[K]): void;
  producerAdded(peer: Peer, producer: types.Producer): void;
  producerRemoved(producer: types.Producer): void;
  /** Makes `producerId` consumable on `router` (piping it from another router if need be). */
  prepareConsume(producerId: string, router: types.Router, producerNodeId?: string): Promise<types.Producer>;
  peerClosed(peer: Peer): void;
}

/**
 * A participant on this node: owns its WebRTC transports and what it produces and consumes on
 * them. Closing the peer closes its transports, which closes their producers and consumers
 * (mediasoup's own cascade), and the consumers other peers had of its producers.
 */
export class Peer {
  readonly id: string;
  readonly home: RoomRouter;
  readonly #ctx: PeerContext;
  readonly #transports = new Map<string, types.Transport<TransportAppData>>();
  readonly #producers = new Map<string, types.Producer>();
  readonly #consumers = new Map<string, types.Consumer>();
  #closing = false;
  /** Whether a transport was ever made: a peer with none yet is joining, not leaving. */
  #hadTransports = false;
  #closed = false;

  constructor(id: string, home: RoomRouter, ctx: PeerContext) {
    this.id = id;
    this.home = home;
    this.#ctx = ctx;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get producers(): ReadonlyMap<string, types.Producer> {
    return this.#producers;
  }

  get consumers(): ReadonlyMap<string, types.Consumer> {
    return this.#consumers;
  }

  get transports(): ReadonlyMap<string, types.Transport<TransportAppData>> {
    return this.#transports;
  }

  get hadTransports(): boolean {
    return this.#hadTransports;
  }

  async createWebRtcTransport(
    options: CreateTransportOptions,
  ): Promise<types.WebRtcTransport<TransportAppData>> {
    this.#assertOpen();
    const { settings } = this.#ctx;
    const transport = await media({ peerId: this.id }, () =>
      this.home.router.createWebRtcTransport<TransportAppData>({
        webRtcServer: this.home.handle.webRtcServer,
        enableUdp: true,
        // TCP is the fallback for networks that drop UDP; ICE prefers UDP unless asked otherwise.
        enableTcp: true,
        preferUdp: !options.preferTcp,
        preferTcp: options.preferTcp,
        enableSctp: options.enableSctp,
        initialAvailableOutgoingBitrate: settings.initialAvailableOutgoingBitrate,
        appData: { ...options.appData, direction: options.direction },
      }),
    );
    this.#adoptTransport(transport);
    if (options.direction === 'send') {
      // Caps what one client can push into the node, whatever its encoder believes.
      await transport.setMaxIncomingBitrate(settings.maxIncomingBitrate).catch(() => {});
    }
    let reason: 'dtls-failed' | 'ice-failed' | undefined;
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') {
        reason = 'dtls-failed';
        transport.close();
      }
    });
    transport.on('icestatechange', (state) => {
      // 'disconnected' recovers by itself (or by an ICE restart); only a closed ICE agent is final.
      if (state === 'closed') {
        reason = 'ice-failed';
        transport.close();
      }
    });
    transport.observer.once('close', () => {
      this.#ctx.notify('transportclose', this, transport, this.#closing ? 'peer-left' : (reason ?? 'closed'));
    });
    return transport;
  }

  async createPlainTransport(
    options: CreatePlainTransportOptions,
  ): Promise<types.PlainTransport<TransportAppData>> {
    this.#assertOpen();
    const { ip, announcedAddress } = this.home.handle.listen;
    const transport = await media({ peerId: this.id }, () =>
      this.home.router.createPlainTransport<TransportAppData>({
        // Plain transports take an ephemeral port: they serve a few server-side streams, not clients.
        listenInfo: { protocol: 'udp', ip, ...(announcedAddress === undefined ? {} : { announcedAddress }) },
        rtcpMux: options.rtcpMux,
        comedia: options.comedia,
        enableSrtp: options.enableSrtp,
        appData: { ...options.appData, direction: options.direction },
      }),
    );
    this.#adoptTransport(transport);
    transport.observer.once('close', () => {
      this.#ctx.notify('transportclose', this, transport, this.#closing ? 'peer-left' : 'closed');
    });
    return transport;
  }

  async connectTransport(transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const transport = this.#typed(transportId, 'webrtc');
    await media({ peerId: this.id, transportId }, () => transport.connect({ dtlsParameters }));
  }

  async connectPlainTransport(
    transportId: string,
    remote: {
      ip: string;
      port: number;
      rtcpPort?: number | undefined;
      srtpParameters?: types.SrtpParameters | undefined;
    },
  ): Promise<void> {
    const transport = this.#typed(transportId, 'plain');
    await media({ peerId: this.id, transportId }, () =>
      transport.connect({
        ip: remote.ip,
        port: remote.port,
        ...(remote.rtcpPort === undefined ? {} : { rtcpPort: remote.rtcpPort }),
        ...(remote.srtpParameters === undefined ? {} : { srtpParameters: remote.srtpParameters }),
      }),
    );
  }

  async restartIce(transportId: string): Promise<types.IceParameters> {
    const transport = this.#typed(transportId, 'webrtc');
    return media({ peerId: this.id, transportId }, () => transport.restartIce());
  }

  async produce(options: ProduceOptions): Promise<types.Producer> {
    const transport = this.transport(options.transportId);
    if (transport.appData.direction !== 'send') {
      throw new TrellisError('CONFLICT', 'cannot produce on a receive transport', {
        transportId: transport.id,
      });
    }
    const producer = await media({ peerId: this.id, transportId: transport.id }, () =>
      transport.produce({
        kind: options.kind,
        rtpParameters: options.rtpParameters,
        paused: options.paused,
        ...(options.kind === 'video' ? { keyFrameRequestDelay: KEYFRAME_REQUEST_DELAY_MS } : {}),
        appData: { ...options.appData, peerId: this.id },
      }),
    );
    this.#producers.set(producer.id, producer);
    producer.observer.once('close', () => {
      this.#producers.delete(producer.id);
      this.#ctx.producerRemoved(producer);
    });
    producer.on('transportclose', () => {
      this.#ctx.notify('producerclose', this, producer, this.#closing ? 'peer-left' : 'transport-closed');
    });
    this.#ctx.producerAdded(this, producer);
    return producer;
  }

  async closeProducer(producerId: string): Promise<void> {
    const producer = this.producer(producerId);
    producer.close();
    this.#ctx.notify('producerclose', this, producer, 'closed-by-peer');
  }

  async setProducerPaused(producerId: string, paused: boolean): Promise<types.Producer> {
    const producer = this.producer(producerId);
    if (producer.paused === paused) return producer;
    await media({ peerId: this.id, producerId }, () => (paused ? producer.pause() : producer.resume()));
    this.#ctx.notify(paused ? 'producerpause' : 'producerresume', this, producer);
    return producer;
  }

  async consume(options: ConsumeOptions): Promise<types.Consumer> {
    const transport = this.transport(options.transportId);
    if (transport.appData.direction !== 'recv') {
      throw new TrellisError('CONFLICT', 'cannot consume on a send transport', { transportId: transport.id });
    }
    if (this.#producers.has(options.producerId)) {
      throw new TrellisError('CANNOT_CONSUME', 'a peer does not consume its own producer', {
        producerId: options.producerId,
      });
    }
    const { router } = this.home;
    await this.#ctx.prepareConsume(options.producerId, router, options.producerNodeId);
    if (!router.canConsume({ producerId: options.producerId, rtpCapabilities: options.rtpCapabilities })) {
      throw new TrellisError('CANNOT_CONSUME', 'the device cannot decode this producer', {
        producerId: options.producerId,
        peerId: this.id,
      });
    }
    const consumer = await media({ peerId: this.id, producerId: options.producerId }, () =>
      transport.consume({
        producerId: options.producerId,
        rtpCapabilities: options.rtpCapabilities,
        // Paused until the client has its track ready and resumes: the first frame it gets is a keyframe.
        paused: true,
        ...(options.preferredLayers === undefined ? {} : { preferredLayers: options.preferredLayers }),
        appData: { ...options.appData, peerId: this.id },
      }),
    );
    this.#consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => this.#consumers.delete(consumer.id));
    consumer.on('producerclose', () => this.#ctx.notify('consumerclose', this, consumer, 'producer-closed'));
    consumer.on('transportclose', () =>
      this.#ctx.notify('consumerclose', this, consumer, 'transport-closed'),
    );
    consumer.on('layerschange', (layers) => this.#ctx.notify('consumerlayerschange', this, consumer, layers));
    consumer.on('score', (score) => this.#ctx.notify('consumerscore', this, consumer, score));
    return consumer;
  }

  async setConsumerPaused(consumerId: string, paused: boolean): Promise<types.Consumer> {
    const consumer = this.consumer(consumerId);
    await media({ peerId: this.id, consumerId }, () => (paused ? consumer.pause() : consumer.resume()));
    return consumer;
  }

  async setConsumerPreferences(
    consumerId: string,
    prefs: { preferredLayers?: types.ConsumerLayers | undefined; priority?: number | undefined },
  ): Promise<types.Consumer> {
    const consumer = this.consumer(consumerId);
    await media({ peerId: this.id, consumerId }, async () => {
      if (prefs.preferredLayers !== undefined) await consumer.setPreferredLayers(prefs.preferredLayers);
      if (prefs.priority !== undefined) await consumer.setPriority(prefs.priority);
    });
    return consumer;
  }

  transport(transportId: string): types.Transport<TransportAppData> {
    this.#assertOpen();
    const transport = this.#transports.get(transportId);
    if (!transport)
      throw new TrellisError('TRANSPORT_NOT_FOUND', 'no such transport for this peer', {
        transportId,
        peerId: this.id,
      });
    return transport;
  }

  producer(producerId: string): types.Producer {
    this.#assertOpen();
    const producer = this.#producers.get(producerId);
    if (!producer)
      throw new TrellisError('PRODUCER_NOT_FOUND', 'no such producer for this peer', {
        producerId,
        peerId: this.id,
      });
    return producer;
  }

  consumer(consumerId: string): types.Consumer {
    this.#assertOpen();
    const consumer = this.#consumers.get(consumerId);
    if (!consumer)
      throw new TrellisError('CONSUMER_NOT_FOUND', 'no such consumer for this peer', {
        consumerId,
        peerId: this.id,
      });
    return consumer;
  }

  /** Closes everything the peer owns and tells the room, which closes itself after its last peer. */
  close(): void {
    // Closing transports reports each one; a listener may ask to close the peer again meanwhile.
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    for (const transport of [...this.#transports.values()]) transport.close();
    this.#closed = true;
    this.#ctx.peerClosed(this);
  }

  #adoptTransport(transport: types.Transport<TransportAppData>): void {
    this.#hadTransports = true;
    this.#transports.set(transport.id, transport);
    transport.observer.once('close', () => this.#transports.delete(transport.id));
  }

  /** A transport of the kind a command needs: ICE/DTLS calls make no sense on plain RTP. */
  #typed<K extends 'webrtc' | 'plain'>(
    transportId: string,
    type: K,
  ): K extends 'webrtc' ? types.WebRtcTransport<TransportAppData> : types.PlainTransport<TransportAppData> {
    const transport = this.transport(transportId);
    if (transport.type !== type) {
      throw new TrellisError('CONFLICT', `transport is ${transport.type}, not ${type}`, {
        transportId,
        peerId: this.id,
      });
    }
    return transport as never;
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new TrellisError('PEER_NOT_FOUND', 'peer has left', {
        peerId: this.id,
        roomId: this.#ctx.roomId,
      });
  }
}
