import { Api } from '@trellis/protocol';
import type { RequestOptions, SignalingChannel, SignalingClientEvents } from '../src/SignalingClientTypes';
import { TrellisClientError } from '../src/TrellisClientError';
import { TypedEmitter } from '../src/TypedEmitter';
import type { MediasoupRoom } from './mediasoupAdapter';

interface Member {
  info: Api.ParticipantInfo;
  sessionId: string;
  channel: FakeChannel;
  /** Events reach a member only once its join was answered (as a socket joins the room then). */
  bound: boolean;
}

export interface FakeSignalingOptions {
  hysteresisMs?: number;
  migrationTimeoutMs?: number;
  retryMs?: number;
}

const usesSfu = (mode: Api.CallMode) =>
  mode === 'migrating_to_sfu' || mode === 'sfu' || mode === 'migrating_to_p2p';

/**
 * An in-process stand-in for services/signaling: the same mode machine rules (idle → p2p →
 * migrating_to_sfu → sfu → migrating_to_p2p, rollback on deadline, retry, hysteresis), the P2P
 * relay, and SFU requests served by a real mediasoup router (MediasoupRoom). Enough to drive
 * TrellisCall through every switch with real media, without Redis or Socket.IO.
 */
export class FakeSignaling {
  readonly members = new Map<string, Member>();
  readonly modes: Array<{ mode: Api.CallMode; reason: string }> = [];
  /** pathReady reports from these participants are dropped (to force a timed-out rollback). */
  readonly ignoreReportsFrom = new Set<string>();
  mode: Api.CallMode = 'idle';
  /** Bumped by every change, as the real call state's version. */
  version = 0;
  transition: Api.TransitionInfo | undefined;
  p2pOfferer: string | undefined;
  readonly #o: Required<FakeSignalingOptions>;
  #retryAt: number | undefined;
  #shrunkAt: number | undefined;
  #attempt = 0;
  #seq = 0;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    readonly media: MediasoupRoom,
    options: FakeSignalingOptions = {},
  ) {
    this.#o = { hysteresisMs: 500, migrationTimeoutMs: 15_000, retryMs: 300, ...options };
    media.onEvent((event) => {
      if (event.type === 'new-producer') {
        this.#broadcast('new-producer', { producer: event.producer }, event.producer.participantId);
      } else {
        this.#broadcast('producer-closed', {
          producerId: event.producerId,
          participantId: event.participantId,
        });
      }
    });
  }

  channel(identity: string): FakeChannel {
    return new FakeChannel(this, identity);
  }

  close(): void {
    for (const timer of this.#timers) clearTimeout(timer);
  }

  /** The member's socket dropped: it stays in the call (resume grace) but gets no events. */
  disconnected(identity: string): void {
    const member = this.members.get(identity);
    if (member) member.bound = false;
  }

  /** Tells a participant its node is gone, after closing its transports as a dead node would. */
  rehome(identity: string): void {
    this.media.closeTransportsOf(identity);
    this.members.get(identity)?.channel.deliver('rehome', { nodeId: 'node-2', reason: 'node-lost' });
  }

  async handle(channel: FakeChannel, name: string, r: Record<string, unknown>): Promise<unknown> {
    const id = channel.identity;
    if (name === 'join') return this.#join(channel, r.resumeSessionId as string | undefined);
    const member = this.members.get(id);
    if (!member) throw new TrellisClientError('PEER_NOT_FOUND', 'join the room first');
    switch (name) {
      case 'getRoom':
        return usesSfu(this.mode)
          ? { ...this.#snapshot(), routerRtpCapabilities: this.media.router.rtpCapabilities }
          : this.#snapshot();
      case 'createTransport':
      case 'connectTransport':
      case 'produce':
      case 'consume':
      case 'resumeConsumer':
        if (!usesSfu(this.mode)) throw new TrellisClientError('CONFLICT', `the call is ${this.mode}`);
        return this.media.serve(id, name, r, 'node-1');
      case 'closeProducer': {
        const entry = this.media.producers.get(String(r.producerId));
        if (!entry) throw new TrellisClientError('PRODUCER_NOT_FOUND', 'no such producer');
        entry.producer.close();
        return { producerId: r.producerId };
      }
      case 'pathReady': {
        const t = this.transition;
        if (!this.ignoreReportsFrom.has(id) && t && t.id === r.transitionId && t.to === r.path) {
          t.awaiting = t.awaiting.filter((p) => p !== id);
          this.#reconcile();
        }
        return { mode: this.mode, ...(this.transition ? { transitionId: this.transition.id } : {}) };
      }
      case 'signal': {
        const target = this.members.get(String(r.to));
        if (!target) throw new TrellisClientError('PEER_NOT_FOUND', `no participant ${String(r.to)}`);
        target.channel.deliver('signal', { from: id, signal: r.signal as Api.P2pSignal });
        return { delivered: true };
      }
      case 'leave':
        return { left: this.#remove(id, 'left') };
      default:
        throw new TrellisClientError('UNKNOWN_COMMAND', name);
    }
  }

  #join(channel: FakeChannel, resumeSessionId: string | undefined) {
    const id = channel.identity;
    const existing = this.members.get(id);
    let resumed = false;
    if (existing && resumeSessionId && existing.sessionId === resumeSessionId) {
      existing.channel = channel;
      resumed = true;
    } else {
      if (existing) this.#remove(id, 'replaced');
      const info: Api.ParticipantInfo = {
        id,
        name: id,
        joinedAt: Date.now() + this.#seq++,
        canPublish: true,
        connected: true,
        muted: { audio: false, video: false },
      };
      this.#broadcast('participant-joined', { participant: info });
      this.members.set(id, { info, sessionId: crypto.randomUUID(), channel, bound: false });
      this.#reconcile();
    }
    const member = this.members.get(id)!;
    member.bound = true;
    return {
      participantId: id,
      sessionId: member.sessionId,
      resumed,
      iceServers: [],
      room: this.#snapshot(),
    };
  }

  #remove(id: string, reason: 'left' | 'replaced'): boolean {
    if (!this.members.delete(id)) return false;
    this.media.closeTransportsOf(id);
    if (this.transition) this.transition.awaiting = this.transition.awaiting.filter((p) => p !== id);
    this.#broadcast('participant-left', { participantId: id, reason });
    this.#reconcile();
    return true;
  }

  #snapshot(): Api.RoomSnapshot {
    return {
      roomId: 'room-1',
      version: this.version,
      mode: this.mode,
      ...(this.transition ? { transition: structuredClone(this.transition) } : {}),
      ...(this.p2pOfferer ? { p2pOfferer: this.p2pOfferer } : {}),
      participants: this.#ordered().map((m) => m.info),
      producers: this.media.producerInfos(),
    };
  }

  #ordered(): Member[] {
    return [...this.members.values()].sort((a, b) => a.info.joinedAt - b.info.joinedAt);
  }

  #broadcast<N extends Api.ClientEventName>(
    name: N,
    payload: Api.ClientEventPayload<N>,
    except?: string,
  ): void {
    for (const member of this.members.values()) {
      if (member.bound && member.info.id !== except) member.channel.deliver(name, payload);
    }
  }

  #later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    this.#timers.add(timer);
  }

  #reconcile(): void {
    for (let step = 0; step < 4 && this.#step(); step++);
  }

  #step(): boolean {
    const n = this.members.size;
    const now = Date.now();
    const retryDue = this.#retryAt === undefined || this.#retryAt <= now;
    switch (this.mode) {
      case 'idle':
        if (n === 2) return this.#enter('p2p', 'joined');
        if (n >= 3) return this.#enter('sfu', 'joined');
        return false;
      case 'p2p':
        if (n <= 1) return this.#enter('idle', 'left');
        if (n >= 3 && retryDue) return this.#startMigration('sfu', this.#retryAt ? 'retry' : 'joined');
        return false;
      case 'migrating_to_sfu':
        if (n <= 1) return this.#end('idle', 'left');
        if (this.transition?.awaiting.length === 0) return this.#end('sfu', 'completed');
        return false;
      case 'sfu':
        if (n >= 3) {
          this.#shrunkAt = undefined;
          return false;
        }
        if (n <= 1) return this.#enter('idle', 'left');
        if (this.#shrunkAt === undefined) {
          this.#shrunkAt = now;
          this.#later(this.#o.hysteresisMs + 5, () => this.#reconcile());
        }
        if (now < this.#shrunkAt + this.#o.hysteresisMs || !retryDue) return false;
        return this.#startMigration('p2p', this.#retryAt ? 'retry' : 'hysteresis');
      case 'migrating_to_p2p':
        if (n >= 3) return this.#end('sfu', 'aborted');
        if (n <= 1) return this.#end('idle', 'left');
        if (this.transition?.awaiting.length === 0) return this.#end('p2p', 'completed');
        return false;
    }
  }

  #startMigration(to: Api.MediaPath, reason: 'joined' | 'retry' | 'hysteresis'): boolean {
    const now = Date.now();
    this.#attempt = this.#retryAt === undefined ? 1 : this.#attempt + 1;
    this.#retryAt = undefined;
    this.#shrunkAt = undefined;
    const transition: Api.TransitionInfo = {
      id: `t${++this.#seq}`,
      from: this.mode,
      to,
      attempt: this.#attempt,
      startedAt: now,
      deadline: now + this.#o.migrationTimeoutMs,
      awaiting: this.#ordered().map((m) => m.info.id),
    };
    this.transition = transition;
    this.#later(this.#o.migrationTimeoutMs, () => {
      if (this.transition?.id !== transition.id) return;
      this.#retryAt = Date.now() + this.#o.retryMs;
      this.#end(transition.from, 'timed-out');
      this.#later(this.#o.retryMs + 5, () => this.#reconcile());
    });
    if (to === 'p2p') this.p2pOfferer = this.#ordered()[0]?.info.id;
    return this.#enter(to === 'sfu' ? 'migrating_to_sfu' : 'migrating_to_p2p', reason);
  }

  #end(mode: Api.CallMode, reason: 'left' | 'completed' | 'timed-out' | 'aborted'): boolean {
    this.transition = undefined;
    return this.#enter(mode, reason);
  }

  #enter(mode: Api.CallMode, reason: Api.ClientEventPayload<'mode-changed'>['reason']): boolean {
    const previous = this.mode;
    this.mode = mode;
    if (mode === 'p2p') this.p2pOfferer = this.#ordered()[0]?.info.id;
    else if (mode !== 'migrating_to_p2p') this.p2pOfferer = undefined;
    if ((mode === 'p2p' || mode === 'idle') && usesSfu(previous)) this.media.closeAll();
    this.modes.push({ mode, reason });
    this.#broadcast('mode-changed', {
      version: ++this.version,
      mode,
      previous,
      reason,
      ...(this.transition ? { transition: structuredClone(this.transition) } : {}),
      ...(this.p2pOfferer ? { p2pOfferer: this.p2pOfferer } : {}),
    });
    return true;
  }
}

/** One participant's connection to the fake: requests are handled in-process, events come a tick later. */
export class FakeChannel extends TypedEmitter<SignalingClientEvents> implements SignalingChannel {
  connected = false;
  #holding = false;
  #held: Array<() => void> = [];

  constructor(
    readonly server: FakeSignaling,
    readonly identity: string,
  ) {
    super();
  }

  async connect(): Promise<void> {
    this.connected = true;
  }

  async request<D extends Api.RequestDef>(
    def: D,
    payload: Api.ApiRequestOf<D>,
    options?: RequestOptions,
  ): Promise<Api.ApiReplyOf<D>> {
    if (this.#holding && !options?.bypassHold) await new Promise<void>((resolve) => this.#held.push(resolve));
    if (!this.connected) throw new TrellisClientError('DISCONNECTED', 'not connected');
    const request = def.request.parse(payload) as Record<string, unknown>;
    // A network hop: replies never arrive synchronously.
    await new Promise((resolve) => setTimeout(resolve, 1));
    const reply = await this.server.handle(this, def.name, request);
    return def.reply.parse(reply) as Api.ApiReplyOf<D>;
  }

  deliver<N extends Api.ClientEventName>(name: N, payload: Api.ClientEventPayload<N>): void {
    const data = Api.ClientEvents[name].parse(payload);
    setTimeout(() => {
      if (this.connected) (this.safeEmit as (event: string, data: unknown) => boolean)(name, data);
    }, 1);
  }

  /** Drops the "socket" for `downMs`, then reconnects (the owner resumes its session). */
  drop(downMs: number): void {
    this.connected = false;
    this.#holding = true;
    this.server.disconnected(this.identity);
    this.safeEmit('disconnected', 'transport close', true);
    setTimeout(() => {
      this.connected = true;
      this.safeEmit('reconnected');
    }, downMs);
  }

  releaseHeldRequests(): void {
    this.#holding = false;
    for (const release of this.#held.splice(0)) release();
  }

  close(): void {
    this.connected = false;
    this.releaseHeldRequests();
  }
}
