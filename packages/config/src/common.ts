import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import {
  type EnvField,
  enumField,
  envField,
  intField,
  parseString,
  portField,
  stringField,
} from './fields.js';

export const NODE_ENVS = ['development', 'test', 'production'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];

/** pino's levels; 'silent' turns logging off (useful in tests). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// Node ids end up in Redis keys and stream names; braces would form Cluster hash tags.
const NODE_ID_PATTERN = { re: /^[A-Za-z0-9._-]{1,64}$/, what: '1-64 characters of A-Z a-z 0-9 . _ -' };

/** Hostname alone is not unique when two processes share a host (local runs, hostNetwork pods). */
export function defaultNodeId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 50) || 'node';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

/** Each service gets its own default so several can run on one machine without colliding. */
export function metricsPortField(defaultPort: number): EnvField<number> {
  return portField({
    default: defaultPort,
    allowZero: true,
    description: 'Port of the Prometheus /metrics and /healthz server (0 = ephemeral)',
  });
}

export const commonEnv = z.object({
  NODE_ENV: enumField(NODE_ENVS, { default: 'development', description: 'Runtime environment' }),
  LOG_LEVEL: enumField(LOG_LEVELS, { default: 'info', description: 'Minimum pino log level' }),
  NODE_ID: envField(parseString(1, NODE_ID_PATTERN), {
    default: defaultNodeId,
    defaultLabel: '<hostname>-<6 random hex>',
    description: 'Unique id of this process in the cluster (node registry, stream consumers)',
  }),
  REGION: stringField({ default: 'local', description: 'Region label used for node selection and metrics' }),
  METRICS_PORT: metricsPortField(9464),
  SHUTDOWN_TIMEOUT_MS: intField({
    min: 100,
    max: 600_000,
    default: 8_000,
    description:
      'After SIGTERM/SIGINT the process exits within this, whatever its dependencies do (an SFU adds SFU_DRAIN_TIMEOUT_MS to a SIGTERM drain)',
  }),
  NODE_LOSS_GRACE_MS: intField({
    min: 0,
    max: 60_000,
    default: 500,
    description:
      'A node whose Redis connection has been closed this long is declared lost at once (its process died); 0 waits for its heartbeat TTL only',
  }),
});

export interface CommonConfig {
  env: NodeEnv;
  logLevel: LogLevel;
  nodeId: string;
  region: string;
  metricsPort: number;
  /** From a shutdown signal to the process's exit at the latest. */
  shutdownTimeoutMs: number;
  /** A node whose bus connection is gone this long is lost; 0: heartbeat TTL only. */
  nodeLossGraceMs: number;
}

export function toCommonConfig(e: z.output<typeof commonEnv>): CommonConfig {
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    nodeId: e.NODE_ID,
    region: e.REGION,
    metricsPort: e.METRICS_PORT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    nodeLossGraceMs: e.NODE_LOSS_GRACE_MS,
  };
}

export const commonConfig = commonEnv.transform(toCommonConfig);
