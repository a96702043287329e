import type { RedisConnectionConfig } from '@trellis/config';
import { throttledWarn } from '@trellis/telemetry';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export type RedisClient = Redis | Cluster;

export interface ConnectionOptions {
  /** Shown by CLIENT LIST, which is how an operator tells the bus's connections apart. */
  name: string;
  /** Batch concurrent commands into one round trip; off for connections that block (XREAD BLOCK). */
  autoPipelining?: boolean;
  /** Connection errors are logged here (at most one line per connection per 5 s while it is down). */
  logger?: Logger;
}

/**
 * Every bus connection is made here, so all of them survive a Redis restart the same way:
 * commands never fail because the connection is down (maxRetriesPerRequest: null) — they wait in
 * the offline queue and the bus's own deadlines decide when a caller gives up — and commands in
 * flight when the socket dropped are re-sent after the reconnect (the stream consumers are
 * idempotent for exactly this reason). A READONLY reply means a Sentinel failover demoted the
 * server we talk to: reconnect, which asks the sentinels for the new master, and re-send.
 */
export function createRedisConnection(config: RedisConnectionConfig, opts: ConnectionOptions): RedisClient {
  return watchErrors(connect(config, opts), opts.name, opts.logger);
}

function connect(config: RedisConnectionConfig, opts: ConnectionOptions): RedisClient {
  const common: RedisOptions = {
    connectionName: opts.name,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    enableAutoPipelining: opts.autoPipelining ?? false,
    autoResendUnfulfilledCommands: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
  };
  switch (config.mode) {
    case 'single':
      return new Redis(config.url, common);
    case 'sentinel':
      return new Redis({
        ...common,
        sentinels: config.sentinels,
        name: config.name,
        ...(config.password === undefined
          ? {}
          : { password: config.password, sentinelPassword: config.password }),
      });
    case 'cluster':
      return new Cluster(config.nodes, {
        enableAutoPipelining: opts.autoPipelining ?? false,
        enableOfflineQueue: true,
        clusterRetryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
        redisOptions: {
          ...common,
          ...(config.password === undefined ? {} : { password: config.password }),
        },
      });
  }
}

/** A second connection to the same Redis, for a consumer that blocks on reads. */
export function duplicateConnection(client: RedisClient, name: string, logger?: Logger): RedisClient {
  const copy =
    client instanceof Cluster
      ? client.duplicate(undefined, {
          redisOptions: { ...client.options.redisOptions, connectionName: name },
        })
      : client.duplicate({ connectionName: name, enableAutoPipelining: false });
  return watchErrors(copy, name, logger);
}

/**
 * ioredis reports every failed reconnect attempt as an 'error' event; without a listener Node
 * prints each one. The reconnect itself is automatic, so one log line now and then is enough.
 */
function watchErrors(client: RedisClient, name: string, logger: Logger | undefined): RedisClient {
  const warn = throttledWarn(logger, 'redis connection error; reconnecting');
  client.on('error', (error: Error) => warn({ connection: name, err: error.message }));
  return client;
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** Resolves once the connection is ready (or immediately if it already is). */
export async function connected(client: RedisClient): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      client.off('end', onEnd);
      resolve();
    };
    const onEnd = () => {
      client.off('ready', onReady);
      reject(new Error('redis connection ended before it was ready'));
    };
    client.once('ready', onReady);
    client.once('end', onEnd);
  });
}
