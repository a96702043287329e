// SFU node: reads its config, wires the bus, telemetry and the node, and stops cleanly on signals.
import { duplicateConnection, RedisBus } from '@trellis/bus';
import { loadConfig, sfuConfig } from '@trellis/config';
import { JobPublisher, observeJobPublisher } from '@trellis/jobs';
import { createLogger, createMetricsRegistry, exitOnSignals, startMetricsServer } from '@trellis/telemetry';
import { SfuNode } from './SfuNode';
import { StatsSampler } from './StatsSampler';

const config = loadConfig(sfuConfig);
const logger = createLogger({ service: 'sfu', nodeId: config.nodeId, level: config.logLevel });
const metrics = createMetricsRegistry({ service: 'sfu', nodeId: config.nodeId });
// A stray rejection (a late mediasoup reply for an object closed meanwhile) must not take down
// every call on the node: log it loudly and keep serving.
process.on('unhandledRejection', (reason) => {
  logger.error(
    { err: reason instanceof Error ? reason.stack : String(reason) },
    'unhandled promise rejection',
  );
});
// Signals are handled from the first moment: a SIGTERM during start-up waits for it, then stops.
const starting = (async () => {
  const bus = await RedisBus.connect({ nodeId: config.nodeId, redis: config.redis, logger, metrics });
  const node = await SfuNode.create({ config, bus, logger, metrics });
  const metricsServer = await startMetricsServer({
    registry: metrics.registry,
    port: config.metricsPort,
    healthCheck: () => node.state === 'serving',
  });
  await node.start();
  const jobsConnection = duplicateConnection(bus.redis, `${config.nodeId}:jobs`, logger);
  const publisher = new JobPublisher({
    connection: jobsConnection,
    keyPrefix: config.redis.keyPrefix,
    logger,
  });
  observeJobPublisher(publisher, metrics);
  const sampler = new StatsSampler({ node, publisher, intervalMs: config.statsIntervalMs, logger });
  sampler.start();
  const jobs = { sampler, publisher, connection: jobsConnection };
  return { bus, node, metricsServer, jobs };
})().catch((error: unknown) => {
  // A port in use or a missing worker binary: say so in one line an operator can act on.
  logger.fatal({ err: error instanceof Error ? error.message : String(error) }, 'sfu node failed to start');
  process.exit(1);
});

// SIGTERM (Kubernetes, systemd, an operator) drains: participants move away (at most
// SFU_DRAIN_TIMEOUT_MS), and the deadline is that plus SHUTDOWN_TIMEOUT_MS. SIGINT (Ctrl-C on a local cluster) stops at once.
exitOnSignals({
  logger,
  deadlineMs: (signal) => config.shutdownTimeoutMs + (signal === 'SIGTERM' ? config.drainTimeoutMs : 0),
  async stop(signal) {
    const started = await starting;
    if (!started) return;
    const { bus, node, metricsServer, jobs } = started;
    if (signal === 'SIGTERM') await node.drain();
    await jobs.sampler.close();
    await node.close();
    await jobs.publisher.close();
    jobs.connection.disconnect();
    await bus.close();
    await metricsServer.close();
  },
});
