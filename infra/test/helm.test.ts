import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT, serviceEnvs } from './support/configEnv';
import { stripTemplate, unbalancedBlocks, valuesKeys, valuesRefs, workloadEnv } from './support/helmTemplate';

const CHART = join(REPO_ROOT, 'infra/helm/trellis');
const TEMPLATES = join(CHART, 'templates');
const valuesText = readFileSync(join(CHART, 'values.yaml'), 'utf8');
const values = parse(valuesText) as Record<string, unknown>;
const templates = new Map(
  readdirSync(TEMPLATES).map((f) => [f, readFileSync(join(TEMPLATES, f), 'utf8')] as const),
);
const yamlTemplates = [...templates].filter(([f]) => f.endsWith('.yaml'));

interface K8sObject {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: Record<string, unknown>;
}

/** Every object of every template, with its template's actions stripped. */
const objects: Array<K8sObject & { file: string }> = yamlTemplates.flatMap(([file, text]) =>
  parseAllDocuments(stripTemplate(text))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null)
    .map((o) => ({ ...o, file })),
);

function lookup(path: string): unknown {
  let node: unknown = values;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

describe('infra/helm/trellis (checked without helm: see infra/README.md)', () => {
  it('has a Chart.yaml and a values.yaml that parse', () => {
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Record<string, string>;
    expect(chart.apiVersion).toBe('v2');
    expect(chart.name).toBe('trellis');
    expect(values).toBeTypeOf('object');
  });

  it('has templates whose blocks nest and whose YAML parses once the actions are stripped', () => {
    for (const [file, text] of templates) expect(unbalancedBlocks(text), file).toEqual([]);
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) {
      expect(o.kind, `${o.file} object kind`).toBeTruthy();
      expect(o.metadata?.name, `${o.file} ${o.kind} name`).toBeTruthy();
    }
  });

  it('includes only helpers that _helpers.tpl defines', () => {
    const defined = new Set(
      [...templates.get('_helpers.tpl')!.matchAll(/define "([^"]+)"/g)].map((m) => m[1]),
    );
    const included = [...templates.values()].flatMap((t) =>
      [...t.matchAll(/include "([^"]+)"/g)].map((m) => m[1]),
    );
    expect(included.length).toBeGreaterThan(20);
    expect(included.filter((name) => !defined.has(name))).toEqual([]);
  });

  it('reads only values that exist, and uses and documents every value', () => {
    const refs = new Set([...templates.values()].flatMap(valuesRefs));
    const unknown = [...refs].filter((r) => lookup(r) === undefined);
    expect(unknown, 'values read by templates but missing from values.yaml').toEqual([]);
    const keys = valuesKeys(valuesText);
    expect(keys.length).toBeGreaterThan(50);
    expect(keys.filter((k) => !k.documented).map((k) => `${k.path} (line ${k.line})`)).toEqual([]);
    // A key is used when a template reads it, something below it, or a map above it whole (toYaml).
    const used = (path: string) =>
      [...refs].some(
        (r) =>
          r === path ||
          r.startsWith(`${path}.`) ||
          (path.startsWith(`${r}.`) && typeof lookup(r) === 'object' && lookup(r) !== null),
      );
    expect(keys.filter((k) => !used(k.path)).map((k) => k.path)).toEqual([]);
  });

  it('has the objects a production deployment needs', () => {
    const kinds = (kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name);
    expect(
      kinds('Deployment')
        .map((n) => n.split('-').at(-1))
        .sort(),
    ).toEqual(['persister', 'signaling', 'web']);
    expect(kinds('StatefulSet')).toHaveLength(1);
    expect(kinds('HorizontalPodAutoscaler')).toHaveLength(1);
    expect(kinds('PodDisruptionBudget')).toHaveLength(2);
    expect(kinds('ServiceMonitor')).toHaveLength(1); // one document, rendered per component by a range
    expect(kinds('DaemonSet')).toHaveLength(1); // coturn
    expect(kinds('Secret')).toHaveLength(1);
    expect(kinds('Service').length).toBeGreaterThanOrEqual(4);
    const secret = objects.find((o) => o.kind === 'Secret') as K8sObject & {
      stringData: Record<string, string>;
    };
    expect(Object.keys(secret.stringData ?? {}).sort()).toEqual(
      ['DATABASE_URL', 'JWT_SECRET', 'REDIS_PASSWORD', 'REDIS_URL', 'TURN_SECRET', 'WEBHOOK_SECRET'].sort(),
    );
  });

  it('runs the SFU on the host network, announcing the node IP, draining in preStop', () => {
    const sfu = objects.find((o) => o.kind === 'StatefulSet')!;
    const pod = (sfu.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    expect(pod.hostNetwork).toBe(true);
    const container = (pod.containers as Array<Record<string, unknown>>)[0]!;
    const preStop = JSON.stringify((container.lifecycle as Record<string, unknown>).preStop);
    expect(preStop).toContain('kill -TERM 1');
    expect(JSON.stringify(container.env)).toContain('status.hostIP');
    // Kubernetes must not kill the pod before the drain can finish.
    const grace = Number(lookup('sfu.terminationGracePeriodSeconds')) * 1000;
    expect(grace).toBeGreaterThan(Number(lookup('sfu.drainTimeoutMs')));
  });

  it('gives every service every variable it reads (packages/config), secrets from the Secret', () => {
    const configMaps = new Map<string, string[]>();
    for (const o of objects.filter((o) => o.kind === 'ConfigMap'))
      configMaps.set(o.metadata.name.replace(/^__tpl__-/, ''), Object.keys(o.data ?? {}));
    const problems: string[] = [];
    for (const [service, vars] of serviceEnvs()) {
      const workload = yamlTemplates.find(
        ([, text]) => /kind: (Deployment|StatefulSet)/.test(text) && text.includes(`component: ${service}\n`),
      );
      if (!workload) {
        problems.push(`no workload template for ${service}`);
        continue;
      }
      const env = workloadEnv(workload[1], configMaps);
      for (const v of vars) {
        const sources = env.filter((e) => e.name === v.name);
        if (sources.length === 0) problems.push(`${service}: ${v.name} not set`);
        else if (v.secret && sources.some((s) => s.from !== 'secret'))
          problems.push(`${service}: ${v.name} is a secret but not only from the Secret`);
      }
    }
    expect(problems).toEqual([]);
  });
});
