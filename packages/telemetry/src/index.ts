export { TelemetryError, type TelemetryErrorCode } from './errors.js';
export { createLogger, type Logger, type LoggerOptions, type LogLevel, REDACT_PATHS } from './logger.js';
export {
  type CounterOptions,
  createMetricsRegistry,
  type GaugeOptions,
  type HistogramOptions,
  type MetricsRegistry,
  type MetricsRegistryOptions,
} from './metrics.js';
export {
  type MetricsServer,
  type MetricsServerOptions,
  metricsHandler,
  startMetricsServer,
} from './server.js';
export { exitOnSignals, type ShutdownHandle, type ShutdownOptions, type ShutdownSignal } from './shutdown.js';
export { throttledWarn } from './throttledWarn.js';
