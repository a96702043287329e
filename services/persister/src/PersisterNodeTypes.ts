import type { Db } from '@trellis/db';
import type { MetricsRegistry } from '@trellis/telemetry';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface PersisterNodeOptions {
  db: Db;
  /** BullMQ duplicates it for its blocking reads; the node does not close it. */
  connection: Redis | Cluster;
  keyPrefix: string;
  logger: Logger;
  metrics: MetricsRegistry;
  /** Call event jobs run in parallel. */
  concurrency: number;
  /** metrics.sample jobs run in parallel. */
  metricsConcurrency: number;
  /** Lock on a running job; a dead persister's jobs are taken back (stalled) after about this long. */
  jobLockMs?: number;
  webhooks: { urls: string[]; secret?: string; timeoutMs: number; concurrency: number };
}

export type PersisterState = 'starting' | 'serving' | 'stopping' | 'stopped';
