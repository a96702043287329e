import { Jobs } from '@trellis/protocol';
import type { DefaultJobOptions } from 'bullmq';

/**
 * The three queues. Call events and metrics are apart so a burst of samples from a 50-person call
 * never delays a call's own events; webhooks are apart because their receivers are outside our
 * control and may be slow or down for hours.
 */
export const QueueName = {
  calls: 'trellis-calls',
  metrics: 'trellis-metrics',
  webhooks: 'trellis-webhooks',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

/** Which queue carries each persistence job. */
export function queueOf(name: Jobs.PersistJobName): QueueName {
  return name === 'metrics.sample' ? QueueName.metrics : QueueName.calls;
}

/**
 * BullMQ's key prefix. The hash tag keeps every key of a queue in one Redis Cluster slot, which
 * BullMQ's Lua scripts need.
 */
export function queuePrefix(keyPrefix: string): string {
  return `${keyPrefix}{jobs}`;
}

/**
 * Backoff types handled by `backoffStrategy`: exponential from the job's `delay`, doubling per
 * attempt up to a cap. BullMQ's own exponential has no cap, so after a long outage a job's next
 * try could be an hour away; capped, a job retries within `cap` of the database coming back.
 */
export const Backoff = {
  /** Database writes: 1 s, 2 s, … 30 s, then every 30 s. */
  store: 'trellis-exp-30s',
  /** Webhook receivers, outside our control: 2 s doubling up to 10 min. */
  webhook: 'trellis-exp-10m',
} as const;
const backoffCaps: Record<string, number> = { [Backoff.store]: 30_000, [Backoff.webhook]: 600_000 };

/** The workers' `settings.backoffStrategy`: ±10 % jitter so retries after an outage do not stampede. */
export function backoffStrategy(
  attemptsMade: number,
  type?: string,
  _error?: Error,
  job?: { opts: { backoff?: number | { delay?: number } } },
): number {
  const backoff = job?.opts.backoff;
  const base = typeof backoff === 'number' ? backoff : (backoff?.delay ?? 1000);
  const cap = backoffCaps[type ?? ''] ?? 30_000;
  const delay = Math.min(cap, base * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(delay * (0.9 + Math.random() * 0.2));
}

/**
 * Database jobs: 150 attempts at the capped backoff span about 75 minutes, so a PostgreSQL
 * restart or a long outage is ridden out. Completed jobs are kept for a day (their ids are what
 * makes a replayed event a no-op); failed ones for a week, for inspection and retry.
 */
export const defaultJobOptions: Record<QueueName, DefaultJobOptions> = {
  [QueueName.calls]: {
    attempts: 150,
    backoff: { type: Backoff.store, delay: 1000 },
    removeOnComplete: { age: 24 * 3600, count: 100_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  },
  [QueueName.metrics]: {
    attempts: 150,
    backoff: { type: Backoff.store, delay: 1000 },
    removeOnComplete: { age: 3600, count: 20_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  },
  [QueueName.webhooks]: {
    // 2 s doubling to 10 min: about 24 hours of attempts.
    attempts: 150,
    backoff: { type: Backoff.webhook, delay: 2000 },
    removeOnComplete: { age: 24 * 3600, count: 50_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  },
};

/** Validates a job's data against its protocol schema (both when it is added and when it is run). */
export function parseJob<N extends Jobs.PersistJobName>(name: N, data: unknown): Jobs.PersistJobData<N> {
  return Jobs.persistJobs[name].parse(data) as Jobs.PersistJobData<N>;
}

export function isPersistJobName(name: string): name is Jobs.PersistJobName {
  return Object.hasOwn(Jobs.persistJobs, name);
}
