import {
  Counter,
  type CounterConfiguration,
  collectDefaultMetrics,
  Gauge,
  type GaugeConfiguration,
  Histogram,
  type HistogramConfiguration,
  Registry,
} from 'prom-client';
import { TelemetryError } from './errors.js';

type Extra<C> = Omit<C, 'name' | 'help' | 'labelNames' | 'registers'>;
export type CounterOptions<L extends string> = Extra<CounterConfiguration<L>>;
export type GaugeOptions<L extends string> = Extra<GaugeConfiguration<L>>;
export type HistogramOptions<L extends string> = Extra<HistogramConfiguration<L>>;

export interface MetricsRegistryOptions {
  service: string;
  nodeId: string;
  /** Prepended to every custom metric name given to the helpers. */
  prefix?: string;
}

export interface MetricsRegistry {
  readonly registry: Registry;
  readonly prefix: string;
  /** `name` without the prefix; calling again with the same name returns the same metric. */
  counter<L extends string = never>(
    name: string,
    help: string,
    labelNames?: readonly L[],
    opts?: CounterOptions<L>,
  ): Counter<L>;
  gauge<L extends string = never>(
    name: string,
    help: string,
    labelNames?: readonly L[],
    opts?: GaugeOptions<L>,
  ): Gauge<L>;
  histogram<L extends string = never>(
    name: string,
    help: string,
    labelNames?: readonly L[],
    opts?: HistogramOptions<L>,
  ): Histogram<L>;
}

type Kind = 'counter' | 'gauge' | 'histogram';

/**
 * A registry of its own (not prom-client's global one) so tests and several services in one
 * process never collide. Every series carries { service, node }. Process metrics keep their
 * standard unprefixed names (process_*, nodejs_*) so stock dashboards and alerts work.
 */
export function createMetricsRegistry(opts: MetricsRegistryOptions): MetricsRegistry {
  const prefix = opts.prefix ?? 'trellis_';
  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.service, node: opts.nodeId });
  collectDefaultMetrics({ register: registry });

  // Several modules of one process ask for the same metric; the first call creates it and later
  // calls must agree on its shape, or two modules would silently fight over one series.
  const known = new Map<string, { kind: Kind; labels: string; metric: unknown }>();

  function getOrCreate<M>(
    kind: Kind,
    name: string,
    labelNames: readonly string[],
    create: (full: string) => M,
  ): M {
    const full = prefix + name;
    const labels = [...labelNames].sort().join(',');
    const existing = known.get(full);
    if (existing) {
      if (existing.kind !== kind || existing.labels !== labels) {
        throw new TelemetryError(
          'METRIC_CONFLICT',
          `metric ${full} exists as ${existing.kind} [${existing.labels}], requested ${kind} [${labels}]`,
        );
      }
      return existing.metric as M;
    }
    if (registry.getSingleMetric(full)) {
      throw new TelemetryError('METRIC_CONFLICT', `metric ${full} was registered outside these helpers`);
    }
    const metric = create(full);
    known.set(full, { kind, labels, metric });
    return metric;
  }

  return {
    registry,
    prefix,
    counter: (name, help, labelNames = [], extra = {}) =>
      getOrCreate(
        'counter',
        name,
        labelNames,
        (full) => new Counter({ ...extra, name: full, help, labelNames, registers: [registry] }),
      ),
    gauge: (name, help, labelNames = [], extra = {}) =>
      getOrCreate(
        'gauge',
        name,
        labelNames,
        (full) => new Gauge({ ...extra, name: full, help, labelNames, registers: [registry] }),
      ),
    histogram: (name, help, labelNames = [], extra = {}) =>
      getOrCreate(
        'histogram',
        name,
        labelNames,
        (full) => new Histogram({ ...extra, name: full, help, labelNames, registers: [registry] }),
      ),
  };
}
