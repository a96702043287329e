import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface DocumentedMetric {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  labels: string[];
  services: string[];
  /** The test event that makes it move, or '—' for none. */
  movesOn: string;
}

export const METRICS_DOC = fileURLToPath(new URL('../../../docs/METRICS.md', import.meta.url));

/** The metric table of docs/METRICS.md: the list dashboards, alerts and the scrape test agree on. */
export function documentedMetrics(path = METRICS_DOC): DocumentedMetric[] {
  const rows = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => /^\| `trellis_/.test(line));
  return rows.map((row) => {
    const cells = row
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    const [name, type, labels, services, , movesOn] = cells;
    if (!name || !type || labels === undefined || !services || !movesOn)
      throw new Error(`malformed row in METRICS.md: ${row}`);
    if (type !== 'counter' && type !== 'gauge' && type !== 'histogram')
      throw new Error(`unknown metric type ${type} in ${row}`);
    return {
      name: name.replace(/`/g, ''),
      type,
      labels: labels === '—' ? [] : labels.split(',').map((l) => l.trim()),
      services: services.split(',').map((s) => s.trim()),
      movesOn,
    };
  });
}
