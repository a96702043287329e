import type { JobPublisher } from '@trellis/jobs';
import type { Api } from '@trellis/protocol';
import type { Logger } from 'pino';
import type { SfuGateway } from '../media/SfuGateway';
import type { ClientNotifier } from '../notify/ClientNotifier';
import type { CallEffect, TransitionRecord } from './CallStateTypes';

export interface TransitionObserver {
  transitionEnded(
    roomId: string,
    transition: TransitionRecord,
    result: 'completed' | 'rolled-back' | 'aborted',
  ): void;
}

export interface EffectRunnerOptions {
  notifier: ClientNotifier;
  sfu: SfuGateway;
  logger: Logger;
  observer?: TransitionObserver;
  /** Queues the call's history for the persister; never blocks (JobPublisher). */
  recorder?: Pick<JobPublisher, 'publish'>;
}

/**
 * Carries out what a committed call change asks for. Client events go first (they are what the
 * participants wait on); SFU releases follow in parallel and never fail the request that caused them.
 */
export class EffectRunner {
  readonly #o: EffectRunnerOptions;

  constructor(options: EffectRunnerOptions) {
    this.#o = options;
  }

  async run(roomId: string, effects: readonly CallEffect[]): Promise<void> {
    const releases: Promise<void>[] = [];
    for (const effect of effects) {
      switch (effect.type) {
        case 'emit':
          this.#emit(roomId, effect);
          break;
        case 'close-sfu-peer':
          releases.push(this.#o.sfu.closePeer(roomId, effect.participantId, effect.nodeId));
          break;
        case 'transition-ended':
          this.#o.logger.info(
            {
              roomId,
              transitionId: effect.transition.id,
              to: effect.transition.to,
              attempt: effect.transition.attempt,
              result: effect.result,
              gaps: effect.transition.gaps,
            },
            'mode transition ended',
          );
          this.#o.observer?.transitionEnded(roomId, effect.transition, effect.result);
          break;
        case 'call-ended':
          releases.push(this.#o.sfu.releaseCall(roomId));
          break;
        case 'record':
          for (const r of effect.records) this.#o.recorder?.publish(r.name, r.data);
          break;
      }
    }
    await Promise.all(releases);
  }

  #emit(roomId: string, effect: Extract<CallEffect, { type: 'emit' }>): void {
    const { notifier } = this.#o;
    const event = effect.event as Api.ClientEventName;
    const payload = effect.payload as never;
    if (effect.to === 'room') notifier.toRoom(roomId, event, payload, effect.except);
    else if (effect.to === 'participant')
      notifier.toParticipant(roomId, effect.participantId, event, payload);
    else notifier.toSocket(effect.socketId, event, payload);
  }
}
