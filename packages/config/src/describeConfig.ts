import { z } from 'zod';
import { ConfigError } from './errors.js';
import { envVarRegistry } from './fields.js';

export interface EnvVarDescription {
  name: string;
  description: string;
  default?: string;
  required: boolean;
  secret: boolean;
}

/**
 * Every env var a config schema reads, in schema order. Deployment tests use it to prove that
 * docker-compose and the Helm chart set each variable (and put secrets in Secrets).
 */
export function describeConfig(schema: z.ZodType): EnvVarDescription[] {
  const object = unwrapObject(schema);
  return Object.entries(object.shape).map(([name, field]) => {
    const meta = envVarRegistry.get(field as z.ZodType);
    if (meta) return { name, ...meta };
    // A plain zod field someone added without the helpers: still listed, with what we can infer.
    return {
      name,
      description: '',
      required: !(field as z.ZodType).safeParse(undefined).success,
      secret: false,
    };
  });
}

function unwrapObject(schema: z.ZodType): z.ZodObject {
  let current: unknown = schema;
  // Service schemas are `z.object(...).transform(...)`, i.e. a pipe whose input is the object.
  while (current instanceof z.ZodPipe) current = current.in;
  if (current instanceof z.ZodObject) return current;
  throw new ConfigError(
    'CONFIG_SCHEMA_UNSUPPORTED',
    'describeConfig needs a z.object schema keyed by env vars',
  );
}
