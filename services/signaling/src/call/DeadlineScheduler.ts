import { isTrellisError } from '@trellis/protocol';
import type { Logger } from 'pino';
import type { CallStore } from './CallStore';
import type { EffectRunner } from './EffectRunner';

export interface DeadlineSchedulerOptions {
  store: CallStore;
  effects: EffectRunner;
  logger: Logger;
  intervalMs?: number;
  batch?: number;
}

/**
 * Runs the mode machine of calls whose deadline passed (migration timeouts, retries, hysteresis,
 * resume grace). Every signaling node polls the same due index; the call's CAS makes sure a deadline
 * acts once however many nodes see it, and a node that dies leaves its calls' deadlines to the rest.
 */
export class DeadlineScheduler {
  readonly #o: Required<DeadlineSchedulerOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(options: DeadlineSchedulerOptions) {
    this.#o = { intervalMs: 200, batch: 50, ...options };
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#running ??= this.runDue().finally(() => {
        this.#running = undefined;
      });
    }, this.#o.intervalMs);
  }

  async runDue(): Promise<number> {
    const { store, effects, logger, batch } = this.#o;
    let rooms: string[];
    try {
      rooms = await store.due(batch);
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : error }, 'deadline poll failed');
      return 0;
    }
    for (const roomId of rooms) {
      try {
        const committed = await store.tick(roomId);
        await effects.run(roomId, committed.effects);
      } catch (error) {
        if (isTrellisError(error, 'ROOM_NOT_FOUND')) await store.unschedule(roomId);
        else
          logger.warn({ roomId, err: error instanceof Error ? error.message : error }, 'deadline run failed');
      }
    }
    return rooms.length;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
