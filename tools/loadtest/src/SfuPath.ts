import { Api } from '@trellis/protocol';
import { LoadError } from './LoadError';
import type { MediaClip } from './media/MediaClip';
import { RtpPublisher } from './media/RtpPublisher';
import { RtpSubscriber, type Subscription } from './media/RtpSubscriber';
import { MediasoupLink } from './rtc/MediasoupLink';
import type { SignalingConnection } from './SignalingConnection';

type RtpCapabilities = Api.ApiRequestOf<typeof Api.ConsumeProducer>['rtpCapabilities'];

export interface SfuPathOptions {
  roomId: string;
  signaling: SignalingConnection;
  clip: MediaClip;
  routerRtpCapabilities: RtpCapabilities;
  publishVideo: boolean;
  publishAudio: boolean;
  /** Audio with speech; otherwise silence sent as Opus DTX. */
  speaking: boolean;
  /** Simulcast layer asked for on every video consumer (0 = 320x180 … 2 = 1280x720). */
  videoLayer: number;
  /** Each rendered video frame, by publisher (the participant's FrameGaps, across its paths). */
  onVideoFrame?: (publisherId: string, now: number) => void;
}

/**
 * One participant's media on its SFU node: a send link replaying the clip as two producers, and a
 * recv link carrying its consumers. Built once per attachment; a rehome builds a new one.
 */
export class SfuPath {
  readonly #o: SfuPathOptions;
  readonly #consumerCaps: RtpCapabilities;
  #send: MediasoupLink | undefined;
  #recv: MediasoupLink | undefined;
  publisher: RtpPublisher | undefined;
  subscriber: RtpSubscriber | undefined;
  nodeId: string | undefined;
  readonly producerIds: string[] = [];
  readonly #consuming = new Set<string>();
  #closed = false;

  constructor(options: SfuPathOptions) {
    this.#o = options;
    this.#consumerCaps = consumerCapabilities(options.routerRtpCapabilities);
  }

  get started(): boolean {
    return this.subscriber !== undefined;
  }

  async start(): Promise<void> {
    const { signaling, roomId } = this.#o;
    const publish = this.#o.publishVideo || this.#o.publishAudio;
    const open = async (direction: 'send' | 'recv') => {
      const t = await signaling.request(Api.CreateTransport, { roomId, direction });
      this.nodeId = t.nodeId;
      return MediasoupLink.open(t, (dtlsParameters) =>
        signaling.request(Api.ConnectTransport, { roomId, transportId: t.transportId, dtlsParameters }),
      );
    };
    const [send, recv] = await Promise.all([publish ? open('send') : undefined, open('recv')]);
    this.#send = send;
    this.#recv = recv;
    if (this.#closed) return this.close();
    this.subscriber = new RtpSubscriber(recv.dtls);
    if (!send) return;
    const publisher = new RtpPublisher(send.dtls, this.#o.clip, {
      video: this.#o.publishVideo,
      audio: this.#o.publishAudio,
      speaking: this.#o.speaking,
    });
    this.publisher = publisher;
    for (const [kind, rtpParameters] of [
      ['video', publisher.videoRtpParameters],
      ['audio', publisher.audioRtpParameters],
    ] as const) {
      if (!rtpParameters) continue;
      const { producerId } = await signaling.request(Api.Produce, {
        roomId,
        transportId: send.transportId,
        kind,
        rtpParameters,
        appData: { source: kind === 'video' ? 'camera' : 'microphone', load: true },
      });
      this.producerIds.push(producerId);
    }
    // Sending starts once the producers exist, so every packet sent is one the SFU counts (the
    // clip starts on a keyframe, which consumers created meanwhile are waiting for).
    if (!this.#closed) publisher.start();
  }

  isConsuming(producerId: string): boolean {
    return this.#consuming.has(producerId);
  }

  /**
   * Consumes a producer (idempotent) and, unless `resume` is false (a hidden last-N tile), resumes
   * it once its SSRC is being watched.
   */
  async consume(producer: Api.ProducerInfo, resume = true): Promise<Subscription | undefined> {
    const recv = this.#recv;
    const subscriber = this.subscriber;
    if (!recv || !subscriber || this.#consuming.has(producer.id)) return undefined;
    this.#consuming.add(producer.id);
    const { signaling, roomId } = this.#o;
    const reply = await signaling.request(Api.ConsumeProducer, {
      roomId,
      transportId: recv.transportId,
      producerId: producer.id,
      rtpCapabilities: this.#consumerCaps,
      ...(producer.kind === 'video' ? { preferredLayers: { spatialLayer: this.#o.videoLayer } } : {}),
    });
    const ssrc = reply.rtpParameters.encodings?.[0]?.ssrc;
    if (ssrc === undefined)
      throw new LoadError('BAD_REPLY', `consumer ${reply.consumerId} announced no SSRC`);
    const sub = subscriber.add(
      { consumerId: reply.consumerId, producerId: producer.id, publisherId: producer.participantId },
      reply.kind,
      ssrc,
    );
    const onVideoFrame = this.#o.onVideoFrame;
    if (onVideoFrame && reply.kind === 'video')
      sub.monitor.onFrame = (now) => onVideoFrame(producer.participantId, now);
    if (resume) await signaling.request(Api.ResumeConsumer, { roomId, consumerId: reply.consumerId });
    return sub;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.publisher?.stop();
    this.subscriber?.stop();
    await Promise.all([this.#send?.close(), this.#recv?.close()]);
  }
}

/**
 * What the load tester can receive: VP8 and Opus only, with NACK/PLI/FIR but no transport-cc or
 * REMB, so mediasoup runs no bandwidth estimation for these consumers and forwards the requested
 * layer as is — the load is what the flags ask for, not what a congestion controller settles on.
 */
export function consumerCapabilities(router: RtpCapabilities): RtpCapabilities {
  const keep = new Set(['nack', 'nack pli', 'ccm fir']);
  return {
    codecs: (router.codecs ?? [])
      .filter((c) => ['audio/opus', 'video/vp8'].includes(c.mimeType.toLowerCase()))
      .map((c) => ({
        ...c,
        rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => keep.has(`${f.type} ${f.parameter ?? ''}`.trim())),
      })),
    headerExtensions: [],
  };
}
