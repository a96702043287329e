// Signaling node: reads its config, wires the bus, telemetry and the node, and stops cleanly on signals.
import { RedisBus } from '@trellis/bus';
import { loadConfig, signalingConfig } from '@trellis/config';
import { createLogger, createMetricsRegistry, exitOnSignals, startMetricsServer } from '@trellis/telemetry';
import { SignalingNode } from './SignalingNode';

const config = loadConfig(signalingConfig);
const logger = createLogger({ service: 'signaling', nodeId: config.nodeId, level: config.logLevel });
const metrics = createMetricsRegistry({ service: 'signaling', nodeId: config.nodeId });
process.on('unhandledRejection', (reason) => {
  logger.error(
    { err: reason instanceof Error ? reason.stack : String(reason) },
    'unhandled promise rejection',
  );
});
if (config.jwt.usingDevSecret) logger.warn('JWT_SECRET is not set: using the public development secret');

// Signals are handled from the first moment: a SIGTERM during start-up waits for it, then stops.
const starting = (async () => {
  const bus = await RedisBus.connect({ nodeId: config.nodeId, redis: config.redis, logger, metrics });
  const node = new SignalingNode({ config, bus, logger, metrics });
  // /metrics is also on the API port; this one is for scrapers on a port the ingress never exposes.
  const metricsServer = await startMetricsServer({
    registry: metrics.registry,
    port: config.metricsPort,
    healthCheck: () => node.describe().state === 'serving',
  });
  await node.start();
  return { bus, node, metricsServer };
})().catch((error: unknown) => {
  logger.fatal(
    { err: error instanceof Error ? error.message : String(error) },
    'signaling node failed to start',
  );
  process.exit(1);
});

exitOnSignals({
  logger,
  deadlineMs: config.shutdownTimeoutMs,
  async stop() {
    const started = await starting;
    if (!started) return;
    const { bus, node, metricsServer } = started;
    await node.close();
    await bus.close();
    await metricsServer.close();
  },
});
