import { Api } from '@trellis/protocol';
import { Device, type types as msc } from 'mediasoup-client';
import { silentLogger, type TrellisLogger } from './Logger';
import { SfuAttachment } from './SfuAttachment';
import type {
  SfuRehomeOptions,
  SfuRemoteTrack,
  SfuSessionEvents,
  SfuSessionOptions,
  SfuStartOptions,
} from './SfuSessionTypes';
import { TrellisClientError } from './TrellisClientError';
import { TypedEmitter } from './TypedEmitter';

/**
 * This participant's SFU path: what it publishes and which producers it wants, kept across
 * attachments. `start()` makes the first attachment; `rehome()` makes a new one (new node, maybe new
 * router capabilities) and only then closes the old, so remote tracks are replaced, never missing.
 */
export class SfuSession extends TypedEmitter<SfuSessionEvents> {
  readonly #o: SfuSessionOptions;
  readonly #logger: TrellisLogger;
  /** Other participants' producers this session should be receiving, by producer id. */
  readonly #wanted = new Map<string, Api.ProducerInfo>();
  /** Producers with a consume in flight on the current attachment. */
  readonly #consuming = new Set<string>();
  #localTracks: MediaStreamTrack[] = [];
  #screenTrack: MediaStreamTrack | null = null;
  #attachment: SfuAttachment | undefined;
  /** Replaced attachments still carrying media during a rehome's overlap. */
  readonly #retiring = new Set<SfuAttachment>();
  #routerCapabilities: string | undefined;
  #started = false;
  #closed = false;
  /** Rehomes run one after another; a second one waits for the first. */
  #rehoming: Promise<void> = Promise.resolve();

  constructor(options: SfuSessionOptions) {
    super();
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
  }

  get started(): boolean {
    return this.#started;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get nodeId(): string | undefined {
    return this.#attachment?.nodeId;
  }

  /** Our producers' ids on the current attachment. */
  get producerIds(): string[] {
    return this.#attachment?.producerIds ?? [];
  }

  get remoteTracks(): SfuRemoteTrack[] {
    return this.#attachment?.remoteTracks ?? [];
  }

  /** Loads a Device, creates transports, publishes `localTracks` and consumes the others' producers. */
  async start(options: SfuStartOptions): Promise<void> {
    if (this.#started || this.#closed)
      throw new TrellisClientError('INVALID_STATE', 'SfuSession.start() runs once');
    this.#localTracks = [...options.localTracks];
    this.#screenTrack = options.screenTrack ?? null;
    for (const producer of options.producers) this.#want(producer);
    await this.#attach(options.routerRtpCapabilities);
    this.#started = true;
  }

  /**
   * A producer appeared (`new-producer`, or listed in a snapshot): consumed if it is another
   * participant's and not consumed yet (so a snapshot also retries a consume that failed).
   */
  addProducer(info: Api.ProducerInfo): void {
    if (this.#closed) return;
    this.#want(info);
    if (!this.#wanted.has(info.id)) return;
    // Before the attachment exists the producer is only wanted: attaching consumes every wanted one.
    if (this.#attachment) void this.#consume(this.#attachment, info);
  }

  /** A producer closed (`producer-closed`): ours is closed locally, another's consumer is closed. */
  removeProducer(producerId: string): void {
    this.#wanted.delete(producerId);
    this.#attachment?.closeConsumersOf(producerId);
    for (const old of this.#retiring) old.closeConsumersOf(producerId);
    this.#attachment?.closeProducer(producerId);
  }

  /**
   * Brings the session in line with a snapshot (after a resumed reconnection): consumes producers it
   * lacks, drops those that are gone, republishes local tracks whose producers the server lost.
   * Working consumers and producers are left alone.
   */
  reconcile(producers: Api.ProducerInfo[]): void {
    if (this.#closed) return;
    const present = new Set(producers.map((p) => p.id));
    for (const id of [...this.#wanted.keys()]) if (!present.has(id)) this.removeProducer(id);
    const attachment = this.#attachment;
    for (const id of attachment?.producerIds ?? []) if (!present.has(id)) attachment?.closeProducer(id);
    for (const producer of producers) this.addProducer(producer);
    if (this.#started && attachment) void this.#publishMissing(attachment);
  }

  /**
   * Moves to new transports (signaling placed us on another node): a new attachment publishes and
   * consumes everything, then the old one closes (after `overlapMs`). The Device is reused unless
   * the router's capabilities changed (a Device loads only once).
   */
  rehome(options: SfuRehomeOptions): Promise<void> {
    const run = async () => {
      if (this.#closed) return;
      const old = this.#attachment;
      this.#wanted.clear();
      for (const producer of options.producers) this.#want(producer);
      // On failure the old attachment stays: on a draining node it still carries media.
      await this.#attach(options.routerRtpCapabilities);
      this.#started = true;
      if (!old || old === this.#attachment) return;
      const overlapMs = options.overlapMs ?? 0;
      if (overlapMs > 0 && !this.#closed) {
        this.#retiring.add(old);
        await this.#sleepUnlessClosed(overlapMs);
        this.#retiring.delete(old);
      }
      await this.#release(old, options.releaseOld ?? false);
    };
    this.#rehoming = this.#rehoming.then(run, run);
    return this.#rehoming;
  }

  /**
   * Sends `track` for `kind` from now on (a device switch): the producer keeps its id, so receivers
   * keep their consumer. With no producer of that kind yet, the track is published.
   */
  async replaceTrack(kind: 'audio' | 'video', track: MediaStreamTrack | null): Promise<void> {
    this.#localTracks = [...this.#localTracks.filter((t) => t.kind !== kind), ...(track ? [track] : [])];
    const attachment = this.#attachment;
    if (!attachment || this.#closed) return;
    const replaced = await attachment.replaceTrack(kind, track);
    if (!replaced && track) await this.#publishMissing(attachment);
  }

  /**
   * Starts, changes or stops (`null`) the screen share: its own producer, closed on the server too
   * when sharing stops (the others' consumers close and their screen tile goes).
   */
  async setScreen(track: MediaStreamTrack | null): Promise<void> {
    this.#screenTrack = track;
    const attachment = this.#attachment;
    if (!attachment || this.#closed) return;
    const producer = attachment.screenProducer;
    if (producer && track) {
      await producer.replaceTrack({ track });
      return;
    }
    if (producer) {
      attachment.closeProducer(producer.id);
      await this.#o.request(Api.CloseProducer, { roomId: this.#o.roomId, producerId: producer.id });
      return;
    }
    if (track) await this.#publishMissing(attachment);
  }

  /** Receive preferences for the consumer of `producerId` (see SfuAttachment). */
  setConsumerPreferences(
    consumerId: string,
    prefs: { paused: boolean; spatialLayer: number; priority: number },
  ): Promise<void> {
    return this.#attachment?.setConsumerPreferences(consumerId, prefs) ?? Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#attachment?.close();
    this.#attachment = undefined;
    for (const old of this.#retiring) old.close();
    this.#retiring.clear();
    this.#wanted.clear();
    this.safeEmit('@close');
    this.removeAllListeners();
  }

  /**
   * Closes a replaced attachment: first its peer on the node it was on, through signaling and while
   * that node is still there (a draining node leaves once its peers are gone), so the call forgets
   * its producers at once; then its transports. Off a dead node there is nothing to release.
   */
  async #release(old: SfuAttachment, nodeAlive: boolean): Promise<void> {
    const nodeId = old.nodeId;
    if (nodeAlive && nodeId !== undefined && nodeId !== this.#attachment?.nodeId) {
      await this.#o.request(Api.ReleaseNode, { roomId: this.#o.roomId, nodeId }).catch(() => undefined);
    }
    old.close();
  }

  #sleepUnlessClosed(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.off('@close', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.on('@close', done);
    });
  }

  #want(info: Api.ProducerInfo): void {
    if (info.participantId !== this.#o.participantId && !this.#wanted.has(info.id))
      this.#wanted.set(info.id, info);
  }

  async #attach(routerRtpCapabilities: SfuStartOptions['routerRtpCapabilities']): Promise<void> {
    const device = await this.#deviceFor(routerRtpCapabilities);
    if (this.#closed) throw closedError();
    const attachment = new SfuAttachment({
      roomId: this.#o.roomId,
      device,
      request: this.#o.request,
      ...(this.#o.iceServers ? { iceServers: this.#o.iceServers } : {}),
      ...(this.#o.simulcast !== undefined ? { simulcast: this.#o.simulcast } : {}),
      ...(this.#o.videoCodec ? { videoCodec: this.#o.videoCodec } : {}),
      logger: this.#logger,
    });
    attachment.on('consumer-closed', (remote) => this.safeEmit('consumer-closed', remote));
    attachment.on('transport-failed', (info) => this.safeEmit('transport-failed', info));
    try {
      await attachment.createTransports(this.#localTracks.length > 0 || this.#screenTrack !== null);
      if (this.#closed) throw closedError();
      this.#attachment = attachment;
      this.#consuming.clear();
      const consumes = [...this.#wanted.values()].map((info) => this.#consume(attachment, info));
      await Promise.all([this.#publishMissing(attachment), ...consumes]);
    } catch (error) {
      if (this.#attachment === attachment) this.#attachment = undefined;
      attachment.close();
      throw error;
    }
  }

  async #deviceFor(capabilities: SfuStartOptions['routerRtpCapabilities']): Promise<Device> {
    const key = JSON.stringify(capabilities);
    const current = this.#attachment?.device;
    if (current && this.#routerCapabilities === key) return current;
    const { handlerFactory } = this.#o;
    const device = handlerFactory ? new Device({ handlerFactory }) : await Device.factory();
    await device.load({ routerRtpCapabilities: capabilities as msc.RtpCapabilities });
    this.#routerCapabilities = key;
    return device;
  }

  /** Publishes each local track the attachment does not carry yet. */
  async #publishMissing(attachment: SfuAttachment): Promise<void> {
    const published = new Set(attachment.publishedTracks);
    const screen = this.#screenTrack;
    const candidates = [...this.#localTracks, ...(screen ? [screen] : [])];
    const missing = candidates.filter(
      (track) =>
        !published.has(track) &&
        track.readyState !== 'ended' &&
        attachment.device.canProduce(track.kind as 'audio' | 'video'),
    );
    await Promise.all(
      missing.map(async (track) => {
        try {
          await attachment.publish(track, track === screen);
        } catch (error) {
          // Receiving still works without publishing (e.g. a grant without canPublish): report, go on.
          if (attachment.closed) return;
          const failure = TrellisClientError.from(error);
          this.#logger.warn('publishing on the SFU failed', { kind: track.kind, error: failure.message });
          this.safeEmit('publish-failed', {
            kind: track.kind === 'audio' ? 'audio' : 'video',
            error: failure,
          });
        }
      }),
    );
  }

  async #consume(attachment: SfuAttachment | undefined, info: Api.ProducerInfo): Promise<void> {
    if (
      !attachment ||
      attachment.closed ||
      this.#consuming.has(info.id) ||
      attachment.hasConsumerFor(info.id)
    )
      return;
    this.#consuming.add(info.id);
    try {
      const remote = await attachment.consume(info);
      // The producer closed (or the attachment was replaced) while the consume was in flight.
      if (!this.#wanted.has(info.id) || attachment !== this.#attachment) {
        attachment.closeConsumersOf(info.id);
        return;
      }
      this.safeEmit('consumer', remote);
    } catch (error) {
      if (!attachment.closed && this.#wanted.has(info.id)) {
        const failure = TrellisClientError.from(error);
        // A transport gone under us is a rehome in progress: the new attachment consumes everything.
        const moving = failure.code === 'TRANSPORT_NOT_FOUND';
        this.#logger[moving ? 'debug' : 'warn']('consuming failed', {
          producerId: info.id,
          participantId: info.participantId,
          error: failure.message,
        });
        this.safeEmit('consume-failed', {
          producerId: info.id,
          participantId: info.participantId,
          error: failure,
        });
      }
    } finally {
      if (attachment === this.#attachment) this.#consuming.delete(info.id);
    }
  }
}

function closedError(): TrellisClientError {
  return new TrellisClientError('CLOSED', 'the SFU session is closed');
}
