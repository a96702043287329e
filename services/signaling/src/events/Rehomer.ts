import { type Api, GetRouterCapabilities } from '@trellis/protocol';
import type { Logger } from 'pino';
import type { CallStore } from '../call/CallStore';
import type { EffectRunner } from '../call/EffectRunner';
import { usesSfu } from '../call/modeMachine';
import type { SfuGateway } from '../media/SfuGateway';
import type { SignalingMetrics } from '../metrics';

type Reason = Api.ClientEventPayload<'rehome'>['reason'];

export interface RehomerOptions {
  store: CallStore;
  sfu: SfuGateway;
  effects: EffectRunner;
  metrics: SignalingMetrics;
  logger: Logger;
}

/**
 * Moves participants off an SFU node that died, drains, or lost their room (worker death): each gets
 * a node from the selector and is told to rebuild its transports — which land on the new node — and
 * publish again. Producers on a dead node or room are forgotten at once (the others' consumers of
 * them close). A draining node still forwards: its producers stay in the call, so the others keep
 * watching them until the moved participant's new ones flow and it closes the old (make-before-break).
 */
export class Rehomer {
  readonly #o: RehomerOptions;

  constructor(options: RehomerOptions) {
    this.#o = options;
  }

  /** Re-homes those of `participantIds` still on `fromNodeId` (all of them if not given). */
  async rehome(
    roomId: string,
    fromNodeId: string,
    reason: Reason,
    participantIds?: readonly string[],
  ): Promise<string[]> {
    const { store, sfu, effects, metrics, logger } = this.#o;
    const state = await store.get(roomId);
    if (!state || !usesSfu(state.mode)) return [];
    const affected = Object.values(state.participants).filter(
      (p) => p.nodeId === fromNodeId && (participantIds === undefined || participantIds.includes(p.id)),
    );
    const stale =
      reason !== 'draining' && Object.values(state.producers).some((p) => p.nodeId === fromNodeId);
    if (affected.length === 0 && !stale) return [];
    const count = Object.keys(state.participants).length;
    const chosen = new Map<string, string>();
    for (const p of affected) chosen.set(p.id, await sfu.nodeFor(roomId, count));
    // The room's router is made on each new node now, while its participants are being told: their
    // first request there finds it, and the event carries its capabilities (one round trip fewer).
    const targets = [...new Set(chosen.values())];
    const replies = await Promise.all(
      targets.map((nodeId) =>
        sfu.request(nodeId, GetRouterCapabilities, { roomId }).then(
          (r) => r.rtpCapabilities,
          () => undefined,
        ),
      ),
    );
    const capabilities = new Map(targets.map((nodeId, i) => [nodeId, replies[i]]));

    const committed = await store.update(roomId, (draft) => {
      const moved: string[] = [];
      if (reason !== 'draining') {
        // Producers left on the dead node by someone who had already moved (off a drain) go too.
        for (const producer of Object.values(draft.state.producers)) {
          if (producer.nodeId === fromNodeId) draft.removeProducer(producer.id);
        }
        for (const record of Object.values(draft.state.participants)) {
          if (record.movingFrom !== fromNodeId) continue;
          delete record.movingFrom;
          draft.touch();
        }
      }
      for (const [id, nodeId] of chosen) {
        const record = draft.participant(id);
        if (!record || record.nodeId !== fromNodeId) continue;
        record.nodeId = nodeId;
        if (reason === 'draining') record.movingFrom = fromNodeId;
        draft.touch();
        const routerRtpCapabilities = capabilities.get(nodeId);
        draft.emit({
          type: 'emit',
          to: 'participant',
          participantId: id,
          event: 'rehome',
          payload: {
            nodeId,
            reason,
            ...(routerRtpCapabilities ? { routerRtpCapabilities } : {}),
          },
        });
        moved.push(id);
      }
      return moved;
    });
    await effects.run(roomId, committed.effects);
    metrics.rehomed.inc({ reason }, committed.result.length);
    if (committed.result.length > 0) {
      logger.info(
        { roomId, fromNodeId, reason, moved: committed.result, to: targets },
        'participants re-homed',
      );
    }
    return committed.result;
  }
}
