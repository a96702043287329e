import { z } from 'zod';
import { type CommonConfig, commonEnv, metricsPortField, toCommonConfig } from '../common.js';
import { intField, urlField } from '../fields.js';
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
});

export interface PersisterConfig extends CommonConfig {
  redis: RedisConnectionConfig;
  databaseUrl: string;
  concurrency: number;
}

export const persisterConfig = persisterEnv.transform(
  (e, ctx): PersisterConfig => ({
    ...toCommonConfig(e),
    redis: toRedisConfig(e, ctx),
    databaseUrl: e.DATABASE_URL,
    concurrency: e.PERSISTER_CONCURRENCY,
  }),
);
