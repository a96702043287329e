import { z } from 'zod';
import { type CommonConfig, commonEnv, metricsPortField, toCommonConfig } from '../common.js';
import { envField, intField, parseList, parseString, parseUrl, urlField } from '../fields.js';
import { type RedisConnectionConfig, redisEnv, toRedisConfig } from '../redis.js';

export const persisterEnv = z.object({
  ...commonEnv.shape,
  ...redisEnv.shape,
  METRICS_PORT: metricsPortField(9466),
  DATABASE_URL: urlField({
    default: 'postgresql://postgres@127.0.0.1:5432/trellis',
    protocols: ['postgresql:', 'postgres:'],
    // Carries the database password in production.
    secret: true,
    description: 'PostgreSQL connection string (Prisma)',
  }),
  PERSISTER_CONCURRENCY: intField({
    min: 1,
    max: 256,
    default: 8,
    description: 'BullMQ jobs processed in parallel by this process',
  }),
  PERSISTER_METRICS_CONCURRENCY: intField({
    min: 1,
    max: 256,
    default: 4,
    description: 'metrics.sample jobs (one per room and sampling tick) written in parallel',
  }),
  PERSISTER_JOB_LOCK_MS: intField({
    min: 1000,
    max: 600_000,
    default: 30_000,
    description:
      "A job's lock, renewed while it runs: a crashed persister's jobs are run again this long after it died",
  }),
  WEBHOOK_URLS: envField(parseList(parseUrl(['https:', 'http:']), 'http(s) URLs'), {
    default: [],
    defaultLabel: 'none',
    description: 'Where room, participant, track and mode events are POSTed (comma-separated)',
  }),
  WEBHOOK_SECRET: envField(parseString(16), {
    secret: true,
    description: 'HMAC-SHA256 key signing webhook bodies (x-trellis-signature); required with WEBHOOK_URLS',
  }),
  WEBHOOK_TIMEOUT_MS: intField({
    min: 100,
    max: 60_000,
    default: 5000,
    description: 'How long one webhook delivery waits for a 2xx before it counts as failed and is retried',
  }),
  WEBHOOK_CONCURRENCY: intField({
    min: 1,
    max: 256,
    default: 8,
    description: 'Webhook deliveries in flight at once',
  }),
});

export interface PersisterConfig extends CommonConfig {
  redis: RedisConnectionConfig;
  databaseUrl: string;
  concurrency: number;
  metricsConcurrency: number;
  jobLockMs: number;
  webhooks: { urls: string[]; secret?: string; timeoutMs: number; concurrency: number };
}

export const persisterConfig = persisterEnv.transform((e, ctx): PersisterConfig => {
  if (e.WEBHOOK_URLS.length > 0 && e.WEBHOOK_SECRET === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['WEBHOOK_SECRET'],
      message: 'is required when WEBHOOK_URLS is set',
    });
  }
  return {
    ...toCommonConfig(e),
    redis: toRedisConfig(e, ctx),
    databaseUrl: e.DATABASE_URL,
    concurrency: e.PERSISTER_CONCURRENCY,
    metricsConcurrency: e.PERSISTER_METRICS_CONCURRENCY,
    jobLockMs: e.PERSISTER_JOB_LOCK_MS,
    webhooks: {
      urls: e.WEBHOOK_URLS,
      ...(e.WEBHOOK_SECRET === undefined ? {} : { secret: e.WEBHOOK_SECRET }),
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      concurrency: e.WEBHOOK_CONCURRENCY,
    },
  };
});
