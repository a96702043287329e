import type { Api } from '@trellis/protocol';
import type { startTestWorker } from '@trellis/testkit/media';
import type { ApiRequestFn } from '../src/SignalingClientTypes';

// mediasoup is testkit's dependency, not this package's: its types are reached through testkit's API.
export type Worker = Awaited<ReturnType<typeof startTestWorker>>;
export type Router = Awaited<ReturnType<Worker['createRouter']>>;
type WebRtcTransport = Awaited<ReturnType<Router['createWebRtcTransport']>>;
type Producer = Awaited<ReturnType<WebRtcTransport['produce']>>;
type Consumer = Awaited<ReturnType<WebRtcTransport['consume']>>;
type ConnectParams = Parameters<WebRtcTransport['connect']>[0];
type ProduceParams = Parameters<WebRtcTransport['produce']>[0];
type ConsumeParams = Parameters<WebRtcTransport['consume']>[0];

/**
 * Plays the signaling server for SfuSession tests: answers the SFU requests of one participant by
 * calling an in-process mediasoup Router, and tells the test about producers opening and closing
 * (what signaling would announce as `new-producer` / `producer-closed`).
 */
export class MediasoupRoom {
  readonly producers = new Map<string, { producer: Producer; info: Api.ProducerInfo }>();
  readonly #transports = new Map<string, { transport: WebRtcTransport; participantId: string }>();
  readonly #consumers = new Map<string, Consumer>();
  readonly #listeners: Array<(event: RoomEvent) => void> = [];
  requests: Array<{ participantId: string; name: string }> = [];

  constructor(readonly router: Router) {}

  onEvent(listener: (event: RoomEvent) => void): void {
    this.#listeners.push(listener);
  }

  /** Closes a participant's transports server-side, as a lost node would. */
  closeTransportsOf(participantId: string): void {
    for (const [id, entry] of this.#transports) {
      if (entry.participantId !== participantId) continue;
      entry.transport.close();
      this.#transports.delete(id);
    }
  }

  producerInfos(): Api.ProducerInfo[] {
    return [...this.producers.values()].map((p) => p.info);
  }

  requestFor(participantId: string, nodeId = 'node-1'): ApiRequestFn {
    return (async (def: Api.ApiRequest, payload: unknown) =>
      this.serve(participantId, def.name, payload as Record<string, unknown>, nodeId)) as ApiRequestFn;
  }

  /** Answers one SFU request of `participantId` (createTransport, connectTransport, produce, consume, resumeConsumer). */
  serve(
    participantId: string,
    name: string,
    payload: Record<string, unknown>,
    nodeId = 'node-1',
  ): Promise<unknown> {
    this.requests.push({ participantId, name });
    const handler = this.#handlers(participantId, nodeId)[name];
    if (!handler) throw new Error(`the test adapter does not serve ${name}`);
    return handler(payload);
  }

  /** Closes every transport (the call left the SFU). */
  closeAll(): void {
    for (const entry of this.#transports.values()) entry.transport.close();
    this.#transports.clear();
  }

  transportCount(participantId: string): number {
    return [...this.#transports.values()].filter((t) => t.participantId === participantId).length;
  }

  #emit(event: RoomEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #transport(id: unknown): WebRtcTransport {
    const entry = this.#transports.get(String(id));
    if (!entry) throw new Error(`no transport ${String(id)}`);
    return entry.transport;
  }

  #handlers(
    participantId: string,
    nodeId: string,
  ): Record<string, (r: Record<string, unknown>) => Promise<unknown>> {
    return {
      createTransport: async () => {
        const transport = await this.router.createWebRtcTransport({
          listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
        });
        this.#transports.set(transport.id, { transport, participantId });
        return {
          transportId: transport.id,
          iceParameters: transport.iceParameters,
          iceCandidates: transport.iceCandidates,
          dtlsParameters: transport.dtlsParameters,
          nodeId,
        };
      },
      connectTransport: async (r) => {
        await this.#transport(r.transportId).connect({
          dtlsParameters: r.dtlsParameters as ConnectParams['dtlsParameters'],
        });
        return { transportId: r.transportId };
      },
      produce: async (r) => {
        const producer = await this.#transport(r.transportId).produce({
          kind: r.kind as ProduceParams['kind'],
          rtpParameters: r.rtpParameters as ProduceParams['rtpParameters'],
        });
        const info: Api.ProducerInfo = { id: producer.id, participantId, kind: producer.kind, paused: false };
        this.producers.set(producer.id, { producer, info });
        producer.observer.once('close', () => {
          this.producers.delete(producer.id);
          this.#emit({ type: 'producer-closed', producerId: producer.id, participantId });
        });
        this.#emit({ type: 'new-producer', producer: info });
        return { producerId: producer.id };
      },
      consume: async (r) => {
        const entry = this.producers.get(String(r.producerId));
        if (!entry) throw new Error(`no producer ${String(r.producerId)}`);
        const consumer = await this.#transport(r.transportId).consume({
          producerId: entry.producer.id,
          rtpCapabilities: r.rtpCapabilities as ConsumeParams['rtpCapabilities'],
          paused: true,
        });
        this.#consumers.set(consumer.id, consumer);
        return {
          consumerId: consumer.id,
          producerId: entry.producer.id,
          kind: consumer.kind,
          rtpParameters: consumer.rtpParameters,
          type: consumer.type,
          paused: consumer.paused,
          producerPaused: consumer.producerPaused,
          participantId: entry.info.participantId,
        };
      },
      resumeConsumer: async (r) => {
        const consumer = this.#consumers.get(String(r.consumerId));
        if (!consumer) throw new Error(`no consumer ${String(r.consumerId)}`);
        await consumer.resume();
        return { consumerId: consumer.id, paused: consumer.paused };
      },
    };
  }
}

export type RoomEvent =
  | { type: 'new-producer'; producer: Api.ProducerInfo }
  | { type: 'producer-closed'; producerId: string; participantId: string };
