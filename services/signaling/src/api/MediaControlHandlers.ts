import {
  type Api,
  PauseConsumer,
  PauseProducer,
  ResumeConsumer,
  ResumeProducer,
  RestartIce as SfuRestartIce,
  SetConsumerPreferences as SfuSetConsumerPreferences,
  TrellisError,
} from '@trellis/protocol';
import type { Logger } from 'pino';
import { participantInfo } from '../call/CallDraft';
import type { CallStore } from '../call/CallStore';
import type { EffectRunner } from '../call/EffectRunner';
import type { SfuGateway } from '../media/SfuGateway';
import type { RequestContext } from './RequestContext';

export interface MediaControlHandlersOptions {
  store: CallStore;
  sfu: SfuGateway;
  effects: EffectRunner;
  logger: Logger;
}

type Req<D extends Api.RequestDef> = Api.ApiParsedRequestOf<D>;
type Reply<D extends Api.RequestDef> = Promise<Api.ApiReplyInputOf<D>>;

/**
 * Requests that adjust media already flowing: mute state (call state every participant sees, plus
 * paused producers on the SFU) and per-consumer receive preferences and ICE restarts, which only
 * concern the caller's own SFU node.
 */
export class MediaControlHandlers {
  readonly #o: MediaControlHandlersOptions;

  constructor(options: MediaControlHandlersOptions) {
    this.#o = options;
  }

  async setMuted(ctx: RequestContext, r: Req<typeof Api.SetMuted>): Reply<typeof Api.SetMuted> {
    const id = ctx.principal.identity;
    const committed = await this.#o.store.update(r.roomId, (draft) => {
      const me = draft.participant(id);
      if (!me) throw notJoined(r.roomId, id);
      const muted = { audio: me.muted?.audio ?? false, video: me.muted?.video ?? false };
      if (muted[r.kind] === r.muted) return { info: participantInfo(me), producers: [] };
      muted[r.kind] = r.muted;
      me.muted = muted;
      draft.touch();
      const producers = Object.values(draft.state.producers).filter(
        (p) => p.participantId === id && p.kind === r.kind,
      );
      for (const producer of producers) producer.paused = r.muted;
      const info = participantInfo(me);
      draft.emit({
        type: 'emit',
        to: 'room',
        except: id,
        event: 'participant-updated',
        payload: { participant: info },
      });
      return { info, producers: producers.map((p) => ({ id: p.id, nodeId: p.nodeId })) };
    });
    await this.#o.effects.run(r.roomId, committed.effects);
    // A paused producer forwards nothing: a muted camera costs the SFU and the receivers no bandwidth.
    const command = r.muted ? PauseProducer : ResumeProducer;
    await Promise.all(
      committed.result.producers.map((p) =>
        this.#o.sfu
          .request(p.nodeId, command, { roomId: r.roomId, peerId: id, producerId: p.id }, ctx.requestId)
          .catch((error: unknown) =>
            this.#o.logger.warn(
              { roomId: r.roomId, producerId: p.id, err: error instanceof Error ? error.message : error },
              'could not pause/resume a muted producer',
            ),
          ),
      ),
    );
    return { participant: committed.result.info };
  }

  async setConsumerPreferences(
    ctx: RequestContext,
    r: Req<typeof Api.SetConsumerPreferences>,
  ): Reply<typeof Api.SetConsumerPreferences> {
    if (r.paused === undefined && r.preferredLayers === undefined && r.priority === undefined) {
      throw new TrellisError('VALIDATION_FAILED', 'give paused, preferredLayers or priority', {
        roomId: r.roomId,
        consumerId: r.consumerId,
      });
    }
    const nodeId = await this.#nodeOf(ctx, r.roomId);
    const peerId = ctx.principal.identity;
    const scope = { roomId: r.roomId, peerId, consumerId: r.consumerId };
    if (r.preferredLayers !== undefined || r.priority !== undefined) {
      await this.#o.sfu.request(
        nodeId,
        SfuSetConsumerPreferences,
        {
          ...scope,
          ...(r.preferredLayers ? { preferredLayers: r.preferredLayers } : {}),
          ...(r.priority !== undefined ? { priority: r.priority } : {}),
        },
        ctx.requestId,
      );
    }
    if (r.paused === undefined) return { consumerId: r.consumerId };
    const reply = await this.#o.sfu.request(
      nodeId,
      r.paused ? PauseConsumer : ResumeConsumer,
      scope,
      ctx.requestId,
    );
    return { consumerId: r.consumerId, paused: reply.paused };
  }

  async restartIce(ctx: RequestContext, r: Req<typeof Api.RestartIce>): Reply<typeof Api.RestartIce> {
    const nodeId = await this.#nodeOf(ctx, r.roomId);
    return this.#o.sfu.request(
      nodeId,
      SfuRestartIce,
      { roomId: r.roomId, peerId: ctx.principal.identity, transportId: r.transportId },
      ctx.requestId,
    );
  }

  /** The caller's SFU node: its transports and consumers live there, so it must have one already. */
  async #nodeOf(ctx: RequestContext, roomId: string): Promise<string> {
    const id = ctx.principal.identity;
    const me = (await this.#o.store.get(roomId))?.participants[id];
    if (!me) throw notJoined(roomId, id);
    if (!me.nodeId)
      throw new TrellisError('CONFLICT', 'you have no SFU transports in this call', {
        roomId,
        participantId: id,
      });
    return me.nodeId;
  }
}

function notJoined(roomId: string, participantId: string): TrellisError {
  return new TrellisError('PEER_NOT_FOUND', 'join the room first', { roomId, participantId });
}
