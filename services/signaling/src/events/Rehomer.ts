import type { Api } from '@trellis/protocol';
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
 * a node from the selector, its old producers are forgotten (the others' consumers of them close),
 * and it is told to rebuild its transports — which land on the new node — and publish again.
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
    if (affected.length === 0) return [];
    const count = Object.keys(state.participants).length;
    const chosen = new Map<string, string>();
    for (const p of affected) chosen.set(p.id, await sfu.nodeFor(roomId, count));

    const committed = await store.update(roomId, (draft) => {
      const moved: string[] = [];
      for (const [id, nodeId] of chosen) {
        const record = draft.participant(id);
        if (!record || record.nodeId !== fromNodeId) continue;
        for (const producer of Object.values(draft.state.producers)) {
          if (producer.participantId === id) draft.removeProducer(producer.id);
        }
        record.nodeId = nodeId;
        draft.touch();
        draft.emit({
          type: 'emit',
          to: 'participant',
          participantId: id,
          event: 'rehome',
          payload: { nodeId, reason },
        });
        moved.push(id);
      }
      return moved;
    });
    await effects.run(roomId, committed.effects);
    metrics.rehomed.inc({ reason }, committed.result.length);
    if (committed.result.length > 0) {
      logger.info(
        { roomId, fromNodeId, reason, moved: committed.result, to: [...new Set(chosen.values())] },
        'participants re-homed',
      );
    }
    return committed.result;
  }
}
