// One participant as a real client drives signaling: a Socket.IO connection for the request table,
// and a mediasoup-client Device on libwebrtc (wrtc) whose transports, producers and consumers are
// all made through signaling requests (getRoom → createTransport → connectTransport → produce /
// consume → resumeConsumer), never by talking to the sfu directly.
import type { Api } from '@trellis/protocol';
import {
  countVideoFrames,
  createSyntheticVideoSource,
  createWrtcDevice,
  type SyntheticVideo,
  type VideoFrameCounter,
  type WrtcMediaStreamTrack,
} from '@trellis/testkit/media';
import type { types as client, Device } from 'mediasoup-client';
import { ask, connect, type Socket } from './wire';

type JoinReply = Api.ApiReplyOf<typeof Api.JoinRoom>;
type TransportReply = Api.ApiReplyOf<typeof Api.CreateTransport>;
type ConsumeReply = Api.ApiReplyOf<typeof Api.ConsumeProducer>;
type ModeChanged = Api.ClientEventPayload<'mode-changed'>;

export interface ConsumedVideo {
  readonly producerId: string;
  readonly consumer: client.Consumer;
  readonly frames: VideoFrameCounter;
  /** performance.now() when the resumeConsumer ack came back. */
  readonly resumedAt: number;
}

export class SignalingPeer {
  readonly socket: Socket;
  readonly roomId: string;
  readonly identity: string;
  readonly joined: JoinReply;
  /** Every mode-changed event this participant received, in order. */
  readonly modeEvents: ModeChanged[];
  device: Device | undefined;
  send: client.Transport | undefined;
  recv: client.Transport | undefined;
  readonly #sources: SyntheticVideo[] = [];
  readonly #consumed: ConsumedVideo[] = [];
  readonly #timeoutMs: number;
  #closed = false;

  private constructor(
    socket: Socket,
    roomId: string,
    joined: JoinReply,
    modeEvents: ModeChanged[],
    timeoutMs: number,
  ) {
    this.socket = socket;
    this.roomId = roomId;
    this.identity = joined.participantId;
    this.joined = joined;
    this.modeEvents = modeEvents;
    this.#timeoutMs = timeoutMs;
  }

  /** Connects with `token` and joins; `marks` gets performance.now() after each of the two steps. */
  static async join(
    url: string,
    token: string,
    roomId: string,
    opts: { timeoutMs?: number; marks?: { connected?: number; joined?: number } } = {},
  ): Promise<SignalingPeer> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const socket = await connect(url, { token }, timeoutMs);
    if (opts.marks) opts.marks.connected = performance.now();
    const events: ModeChanged[] = [];
    socket.on('mode-changed', (event: ModeChanged) => events.push(event));
    let joined: JoinReply;
    try {
      joined = await ask<JoinReply>(socket, 'join', { roomId }, timeoutMs);
    } catch (error) {
      socket.close();
      throw error;
    }
    if (opts.marks) opts.marks.joined = performance.now();
    return new SignalingPeer(socket, roomId, joined, events, timeoutMs);
  }

  request<T>(name: string, payload: Record<string, unknown> = {}): Promise<T> {
    return ask<T>(this.socket, name, { roomId: this.roomId, ...payload }, this.#timeoutMs);
  }

  getRoom(): Promise<Api.RoomSnapshot> {
    return this.request<Api.RoomSnapshot>('getRoom');
  }

  /** getRoom (which places the participant on an sfu node) → Device.load with the router's capabilities. */
  async loadDevice(marks?: { room?: number }): Promise<Api.RoomSnapshot> {
    const room = await this.getRoom();
    if (marks) marks.room = performance.now();
    if (!room.routerRtpCapabilities) {
      throw new Error(`getRoom gave no router capabilities (mode ${room.mode})`);
    }
    this.device = await createWrtcDevice(room.routerRtpCapabilities as client.RtpCapabilities);
    return room;
  }

  async createTransport(direction: 'send' | 'recv'): Promise<client.Transport> {
    const device = this.#device();
    const created = await this.request<TransportReply>('createTransport', { direction });
    const options = {
      id: created.transportId,
      iceParameters: created.iceParameters,
      iceCandidates: created.iceCandidates,
      dtlsParameters: created.dtlsParameters,
    } as client.TransportOptions;
    const transport =
      direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
    // mediasoup-client asks for the DTLS connect on first use (first produce / first consume).
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(
        () => callback(),
        errback,
      );
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        this.request<{ producerId: string }>('produce', {
          transportId: transport.id,
          kind,
          rtpParameters,
          appData,
        }).then(({ producerId }) => callback({ id: producerId }), errback);
      });
      this.send = transport;
    } else {
      this.recv = transport;
    }
    return transport;
  }

  /** A synthetic VP8 video (moving content, so the encoder never idles) published on the send transport. */
  async publishVideo(size: { width: number; height: number; fps: number }): Promise<string> {
    const device = this.#device();
    const send = this.send ?? (await this.createTransport('send'));
    const source = createSyntheticVideoSource(size);
    this.#sources.push(source);
    const producer = await send.produce({
      track: source.track as never,
      codec: device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === 'video/vp8'),
    });
    return producer.id;
  }

  /** consume (created paused) → local consumer with a frame counter → resumeConsumer. */
  async consumeVideo(producerId: string): Promise<ConsumedVideo> {
    const device = this.#device();
    const recv = this.recv ?? (await this.createTransport('recv'));
    const reply = await this.request<ConsumeReply>('consume', {
      transportId: recv.id,
      producerId,
      rtpCapabilities: device.rtpCapabilities,
    });
    const consumer = await recv.consume({
      id: reply.consumerId,
      producerId,
      kind: reply.kind,
      rtpParameters: reply.rtpParameters as client.RtpParameters,
    });
    // The sink is attached before resuming, so the very first decoded frame is seen.
    const frames = countVideoFrames(consumer.track as unknown as WrtcMediaStreamTrack);
    const partial = { producerId, consumer, frames, resumedAt: Number.NaN };
    this.#consumed.push(partial);
    await this.request('resumeConsumer', { consumerId: reply.consumerId });
    partial.resumedAt = performance.now();
    return partial;
  }

  /** Stops decoding locally (the consumers stay on the sfu: the API has no consumer close). */
  stopConsuming(): void {
    for (const c of this.#consumed.splice(0)) {
      c.frames.stop();
      c.consumer.close();
    }
  }

  /** leave, disconnect, and release everything local; never throws. */
  async close(opts: { leave?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopConsuming();
    for (const source of this.#sources) source.stop();
    this.send?.close();
    this.recv?.close();
    if (opts.leave !== false && this.socket.connected) await this.request('leave').catch(() => undefined);
    this.socket.close();
  }

  #device(): Device {
    if (!this.device) throw new Error('loadDevice first');
    return this.device;
  }
}

/** Resolves when `probe` is true, polling every `intervalMs`; rejects after `timeoutMs`. */
export async function until(probe: () => boolean, timeoutMs: number, what: string, intervalMs = 2) {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
