import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './configEnv';
import { documentedMetrics } from './metricsDoc';

const INFRA = join(REPO_ROOT, 'infra');

/** prom-client's default process metrics every service exports, plus Prometheus's own `up`. */
export const STANDARD_METRICS = [
  'up',
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_p99_seconds',
];

/** Sample names a documented metric produces (histograms: _bucket, _sum, _count). */
export function exportedNames(): Set<string> {
  const names = new Set(STANDARD_METRICS);
  for (const m of documentedMetrics()) {
    names.add(m.name);
    if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}

export function dashboardQueries(): Array<{ where: string; expr: string }> {
  const dashboard = JSON.parse(readFileSync(join(INFRA, 'grafana/dashboards/trellis.json'), 'utf8')) as {
    panels: Panel[];
  };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
}

export function alertQueries(): Array<{ where: string; expr: string }> {
  const rules = parse(readFileSync(join(INFRA, 'prometheus/alerts.yml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
  };
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
}
