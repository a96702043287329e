import type { Logger } from 'pino';
import { fieldOf } from './codec';
import type { BusKeys } from './keys';
import type { BusMetrics } from './metrics';
import type { RedisClient } from './redis/connection';

export interface DeadLetter {
  /** Where it came from: a stream key or a pub/sub channel. */
  origin: string;
  originKind: 'command' | 'reply' | 'event' | 'broadcast';
  reason: string;
  raw: string | undefined;
  entryId?: string;
}

/**
 * Invalid messages go to one capped stream an operator can inspect (XRANGE trellis:dead-letters),
 * with a log line and a metric; the consumer that found them carries on.
 */
export class DeadLetterSink {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: BusKeys,
    private readonly metrics: BusMetrics,
    private readonly logger: Logger,
    private readonly maxLen = 10_000,
  ) {}

  /** An entry that failed too many deliveries: kept for inspection instead of retried forever. */
  poison(
    originKind: DeadLetter['originKind'],
    entry: { stream: string; id: string; fields: readonly string[] },
    deliveries: number,
  ): Promise<void> {
    return this.send({
      origin: entry.stream,
      originKind,
      entryId: entry.id,
      reason: `poison: delivered ${deliveries} times`,
      raw: fieldOf(entry.fields),
    });
  }

  async send(letter: DeadLetter): Promise<void> {
    this.metrics.deadLetters.inc({ origin_kind: letter.originKind, reason: reasonLabel(letter.reason) });
    this.logger.warn(
      {
        origin: letter.origin,
        entryId: letter.entryId,
        reason: letter.reason,
        raw: letter.raw?.slice(0, 512),
      },
      'bus message dead-lettered',
    );
    try {
      await this.redis.xadd(
        this.keys.deadLetters(),
        'MAXLEN',
        '~',
        this.maxLen,
        '*',
        'origin',
        letter.origin,
        'kind',
        letter.originKind,
        'reason',
        letter.reason,
        'entry',
        letter.entryId ?? '',
        'raw',
        letter.raw ?? '',
        'ts',
        String(Date.now()),
      );
    } catch (error) {
      // The log line above already holds the message; losing the copy must not stop the consumer.
      this.logger.error({ err: error }, 'could not write dead letter');
    }
  }
}

/** Metric labels must stay few: keep the reason's category, not its details. */
function reasonLabel(reason: string): string {
  return reason.split(':')[0]!.slice(0, 40);
}
