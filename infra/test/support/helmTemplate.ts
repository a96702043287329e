/**
 * What can be checked of a Helm chart without the helm binary. Not a Go-template engine: actions
 * are removed (a line holding only actions) or replaced by a placeholder scalar, and the YAML
 * around them must then parse. Both branches of an `if` survive, so templates avoid if/else that
 * would give one key twice. The chart's own helpers that emit env entries are read from their call
 * sites (secretEnv's key list, nodeIdEnv).
 */

const ACTION = /\{\{-?[\s\S]*?-?\}\}/g;
export const PLACEHOLDER = '__tpl__';

export function stripTemplate(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.includes('{{') || line.replace(ACTION, '').trim() !== '')
    .map((line) => line.replace(ACTION, PLACEHOLDER))
    .join('\n');
}

/** Problems with the nesting of block actions (if/with/range/define … end). */
export function unbalancedBlocks(text: string): string[] {
  let depth = 0;
  const problems: string[] = [];
  for (const m of text.matchAll(ACTION)) {
    const body = m[0].replace(/^\{\{-?\s*/, '').replace(/\s*-?\}\}$/, '');
    if (/^(if|with|range|define|block)\b/.test(body)) depth += 1;
    else if (/^end\b/.test(body)) depth -= 1;
    if (depth < 0) problems.push(`an end without a block at offset ${m.index}`);
  }
  if (depth > 0) problems.push(`${depth} block(s) never ended`);
  return problems;
}

/** `.Values.a.b` paths a template reads (with `$.Values` too). */
export function valuesRefs(text: string): string[] {
  return [...text.matchAll(/\$?\.Values\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)/g)].map((m) => m[1]!);
}

export interface ValuesKey {
  path: string;
  line: number;
  documented: boolean;
}

/**
 * The keys of values.yaml written as block mappings (flow maps like `{ cpu: 1 }` are one value),
 * with whether each has a `# --` comment (helm-docs style) right above it.
 */
export function valuesKeys(text: string): ValuesKey[] {
  const lines = text.split('\n');
  const stack: Array<{ indent: number; key: string }> = [];
  const keys: ValuesKey[] = [];
  lines.forEach((line, i) => {
    const m = /^(\s*)([A-Za-z0-9_]+):(\s|$)/.exec(line);
    if (!m) return;
    const indent = m[1]!.length;
    while (stack.length > 0 && stack.at(-1)!.indent >= indent) stack.pop();
    stack.push({ indent, key: m[2]! });
    let j = i - 1;
    while (j >= 0 && /^\s*#/.test(lines[j]!) && !/^\s*# --/.test(lines[j]!)) j -= 1;
    keys.push({
      path: stack.map((s) => s.key).join('.'),
      line: i + 1,
      documented: j >= 0 && /^\s*# --/.test(lines[j]!),
    });
  });
  return keys;
}

export interface EnvSource {
  name: string;
  from: 'configMap' | 'secret' | 'field' | 'value';
}

/**
 * The environment a workload template gives its containers: ConfigMaps named by envFrom
 * (resolved against `configMaps`: name suffix → data keys), `env` entries, and the chart's
 * env helpers.
 */
export function workloadEnv(template: string, configMaps: Map<string, string[]>): EnvSource[] {
  const env: EnvSource[] = [];
  for (const m of template.matchAll(
    /configMapRef:\s*\n\s*name: \{\{ include "trellis\.fullname" \. \}\}-(\S+)/g,
  )) {
    const keys = configMaps.get(m[1]!);
    if (!keys) throw new Error(`envFrom names ConfigMap -${m[1]} that no template defines`);
    env.push(...keys.map((name) => ({ name, from: 'configMap' as const })));
  }
  for (const m of template.matchAll(
    /"trellis\.secretEnv" \(dict "ctx" \. "keys" \(list ((?:"[A-Z0-9_]+"\s*)+)\)\)/g,
  ))
    env.push(
      ...[...m[1]!.matchAll(/"([A-Z0-9_]+)"/g)].map((k) => ({ name: k[1]!, from: 'secret' as const })),
    );
  if (template.includes('include "trellis.nodeIdEnv"')) env.push({ name: 'NODE_ID', from: 'field' });
  for (const m of template.matchAll(/^\s*- name: ([A-Z][A-Z0-9_]*)\n(\s*)(value|valueFrom):/gm))
    env.push({ name: m[1]!, from: m[3] === 'value' ? 'value' : 'field' });
  return env;
}
