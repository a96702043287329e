import { Api } from '@trellis/protocol';
import { LoadError } from './LoadError';
import type { ParticipantResult, ParticipantSpec, SubscriptionResult } from './LoadParticipantTypes';
import { FrameGaps } from './media/FrameGaps';
import type { MediaClip } from './media/MediaClip';
import type { Subscription } from './media/RtpSubscriber';
import { SfuPath } from './SfuPath';
import { SignalingConnection } from './SignalingConnection';

const SFU_MODES = new Set<Api.CallMode>(['migrating_to_sfu', 'sfu', 'migrating_to_p2p']);
const READY_POLL_MS = 200;
const ERROR_LOG_PER_CODE = 20;
const GONE = new Set(['PRODUCER_NOT_FOUND', 'CONSUMER_NOT_FOUND']);
/** How long the old path keeps publishing after a move off a draining node (see the SDK's MediaPaths). */
const DRAIN_OVERLAP_MS = 2500;
/** A participant that may publish but announced nothing yet is waited for this long (as the SDK does). */
const PUBLISH_GRACE_MS = 5_000;

/**
 * One simulated participant: real signaling (Socket.IO + JWT), the call-mode machine followed as
 * the SDK follows it on the SFU side — SFU transports built whenever the mode uses the SFU, the new
 * path reported ready once media flows from everyone it subscribes to — and real WebRTC media
 * through werift. It does not run the P2P path: with two participants it waits (media-less) for a
 * third, so the load tester refuses calls of fewer than three.
 */
export class LoadParticipant {
  readonly #spec: ParticipantSpec;
  readonly #clip: MediaClip;
  readonly #signaling: SignalingConnection;
  readonly #errors: Record<string, number> = {};
  #firstError: { code: string; message: string } | undefined;
  readonly #errorMessages: Record<string, string> = {};
  #participantId: string | undefined;
  #version = -1;
  #mode: Api.CallMode = 'idle';
  #transition: Api.TransitionInfo | undefined;
  readonly #transitions = new Set<string>();
  readonly #reported = new Set<string>();
  readonly #modes: string[] = [];
  readonly #producers = new Map<string, Api.ProducerInfo>();
  readonly #participants = new Map<string, Api.ParticipantInfo>();
  #routerCaps: Api.RoomSnapshot['routerRtpCapabilities'];
  #path: SfuPath | undefined;
  #pathStart: Promise<void> | undefined;
  readonly #oldPaths: SfuPath[] = [];
  #rehomes = 0;
  #resumes = 0;
  #sessionId: string | undefined;
  readonly #frames = new FrameGaps();
  /** Errors with the time they happened (epoch ms), the first few per code. */
  readonly #errorLog: Array<{ code: string; at: number }> = [];
  #joinStartedAt = 0;
  #joinMs: number | undefined;
  #sfuSince: number | undefined;
  #sfuMs = 0;
  #transitionSeenAt = 0;
  readonly #consumeStartedAt = new Map<string, number>();
  /** Consumers paused by the last-N policy. */
  readonly #paused = new Map<string, boolean>();
  readonly #tileOps = new Map<string, Promise<void>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #quiesced = false;

  constructor(spec: ParticipantSpec, clip: MediaClip) {
    this.#spec = spec;
    this.#clip = clip;
    this.#signaling = new SignalingConnection(spec.url, spec.token);
  }

  get joined(): boolean {
    return this.#joinMs !== undefined;
  }

  async join(): Promise<void> {
    this.#joinStartedAt = performance.now();
    const s = this.#signaling;
    this.#listen();
    await s.connect();
    const reply = await s.request(Api.JoinRoom, { roomId: this.#spec.roomId });
    this.#joinMs = performance.now() - this.#joinStartedAt;
    this.#participantId = reply.participantId;
    this.#sessionId = reply.sessionId;
    for (const p of reply.room.participants) this.#participants.set(p.id, p);
    for (const p of reply.room.producers) this.#producers.set(p.id, p);
    this.#routerCaps = reply.room.routerRtpCapabilities;
    this.#timer = setInterval(() => this.#checkReady(), READY_POLL_MS);
    this.#applyMode(reply.room.version, reply.room.mode, reply.room.transition);
  }

  #listen(): void {
    const s = this.#signaling;
    s.on('mode-changed', (e) => this.#applyMode(e.version, e.mode, e.transition));
    s.on('participant-joined', ({ participant }) => this.#participants.set(participant.id, participant));
    s.on('participant-left', ({ participantId }) => {
      this.#participants.delete(participantId);
      for (const [id, p] of this.#producers)
        if (p.participantId === participantId) this.#producers.delete(id);
    });
    s.on('new-producer', ({ producer }) => {
      this.#producers.set(producer.id, producer);
      this.#consumeWanted();
    });
    s.on('producer-closed', ({ producerId }) => this.#producers.delete(producerId));
    s.on('rehome', ({ reason, routerRtpCapabilities }) => void this.#rehome(reason, routerRtpCapabilities));
    s.on('session-replaced', () => this.#error(new LoadError('SESSION_REPLACED', 'another join took over')));
    s.onDisconnect((reason) => this.#error(new LoadError('DISCONNECTED', `signaling dropped us: ${reason}`)));
    s.onReconnect(() => this.#resume());
  }

  /**
   * Back on signaling after a drop (its node died; the balancer found another): the session is
   * resumed and the call's state taken from the snapshot. Media never stopped: the SFU path is kept
   * unless signaling lost our producers meanwhile (it re-homed us), then it is built again.
   */
  async #resume(): Promise<void> {
    if (this.#closed || this.#sessionId === undefined) return;
    try {
      const reply = await this.#signaling.request(Api.JoinRoom, {
        roomId: this.#spec.roomId,
        resumeSessionId: this.#sessionId,
      });
      this.#resumes += 1;
      this.#sessionId = reply.sessionId;
      if (!reply.resumed) this.#error(new LoadError('SESSION_LOST', 'signaling did not resume our session'));
      this.#participants.clear();
      for (const p of reply.room.participants) this.#participants.set(p.id, p);
      this.#producers.clear();
      for (const p of reply.room.producers) this.#producers.set(p.id, p);
      this.#applyMode(reply.room.version, reply.room.mode, reply.room.transition);
      const ours = this.#path?.producerIds ?? [];
      if (ours.length > 0 && !ours.some((id) => this.#producers.has(id))) await this.#rehome('node-lost');
      else this.#consumeWanted();
    } catch (error) {
      this.#error(error);
    }
  }

  #applyMode(version: number, mode: Api.CallMode, transition: Api.TransitionInfo | undefined): void {
    // Nodes commit and emit independently: a change older than what we know is stale.
    if (version <= this.#version || this.#closed || this.#quiesced) return;
    this.#version = version;
    if (mode !== this.#mode) this.#modes.push(mode);
    this.#mode = mode;
    if (transition && !this.#transitions.has(transition.id)) {
      this.#transitions.add(transition.id);
      this.#transitionSeenAt = performance.now();
    }
    this.#transition = transition;
    if (SFU_MODES.has(mode)) {
      this.#sfuSince ??= performance.now();
      void this.#ensureSfu();
    } else if (this.#pathStart) {
      // The call left the SFU (a migration rolled back): signaling released our peer there, so
      // the next move to the SFU builds a new path rather than consuming on a dead one.
      void this.#dropPath();
    }
  }

  async #ensureSfu(): Promise<void> {
    if (this.#pathStart) return this.#pathStart;
    this.#pathStart = (async () => {
      try {
        if (!this.#routerCaps) {
          const room = await this.#signaling.request(Api.GetRoom, { roomId: this.#spec.roomId });
          this.#routerCaps = room.routerRtpCapabilities;
        }
        if (!this.#routerCaps) throw new LoadError('NO_ROUTER', 'on the SFU but no router capabilities');
        const path = new SfuPath({
          roomId: this.#spec.roomId,
          signaling: this.#signaling,
          clip: this.#clip,
          routerRtpCapabilities: this.#routerCaps,
          publishVideo: this.#spec.publishVideo,
          publishAudio: this.#spec.publishAudio,
          speaking: this.#spec.speaking,
          videoLayer: this.#spec.videoLayer,
          onVideoFrame: (publisherId, now) => this.#frames.frame(publisherId, now),
        });
        this.#path = path;
        await path.start();
        if (this.#quiesced) path.publisher?.stop();
        this.#consumeWanted();
      } catch (error) {
        this.#error(error);
      }
    })();
    return this.#pathStart;
  }

  /** The producers this participant's policy subscribes to, in the order they were announced. */
  #wantedPublishers(): Set<string> {
    const policy = this.#spec.subscribe;
    const others = [...new Set([...this.#producers.values()].map((p) => p.participantId))].filter(
      (id) => id !== this.#participantId,
    );
    if (policy.mode === 'none') return new Set();
    if (policy.mode === 'all' || policy.mode === 'last') return new Set(others);
    const path = this.#path;
    const already = new Set(
      path?.subscriber?.subscriptions.map((s) => s.publisherId).filter((id) => others.includes(id)) ?? [],
    );
    for (const id of others) if (already.size < policy.count) already.add(id);
    return already;
  }

  #consumeWanted(): void {
    const path = this.#path;
    if (!path?.started || this.#closed) return;
    const wanted = this.#wantedPublishers();
    for (const producer of this.#producers.values()) {
      if (!wanted.has(producer.participantId) || path.isConsuming(producer.id)) continue;
      this.#consumeStartedAt.set(producer.id, performance.now());
      const hidden = producer.kind === 'video' && this.#hiddenTile(producer.participantId);
      path
        .consume(producer, !hidden)
        .then((sub) => {
          if (sub?.monitor.kind === 'video') this.#paused.set(sub.consumerId, hidden);
          this.#arrangeTiles();
        })
        .catch((error: unknown) => {
          // The producer closed while we consumed it (its owner moved on): nothing was lost.
          const gone =
            error instanceof LoadError && GONE.has(error.code) && !this.#producers.has(producer.id);
          if (!gone) this.#error(error);
        });
    }
  }

  /**
   * Last-N: the video of the `count` most recently joined publishers plays, the rest is paused on the
   * SFU. Only changes are sent; a failed change is retried on the next arrangement.
   */
  #arrangeTiles(): void {
    const path = this.#path;
    if (this.#spec.subscribe.mode !== 'last' || !path?.subscriber || this.#closed || this.#quiesced) return;
    for (const sub of path.subscriber.subscriptions) {
      if (sub.monitor.kind !== 'video') continue;
      const paused = this.#hiddenTile(sub.publisherId);
      // Only consumers whose consume (and resume) completed: a pause racing the resume could lose.
      const current = this.#paused.get(sub.consumerId);
      if (current === undefined || current === paused) continue;
      this.#paused.set(sub.consumerId, paused);
      // One change at a time per consumer, in order.
      const previous = this.#tileOps.get(sub.consumerId) ?? Promise.resolve();
      this.#tileOps.set(
        sub.consumerId,
        previous.then(() =>
          this.#signaling
            .request(Api.SetConsumerPreferences, {
              roomId: this.#spec.roomId,
              consumerId: sub.consumerId,
              paused,
            })
            .then(
              () => undefined,
              (error: unknown) => this.#error(error),
            ),
        ),
      );
    }
  }

  /** Under last-N: is this publisher's video off the grid (not among the latest `count` joiners)? */
  #hiddenTile(publisherId: string): boolean {
    const policy = this.#spec.subscribe;
    if (policy.mode !== 'last') return false;
    const shown = [...this.#participants.values()]
      .filter((p) => p.id !== this.#participantId)
      .sort((a, b) => b.joinedAt - a.joinedAt || (a.id < b.id ? 1 : -1))
      .slice(0, policy.count);
    return !shown.some((p) => p.id === publisherId);
  }

  /** Reports a migration's SFU path ready once every subscribed publisher's media flows on it. */
  #checkReady(): void {
    const t = this.#transition;
    const me = this.#participantId;
    const path = this.#path;
    if (!t || !me || t.to !== 'sfu' || this.#reported.has(t.id) || !t.awaiting.includes(me)) return;
    if (!path?.started || (path.publisher === undefined && this.#publishes())) return;
    const subs = path.subscriber?.subscriptions ?? [];
    const wanted = this.#wantedPublishers();
    for (const other of this.#participants.values()) {
      if (other.id === me || !other.canPublish || !wanted.has(other.id)) {
        if (other.id !== me && other.canPublish && this.#spec.subscribe.mode === 'all') {
          // Publishes nothing yet: wait a little for its producers, as the SDK does.
          if (performance.now() - this.#transitionSeenAt < PUBLISH_GRACE_MS) return;
        }
        continue;
      }
      const kinds = [...this.#producers.values()].filter((p) => p.participantId === other.id && !p.paused);
      for (const producer of kinds) {
        const sub = subs.find((s) => s.producerId === producer.id);
        if (sub && this.#paused.get(sub.consumerId)) continue;
        if (!sub || !flowing(sub)) return;
      }
    }
    this.#reported.add(t.id);
    this.#signaling
      .request(Api.ReportPathReady, { roomId: this.#spec.roomId, transitionId: t.id, path: 'sfu' })
      .catch((error: unknown) => this.#error(error));
  }

  #publishes(): boolean {
    return this.#spec.publishVideo || this.#spec.publishAudio;
  }

  /**
   * The SFU node went away or drains: build a new path (it lands on the new node), keep the old
   * stats. Off a draining node, which still forwards, the old path goes only once the new one is up
   * and the others have had time to consume it (make-before-break, as the SDK does).
   */
  async #rehome(
    reason: Api.ClientEventPayload<'rehome'>['reason'],
    routerRtpCapabilities?: Api.ClientEventPayload<'rehome'>['routerRtpCapabilities'],
  ): Promise<void> {
    this.#rehomes += 1;
    await this.#pathStart;
    // Without capabilities in the event, the new path asks for the new node's (GetRoom).
    const old = this.#detachPath(routerRtpCapabilities);
    const overlap = reason === 'draining';
    if (old && !overlap) await old.close();
    if (!this.#closed && SFU_MODES.has(this.#mode)) await this.#ensureSfu();
    if (!old || !overlap) return;
    await new Promise((resolve) => setTimeout(resolve, DRAIN_OVERLAP_MS));
    const current = this.#path as SfuPath | undefined;
    if (old.nodeId !== undefined && old.nodeId !== current?.nodeId) {
      await this.#signaling
        .request(Api.ReleaseNode, { roomId: this.#spec.roomId, nodeId: old.nodeId }, 5_000)
        .catch((error: unknown) => this.#error(error));
    }
    await old.close();
  }

  async #dropPath(): Promise<void> {
    const starting = this.#pathStart;
    const path = this.#detachPath(undefined);
    await starting;
    await path?.close();
  }

  /** Forgets the current path (kept for its stats): the next #ensureSfu builds a new one. */
  #detachPath(routerCaps: Api.RoomSnapshot['routerRtpCapabilities']): SfuPath | undefined {
    const path = this.#path;
    this.#path = undefined;
    this.#pathStart = undefined;
    this.#routerCaps = routerCaps;
    if (path) this.#oldPaths.push(path);
    return path;
  }

  /** A join that threw: counted under its code; leave() still cleans up. */
  noteJoinFailure(error: unknown): void {
    this.#error(error);
  }

  #error(error: unknown): void {
    if (this.#closed) return;
    const e = LoadError.from(error);
    this.#errors[e.code] = (this.#errors[e.code] ?? 0) + 1;
    if (this.#errors[e.code]! <= ERROR_LOG_PER_CODE) this.#errorLog.push({ code: e.code, at: Date.now() });
    this.#firstError ??= { code: e.code, message: e.message };
    this.#errorMessages[e.code] ??= e.message;
  }

  /**
   * Stops publishing and the mode machine, still joined and receiving: once in-flight packets have
   * arrived the counts are final, and the SFU's own counters (still there until we leave) must agree.
   */
  quiesce(): void {
    this.#quiesced = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#sfuSince !== undefined && this.#sfuMs === 0) this.#sfuMs = performance.now() - this.#sfuSince;
    for (const path of [...this.#oldPaths, ...(this.#path ? [this.#path] : [])]) path.publisher?.stop();
  }

  /** Leaves (best effort, bounded), closes every link and returns what this participant saw. */
  async leave(): Promise<ParticipantResult> {
    this.quiesce();
    const result = this.result();
    this.#closed = true;
    if (this.joined && this.#signaling.connected) {
      await this.#signaling
        .request(Api.LeaveRoom, { roomId: this.#spec.roomId }, 3_000)
        .catch(() => undefined);
    }
    await Promise.all([this.#path?.close(), ...this.#oldPaths.map((p) => p.close())]);
    this.#signaling.close();
    return result;
  }

  result(): ParticipantResult {
    const paths = [...this.#oldPaths, ...(this.#path ? [this.#path] : [])];
    const subscriptions = paths
      .flatMap((p) => p.subscriber?.subscriptions ?? [])
      .map((s) => this.#subResult(s));
    const sfuStart = Math.max(this.#joinStartedAt, this.#sfuSince ?? Number.POSITIVE_INFINITY);
    const firstFrames = paths
      .flatMap((p) => p.subscriber?.subscriptions ?? [])
      .map((s) => s.monitor.counters.firstFrameAt)
      .filter((t): t is number => t !== undefined);
    const sent = { videoPackets: 0, audioPackets: 0, bytes: 0, plis: 0, nacked: 0 };
    for (const p of paths) {
      const c = p.publisher?.counters;
      if (!c) continue;
      for (const key of Object.keys(sent) as Array<keyof typeof sent>) sent[key] += c[key];
    }
    return {
      identity: this.#spec.identity,
      roomId: this.#spec.roomId,
      callIndex: this.#spec.callIndex,
      participantId: this.#participantId,
      nodeId: this.#path?.nodeId,
      joined: this.joined,
      joinMs: this.#joinMs === undefined ? undefined : Math.round(this.#joinMs),
      firstFrameMs: firstFrames.length > 0 ? Math.round(Math.min(...firstFrames) - sfuStart) : undefined,
      producerIds: paths.flatMap((p) => p.producerIds),
      modes: [...this.#modes],
      transitions: this.#transitions.size,
      pathReadyReported: this.#reported.size,
      rehomes: this.#rehomes,
      resumes: this.#resumes,
      errors: { ...this.#errors },
      rateLimitedRetries: this.#signaling.rateLimitedRetries,
      unavailableRetries: this.#signaling.unavailableRetries,
      firstError: this.#firstError,
      errorMessages: { ...this.#errorMessages },
      errorLog: [...this.#errorLog],
      video: this.#frames.result(),
      sent,
      subscriptions,
      unmatchedPackets: paths.reduce((n, p) => n + (p.subscriber?.unmatched ?? 0), 0),
      sfuSeconds:
        Math.round((this.#sfuMs || (this.#sfuSince ? performance.now() - this.#sfuSince : 0)) / 100) / 10,
    };
  }

  #subResult(s: Subscription): SubscriptionResult {
    const c = s.monitor.counters;
    const startedAt = this.#consumeStartedAt.get(s.producerId);
    const first = s.monitor.kind === 'video' ? c.firstFrameAt : c.firstPacketAt;
    return {
      publisherId: s.publisherId,
      producerId: s.producerId,
      consumerId: s.consumerId,
      kind: s.monitor.kind,
      paused: this.#paused.get(s.consumerId) ?? false,
      packets: c.packets,
      bytes: c.bytes,
      expected: c.expected,
      lost: c.lost,
      frames: c.frames,
      keyframes: c.keyframes,
      freezes: c.freezes,
      freezeMs: Math.round(c.freezeMs),
      firstMediaMs:
        first !== undefined && startedAt !== undefined ? Math.round(first - startedAt) : undefined,
    };
  }
}

function flowing(sub: Subscription): boolean {
  const c = sub.monitor.counters;
  return sub.monitor.kind === 'video' ? c.frames > 0 : c.packets > 0;
}
