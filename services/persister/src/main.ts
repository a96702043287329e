// Persister: reads its config, wires the database, the job queues, telemetry and the node, and
// stops cleanly on signals (jobs in flight finish first).
import { createRedisConnection } from '@trellis/bus';
import { loadConfig, persisterConfig } from '@trellis/config';
import { createDb } from '@trellis/db';
import { createLogger, createMetricsRegistry, exitOnSignals, startMetricsServer } from '@trellis/telemetry';
import { PersisterNode } from './PersisterNode';

const config = loadConfig(persisterConfig);
const logger = createLogger({ service: 'persister', nodeId: config.nodeId, level: config.logLevel });
const metrics = createMetricsRegistry({ service: 'persister', nodeId: config.nodeId });
const db = createDb({
  databaseUrl: config.databaseUrl,
  poolSize: config.concurrency + config.metricsConcurrency,
});
// The bus's connection factory: waits through a Redis restart and a Sentinel failover, as BullMQ
// workers need (maxRetriesPerRequest: null).
const connection = createRedisConnection(config.redis, { name: `persister:${config.nodeId}`, logger });
const node = new PersisterNode({
  db,
  connection,
  keyPrefix: config.redis.keyPrefix,
  logger,
  metrics,
  concurrency: config.concurrency,
  metricsConcurrency: config.metricsConcurrency,
  jobLockMs: config.jobLockMs,
  webhooks: config.webhooks,
});
const metricsServer = await startMetricsServer({
  registry: metrics.registry,
  port: config.metricsPort,
  healthCheck: () => node.state === 'serving',
}).catch((error: unknown) => {
  logger.fatal({ err: error instanceof Error ? error.message : String(error) }, 'persister failed to start');
  process.exit(1);
});
node.start();

// The jobs in flight finish first; the deadline bounds a database or Redis that doesn't answer.
exitOnSignals({
  logger,
  deadlineMs: config.shutdownTimeoutMs,
  async stop() {
    await node.close();
    await db.$disconnect();
    connection.disconnect();
    await metricsServer.close();
  },
});
