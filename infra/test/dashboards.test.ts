import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from './support/configEnv';
import { alertQueries, dashboardQueries, exportedNames } from './support/dashboards';
import { metricNames } from './support/promql';

const INFRA = join(REPO_ROOT, 'infra');

describe('Grafana dashboard and Prometheus rules', () => {
  const known = exportedNames();

  it('reads PromQL metric names correctly', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le, to) (rate(trellis_x_bucket{a="b",c=~"d|e"}[5m]))) > 0.5 or up{job="j"} == 0',
      ).sort(),
    ).toEqual(['trellis_x_bucket', 'up']);
  });

  it('builds every dashboard query on metrics the services export', () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(20);
    const unknown = queries.flatMap((q) =>
      metricNames(q.expr)
        .filter((n) => !known.has(n))
        .map((n) => `${q.where}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('has alerts for the seed risks, on exported metrics', () => {
    const alerts = alertQueries();
    const names = alerts.map((a) => a.where);
    for (const risk of ['WorkerCpuSaturated', 'TransitionFailures', 'NodeLost', 'QueueBacklog'])
      expect(
        names.some((n) => n.includes(risk)),
        risk,
      ).toBe(true);
    const unknown = alerts.flatMap((q) =>
      metricNames(q.expr)
        .filter((n) => !known.has(n))
        .map((n) => `${q.where}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('scrapes every service of the compose stack on its metrics port', () => {
    const prometheus = parse(readFileSync(join(INFRA, 'prometheus/prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const compose = parse(readFileSync(join(INFRA, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    for (const [name, spec] of Object.entries(compose.services)) {
      const port = spec.environment?.METRICS_PORT;
      if (port) expect(targets, `${name} is scraped`).toContain(`${name}:${port}`);
    }
    expect(prometheus.rule_files).toContain('/etc/prometheus/alerts.yml');
  });
});
