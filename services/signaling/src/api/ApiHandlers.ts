import { randomUUID } from 'node:crypto';
import {
  type Api,
  ConnectTransport,
  Consume,
  CreateWebRtcTransport,
  GetRouterCapabilities,
  CloseProducer as SfuCloseProducer,
  Produce as SfuProduce,
  ResumeConsumer as SfuResumeConsumer,
  TrellisError,
} from '@trellis/protocol';
import type { CallDraft } from '../call/CallDraft';
import { emptyCall, snapshotOf } from '../call/CallDraft';
import type { CallState, ParticipantRecord } from '../call/CallStateTypes';
import type { CallStore, Committed } from '../call/CallStore';
import type { EffectRunner } from '../call/EffectRunner';
import { reportPathReady, usesSfu } from '../call/modeMachine';
import type { CallHistory } from '../history/CallHistory';
import type { SfuGateway } from '../media/SfuGateway';
import type { MediaControlHandlers } from './MediaControlHandlers';
import type { RequestContext } from './RequestContext';

export interface ApiHandlersOptions {
  store: CallStore;
  sfu: SfuGateway;
  effects: EffectRunner;
  nodeId: string;
  maxParticipants: number;
  iceServers: (identity: string) => Api.IceServer[];
  mediaControl: MediaControlHandlers;
  history: CallHistory;
}

type Handler<D extends Api.ApiRequest> = (
  ctx: RequestContext,
  request: Api.ApiParsedRequestOf<D>,
) => Promise<Api.ApiReplyInputOf<D>>;
export type HandlerTable = { [D in Api.ApiRequest as D['name']]: Handler<D> };

/**
 * What each client request does, once validated, authorised and rate-limited (ApiDispatcher). Call
 * state changes go through the CallStore; media goes to the participant's SFU node. The same table
 * serves REST and Socket.IO.
 */
export class ApiHandlers {
  readonly #o: ApiHandlersOptions;
  readonly table: HandlerTable;

  constructor(options: ApiHandlersOptions) {
    this.#o = options;
    this.table = {
      createRoom: (ctx, r) => this.#createRoom(ctx, r),
      join: (ctx, r) => this.#join(ctx, r),
      getRoom: (ctx, r) => this.#getRoom(ctx, r.roomId),
      createTransport: (ctx, r) => this.#createTransport(ctx, r),
      connectTransport: (ctx, r) => this.#connectTransport(ctx, r),
      produce: (ctx, r) => this.#produce(ctx, r),
      consume: (ctx, r) => this.#consume(ctx, r),
      resumeConsumer: (ctx, r) => this.#resumeConsumer(ctx, r),
      closeProducer: (ctx, r) => this.#closeProducer(ctx, r),
      releaseNode: (ctx, r) => this.#releaseNode(ctx, r),
      leave: (ctx, r) => this.#leave(ctx, r.roomId),
      pathReady: (ctx, r) => this.#pathReady(ctx, r),
      signal: (ctx, r) => this.#signal(ctx, r),
      setMuted: (ctx, r) => options.mediaControl.setMuted(ctx, r),
      setConsumerPreferences: (ctx, r) => options.mediaControl.setConsumerPreferences(ctx, r),
      restartIce: (ctx, r) => options.mediaControl.restartIce(ctx, r),
      listCalls: (_ctx, r) => options.history.listCalls(r),
      listCallParticipants: (_ctx, r) => options.history.listParticipants(r),
      listCallTransitions: (_ctx, r) => options.history.listTransitions(r),
      listCallMetrics: (_ctx, r) => options.history.listMetrics(r),
    };
  }

  async #commit<T>(
    roomId: string,
    change: (draft: CallDraft) => T,
    init?: (now: number) => CallState,
  ): Promise<Committed<T>> {
    const committed = await this.#o.store.update(roomId, change, init);
    await this.#o.effects.run(roomId, committed.effects);
    return committed;
  }

  #init(roomId: string, maxParticipants = this.#o.maxParticipants) {
    return (now: number) => emptyCall(roomId, now, maxParticipants);
  }

  async #createRoom(
    _ctx: RequestContext,
    r: Api.ApiParsedRequestOf<typeof Api.CreateRoom>,
  ): Promise<Api.ApiReplyInputOf<typeof Api.CreateRoom>> {
    const existing = await this.#o.store.get(r.roomId);
    if (existing) return { roomId: r.roomId, created: false, maxParticipants: existing.maxParticipants };
    // Touching the draft makes the store write the fresh call; a concurrent create just wins.
    const { state } = await this.#commit(r.roomId, (d) => d.touch(), this.#init(r.roomId, r.maxParticipants));
    return { roomId: r.roomId, created: true, maxParticipants: state?.maxParticipants ?? r.maxParticipants };
  }

  async #join(
    ctx: RequestContext,
    r: Api.ApiParsedRequestOf<typeof Api.JoinRoom>,
  ): Promise<Api.ApiReplyInputOf<typeof Api.JoinRoom>> {
    const { principal } = ctx;
    const id = principal.identity;
    const connection = ctx.socket ? { nodeId: this.#o.nodeId, socketId: ctx.socket.id } : undefined;
    const { result, state } = await this.#commit(
      r.roomId,
      (draft) => {
        const existing = draft.participant(id);
        if (existing && r.resumeSessionId !== undefined && existing.sessionId === r.resumeSessionId) {
          const old = existing.connection;
          if (old && old.socketId !== connection?.socketId) {
            draft.emit({
              type: 'emit',
              to: 'socket',
              socketId: old.socketId,
              event: 'session-replaced',
              payload: { sessionId: existing.sessionId },
            });
          }
          draft.setConnection(id, connection);
          return { sessionId: existing.sessionId, resumed: true };
        }
        if (existing) {
          // The same identity joined again without its session: the newer join wins, as in LiveKit.
          if (existing.connection) {
            draft.emit({
              type: 'emit',
              to: 'socket',
              socketId: existing.connection.socketId,
              event: 'session-replaced',
              payload: { sessionId: existing.sessionId },
            });
          }
          draft.removeParticipant(id, 'replaced');
        } else if (draft.count >= draft.state.maxParticipants) {
          throw new TrellisError('CAPACITY_EXCEEDED', `room ${r.roomId} is full`, {
            roomId: r.roomId,
            maxParticipants: draft.state.maxParticipants,
          });
        }
        const record: ParticipantRecord = {
          id,
          name: principal.name,
          sessionId: randomUUID(),
          joinedAt: draft.now,
          canPublish: principal.grant.canPublish,
          canSubscribe: principal.grant.canSubscribe,
          admin: principal.grant.admin,
          // Without a socket (REST) the resume grace starts at once: events only reach sockets.
          ...(connection ? { connection } : { disconnectedAt: draft.now }),
        };
        draft.addParticipant(record);
        return { sessionId: record.sessionId, resumed: false };
      },
      this.#init(r.roomId),
    );
    ctx.socket?.bind(r.roomId, id, result.sessionId);
    return {
      participantId: id,
      sessionId: result.sessionId,
      resumed: result.resumed,
      iceServers: this.#o.iceServers(id),
      room: state ? snapshotOf(state) : await this.#snapshot(r.roomId),
    };
  }

  async #snapshot(roomId: string): Promise<Api.RoomSnapshot> {
    const state = await this.#o.store.get(roomId);
    if (!state) throw new TrellisError('ROOM_NOT_FOUND', `no call in room ${roomId}`, { roomId });
    return snapshotOf(state);
  }

  /** The caller's participant record; requests of someone who has not joined are refused. */
  async #participant(
    ctx: RequestContext,
    roomId: string,
  ): Promise<{ state: CallState; me: ParticipantRecord }> {
    const state = await this.#o.store.get(roomId);
    const me = state?.participants[ctx.principal.identity];
    if (!state || !me) {
      throw new TrellisError('PEER_NOT_FOUND', 'join the room first', {
        roomId,
        participantId: ctx.principal.identity,
      });
    }
    return { state, me };
  }

  /**
   * The caller's SFU node, chosen on first use. Refused while the call is peer to peer: a 1:1 call
   * holds no SFU resources at all.
   */
  async #sfuNode(
    ctx: RequestContext,
    roomId: string,
    known?: { state: CallState; me: ParticipantRecord },
  ): Promise<{ state: CallState; me: ParticipantRecord; nodeId: string }> {
    const { state, me } = known ?? (await this.#participant(ctx, roomId));
    requireSfu(state.mode, roomId);
    if (me.nodeId) return { state, me, nodeId: me.nodeId };
    const chosen = await this.#o.sfu.nodeFor(roomId, Object.keys(state.participants).length);
    const { result } = await this.#commit(roomId, (draft) => {
      const record = draft.participant(me.id);
      if (!record) throw new TrellisError('PEER_NOT_FOUND', 'you left the room', { roomId });
      requireSfu(draft.state.mode, roomId);
      if (!record.nodeId) {
        record.nodeId = chosen;
        draft.touch();
      }
      return record.nodeId;
    });
    return { state, me, nodeId: result };
  }

  async #getRoom(ctx: RequestContext, roomId: string): Promise<Api.RoomSnapshot> {
    const known = await this.#participant(ctx, roomId);
    const snapshot = snapshotOf(known.state);
    if (!usesSfu(known.state.mode)) return snapshot;
    const { nodeId } = await this.#sfuNode(ctx, roomId, known);
    const { rtpCapabilities } = await this.#o.sfu.request(
      nodeId,
      GetRouterCapabilities,
      { roomId },
      ctx.requestId,
    );
    return { ...snapshot, routerRtpCapabilities: rtpCapabilities };
  }

  async #createTransport(ctx: RequestContext, r: Api.ApiParsedRequestOf<typeof Api.CreateTransport>) {
    const { nodeId } = await this.#sfuNode(ctx, r.roomId);
    const reply = await this.#o.sfu.request(
      nodeId,
      CreateWebRtcTransport,
      { roomId: r.roomId, peerId: ctx.principal.identity, direction: r.direction, preferTcp: r.preferTcp },
      ctx.requestId,
    );
    const { sctpParameters: _unused, ...transport } = reply;
    return { ...transport, nodeId };
  }

  async #connectTransport(ctx: RequestContext, r: Api.ApiParsedRequestOf<typeof Api.ConnectTransport>) {
    const { nodeId } = await this.#sfuNode(ctx, r.roomId);
    return this.#o.sfu.request(
      nodeId,
      ConnectTransport,
      {
        roomId: r.roomId,
        peerId: ctx.principal.identity,
        transportId: r.transportId,
        dtlsParameters: r.dtlsParameters,
      },
      ctx.requestId,
    );
  }

  async #produce(ctx: RequestContext, r: Api.ApiParsedRequestOf<typeof Api.Produce>) {
    const { nodeId, me } = await this.#sfuNode(ctx, r.roomId);
    const peerId = ctx.principal.identity;
    // Publishing while muted (e.g. on the SFU after a switch) starts paused: nothing to forward.
    const paused = r.paused || (me.muted?.[r.kind] ?? false);
    const { producerId } = await this.#o.sfu.request(
      nodeId,
      SfuProduce,
      {
        roomId: r.roomId,
        peerId,
        transportId: r.transportId,
        kind: r.kind,
        rtpParameters: r.rtpParameters,
        paused,
        ...(r.appData ? { appData: r.appData } : {}),
      },
      ctx.requestId,
    );
    const { result: kept } = await this.#commit(r.roomId, (draft) => {
      const me = draft.participant(peerId);
      // Left, or moved to another node, while the producer was being made: it must not linger.
      if (!me || me.nodeId !== nodeId || !usesSfu(draft.state.mode)) return false;
      draft.addProducer({
        id: producerId,
        participantId: peerId,
        kind: r.kind,
        nodeId,
        paused,
        ...(r.appData ? { appData: r.appData } : {}),
      });
      return true;
    }).catch(async (error: unknown) => {
      await this.#closeOrphan(r.roomId, peerId, nodeId, producerId);
      throw error;
    });
    if (!kept) {
      await this.#closeOrphan(r.roomId, peerId, nodeId, producerId);
      throw new TrellisError('CONFLICT', 'the call left the SFU (or moved you) while publishing; try again', {
        roomId: r.roomId,
      });
    }
    return { producerId };
  }

  /** A producer made on the node but not recorded in the call: nobody would ever consume or close it. */
  async #closeOrphan(roomId: string, peerId: string, nodeId: string, producerId: string): Promise<void> {
    await this.#o.sfu
      .request(nodeId, SfuCloseProducer, { roomId, peerId, producerId })
      .catch(() => undefined);
  }

  async #consume(ctx: RequestContext, r: Api.ApiParsedRequestOf<typeof Api.ConsumeProducer>) {
    const { state, nodeId } = await this.#sfuNode(ctx, r.roomId);
    const producer = state.producers[r.producerId];
    if (!producer) {
      throw new TrellisError('PRODUCER_NOT_FOUND', `no producer ${r.producerId} in this call`, {
        roomId: r.roomId,
        producerId: r.producerId,
      });
    }
    const reply = await this.#o.sfu.request(
      nodeId,
      Consume,
      {
        roomId: r.roomId,
        peerId: ctx.principal.identity,
        transportId: r.transportId,
        producerId: r.producerId,
        rtpCapabilities: r.rtpCapabilities,
        ...(r.preferredLayers ? { preferredLayers: r.preferredLayers } : {}),
        ...(producer.nodeId !== nodeId ? { producerNodeId: producer.nodeId } : {}),
      },
      ctx.requestId,
    );
    return { ...reply, participantId: producer.participantId };
  }

  async #resumeConsumer(ctx: RequestContext, r: Api.ApiParsedRequestOf<typeof Api.ResumeConsumer>) {
    const { nodeId } = await this.#sfuNode(ctx, r.roomId);
    return this.#o.sfu.request(
      nodeId,
      SfuResumeConsumer,
      { roomId: r.roomId, peerId: ctx.principal.identity, consumerId: r.consumerId },
      ctx.requestId,
    );
  }

  async #closeProducer(ctx: RequestContext, r: Api.ApiParsedRequestOf<typeof Api.CloseProducer>) {
    const { state } = await this.#participant(ctx, r.roomId);
    const producer = state.producers[r.producerId];
    if (!producer) {
      throw new TrellisError('PRODUCER_NOT_FOUND', `no producer ${r.producerId} in this call`, {
        roomId: r.roomId,
        producerId: r.producerId,
      });
    }
    if (producer.participantId !== ctx.principal.identity) {
      throw new TrellisError('FORBIDDEN', 'that producer belongs to another participant', {
        roomId: r.roomId,
        producerId: r.producerId,
      });
    }
    await this.#o.sfu
      .request(
        producer.nodeId,
        SfuCloseProducer,
        { roomId: r.roomId, peerId: producer.participantId, producerId: producer.id },
        ctx.requestId,
      )
      .catch((error: unknown) => {
        // Already gone on its node (the peer left, its room closed): the call forgets it all the same.
        if (!(error instanceof TrellisError) || !GONE_ON_NODE.has(error.code)) throw error;
      });
    await this.#commit(r.roomId, (draft) => draft.removeProducer(producer.id));
    return { producerId: producer.id };
  }

  /**
   * The caller moved off `nodeId` (a drain) and its new path works: its peer there goes (the node
   * leaves once empty) and its producers there leave the call, in one request.
   */
  async #releaseNode(ctx: RequestContext, r: Api.ApiParsedRequestOf<typeof Api.ReleaseNode>) {
    await this.#participant(ctx, r.roomId);
    const id = ctx.principal.identity;
    const { result } = await this.#commit(r.roomId, (draft) => {
      const record = draft.participant(id);
      if (!record || record.movingFrom !== r.nodeId) {
        throw new TrellisError('NODE_NOT_FOUND', `you are not moving off node ${r.nodeId}`, {
          roomId: r.roomId,
          nodeId: r.nodeId,
        });
      }
      let closed = 0;
      for (const producer of Object.values(draft.state.producers)) {
        if (producer.participantId !== id || producer.nodeId !== r.nodeId) continue;
        draft.removeProducer(producer.id);
        closed += 1;
      }
      delete record.movingFrom;
      draft.touch();
      draft.emit({ type: 'close-sfu-peer', participantId: id, nodeId: r.nodeId });
      return closed;
    });
    return { producersClosed: result };
  }

  async #leave(ctx: RequestContext, roomId: string) {
    const { result } = await this.#commit(roomId, (draft) =>
      draft.removeParticipant(ctx.principal.identity, 'left'),
    );
    return { left: result };
  }

  async #pathReady(ctx: RequestContext, r: Api.ApiParsedRequestOf<typeof Api.ReportPathReady>) {
    await this.#participant(ctx, r.roomId);
    const { state } = await this.#commit(r.roomId, (draft) =>
      reportPathReady(draft, ctx.principal.identity, r.transitionId, r.path, r.mediaGapMs),
    );
    return {
      mode: state?.mode ?? 'idle',
      ...(state?.transition ? { transitionId: state.transition.id } : {}),
    };
  }

  async #signal(ctx: RequestContext, r: Api.ApiParsedRequestOf<typeof Api.RelaySignal>) {
    const { state } = await this.#participant(ctx, r.roomId);
    const target = state.participants[r.to];
    if (!target || r.to === ctx.principal.identity) {
      throw new TrellisError('PEER_NOT_FOUND', `no other participant ${r.to} in this call`, {
        roomId: r.roomId,
        to: r.to,
      });
    }
    await this.#o.effects.run(r.roomId, [
      {
        type: 'emit',
        to: 'participant',
        participantId: r.to,
        event: 'signal',
        payload: { from: ctx.principal.identity, signal: r.signal },
      },
    ]);
    return { delivered: target.connection !== undefined };
  }
}

/** Answers of an SFU node meaning the producer no longer exists there. */
const GONE_ON_NODE = new Set<string>(['PRODUCER_NOT_FOUND', 'PEER_NOT_FOUND', 'ROOM_NOT_FOUND']);

/** SFU requests are refused while the call is peer to peer: a 1:1 call holds no SFU resources at all. */
function requireSfu(mode: Api.CallMode, roomId: string): void {
  if (!usesSfu(mode)) {
    throw new TrellisError('CONFLICT', `the call is ${mode}: it has no SFU path now`, { roomId, mode });
  }
}
