import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as config from '@trellis/config';
import { describeConfig, type EnvVarDescription } from '@trellis/config';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVICES_DIR = fileURLToPath(new URL('../../../packages/config/src/services/', import.meta.url));

/**
 * Every service with a config schema (packages/config/src/services/<name>.ts exporting `<name>Env`)
 * and the variables it reads. Read from the directory, so a service or variable added there is
 * checked against compose and the chart without touching these tests.
 */
export function serviceEnvs(): Map<string, EnvVarDescription[]> {
  const out = new Map<string, EnvVarDescription[]>();
  for (const file of readdirSync(SERVICES_DIR)
    .filter((f) => f.endsWith('.ts'))
    .sort()) {
    const name = file.replace(/\.ts$/, '');
    const schema = (config as Record<string, unknown>)[`${name}Env`] as
      | Parameters<typeof describeConfig>[0]
      | undefined;
    if (!schema) throw new Error(`packages/config exports no ${name}Env for services/${file}`);
    out.set(name, describeConfig(schema));
  }
  return out;
}
