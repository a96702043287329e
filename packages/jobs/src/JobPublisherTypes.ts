import type { Jobs } from '@trellis/protocol';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface JobPublisherOptions {
  /** A connection of the publisher's own (it is not closed by the publisher). */
  connection: Redis | Cluster;
  /** The service's REDIS_KEY_PREFIX. */
  keyPrefix: string;
  logger: Logger;
  /** Jobs waiting to be sent at most; beyond it new jobs are dropped and counted. */
  maxBacklog?: number;
  /** Jobs sent to Redis in one round trip at most. */
  batchSize?: number;
}

export interface JobPublisherStats {
  /** Accepted by Redis. */
  sent: number;
  /** Refused because the backlog was full (Redis slow or unreachable for long). */
  dropped: number;
  /** Refused because the data did not match its protocol schema (a bug: logged). */
  invalid: number;
  /** Waiting to be sent. */
  backlog: number;
}

export type PublishableJob = {
  [N in Jobs.PersistJobName]: { name: N; data: Jobs.PersistJobData<N> };
}[Jobs.PersistJobName];
