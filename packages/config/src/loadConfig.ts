import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from './errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Parses `env` with a service schema (see services/*) and returns the typed config, or throws
 * ConfigError('CONFIG_INVALID') naming every bad variable. Call it once at startup, before
 * opening any connection, so a misconfigured pod fails fast and says why.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: Env = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw ConfigError.invalid(result.error.issues.map(toProblem));
}

function toProblem(issue: z.core.$ZodIssue): ConfigProblem {
  const [variable] = issue.path;
  // Schemas are keyed by env var name, so the first path segment is the variable.
  return { variable: variable === undefined ? '(environment)' : String(variable), message: issue.message };
}
