import { z } from 'zod';
import { type HostPort, hostPortListField, stringField, urlField } from './fields.js';

export type RedisConnectionConfig =
  | { mode: 'single'; url: string; keyPrefix: string }
  | {
      mode: 'sentinel';
      sentinels: { host: string; port: number }[];
      name: string;
      password?: string;
      keyPrefix: string;
    }
  | { mode: 'cluster'; nodes: { host: string; port: number }[]; password?: string; keyPrefix: string };

export const redisEnv = z.object({
  REDIS_URL: urlField({
    default: 'redis://127.0.0.1:6379',
    protocols: ['redis:', 'rediss:'],
    // May embed a password.
    secret: true,
    description: 'Single Redis server (ignored when REDIS_SENTINELS or REDIS_CLUSTER_NODES is set)',
  }),
  REDIS_SENTINELS: hostPortListField({ description: 'Sentinel mode: "host:port,host:port"' }),
  REDIS_SENTINEL_NAME: stringField({
    description: 'Sentinel mode: master group name (required with sentinels)',
  }),
  REDIS_PASSWORD: stringField({
    secret: true,
    description: 'Password for sentinel/cluster mode, or added to REDIS_URL',
  }),
  REDIS_CLUSTER_NODES: hostPortListField({ description: 'Cluster mode: seed nodes "host:port,host:port"' }),
  REDIS_KEY_PREFIX: stringField({
    default: 'trellis:',
    description: 'Prefix of every Redis key and BullMQ queue',
  }),
});

type RedisEnv = z.output<typeof redisEnv>;
type IssueSink = z.core.$RefinementCtx;

/** Cluster beats sentinel beats single, so one REDIS_URL default never masks an explicit choice. */
export function toRedisConfig(e: RedisEnv, ctx: IssueSink): RedisConnectionConfig {
  const keyPrefix = e.REDIS_KEY_PREFIX;
  const password = e.REDIS_PASSWORD;
  if (e.REDIS_CLUSTER_NODES) {
    return withPassword({ mode: 'cluster', nodes: copy(e.REDIS_CLUSTER_NODES), keyPrefix }, password);
  }
  if (e.REDIS_SENTINELS) {
    const name = e.REDIS_SENTINEL_NAME;
    if (name === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_SENTINEL_NAME'],
        message: 'is required when REDIS_SENTINELS is set (the master group name)',
      });
      return z.NEVER;
    }
    return withPassword({ mode: 'sentinel', sentinels: copy(e.REDIS_SENTINELS), name, keyPrefix }, password);
  }
  return { mode: 'single', url: addPassword(e.REDIS_URL, password), keyPrefix };
}

function withPassword<T extends object>(config: T, password: string | undefined): T & { password?: string } {
  return password === undefined ? config : { ...config, password };
}

const copy = (list: HostPort[]) => list.map(({ host, port }) => ({ host, port }));

// Helm keeps the password in a Secret apart from the URL in a ConfigMap; join them here.
function addPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const u = new URL(url);
  if (u.password !== '') return url;
  u.password = password;
  return u.toString();
}

export const redisConfig = redisEnv.transform(toRedisConfig);
