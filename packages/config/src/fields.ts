import { isIP } from 'node:net';
import { z } from 'zod';

/** What describeConfig reports about one variable; registered on every field built here. */
export interface EnvVarMeta {
  description: string;
  /** The default as it would be written in the environment; absent when there is none. */
  default?: string;
  /** True when the service refuses to start without it. */
  required: boolean;
  /** Belongs in a Kubernetes Secret, and its value never appears in error messages. */
  secret: boolean;
}

export const envVarRegistry = z.registry<EnvVarMeta>();

export type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };
export type EnvParser<T> = (raw: string) => Parsed<T>;

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const expected = (what: string): Parsed<never> => ({ ok: false, expected: what });

/** A field's schema: reads an optional env string, outputs the typed value. */
export type EnvField<T> = z.ZodType<T, string | undefined>;

export interface FieldOptions<T> {
  description: string;
  secret?: boolean;
  /** A value, or a function for defaults computed per process (hostname, CPU count). */
  default?: T | (() => T);
  /** How describeConfig shows a computed default, e.g. "number of CPUs". */
  defaultLabel?: string;
  required?: boolean;
}

type WithDefault<T> = FieldOptions<T> & ({ default: T | (() => T) } | { required: true });

export function envField<T>(parse: EnvParser<T>, opts: WithDefault<T>): EnvField<T>;
export function envField<T>(parse: EnvParser<T>, opts: FieldOptions<T>): EnvField<T | undefined>;
export function envField<T>(parse: EnvParser<T>, opts: FieldOptions<T>): EnvField<T | undefined> {
  const secret = opts.secret ?? false;
  const required = opts.required ?? false;
  const schema = z
    .string()
    .optional()
    .transform((input, ctx): T | undefined => {
      const raw = input?.trim();
      // Compose files and Helm templates render unset optional values as "", so empty means unset.
      if (raw === undefined || raw === '') {
        if (opts.default !== undefined) {
          return typeof opts.default === 'function' ? (opts.default as () => T)() : opts.default;
        }
        if (required) ctx.addIssue({ code: 'custom', message: 'is required but not set' });
        return undefined;
      }
      const result = parse(raw);
      if (result.ok) return result.value;
      const got = secret ? ' (value hidden)' : `, got ${JSON.stringify(raw)}`;
      ctx.addIssue({ code: 'custom', message: `expected ${result.expected}${got}` });
      return z.NEVER;
    });
  const meta: EnvVarMeta = { description: opts.description, required, secret };
  const shown = opts.defaultLabel ?? formatDefault(opts.default);
  if (shown !== undefined) meta.default = shown;
  return schema.register(envVarRegistry, meta) as EnvField<T | undefined>;
}

function formatDefault(value: unknown): string | undefined {
  if (value === undefined || typeof value === 'function') return undefined;
  if (Array.isArray(value)) return value.map(String).join(',');
  return String(value);
}

// ---- parsers -------------------------------------------------------------------------------

export const parseInteger =
  (min: number, max: number): EnvParser<number> =>
  (raw) => {
    const n = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
    return Number.isSafeInteger(n) && n >= min && n <= max
      ? ok(n)
      : expected(`an integer between ${min} and ${max}`);
  };

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export const parseBoolean: EnvParser<boolean> = (raw) => {
  const v = raw.toLowerCase();
  if (TRUE.has(v)) return ok(true);
  if (FALSE.has(v)) return ok(false);
  return expected('a boolean (true/false/1/0)');
};

export const parseOneOf =
  <const V extends string>(values: readonly V[]): EnvParser<V> =>
  (raw) =>
    (values as readonly string[]).includes(raw) ? ok(raw as V) : expected(`one of ${values.join(', ')}`);

export const parseString =
  (minLength = 1, pattern?: { re: RegExp; what: string }): EnvParser<string> =>
  (raw) => {
    if (raw.length < minLength) return expected(`at least ${minLength} characters`);
    if (pattern && !pattern.re.test(raw)) return expected(pattern.what);
    return ok(raw);
  };

export const parseUrl =
  (protocols: readonly string[]): EnvParser<string> =>
  (raw) => {
    const what = `a URL with scheme ${protocols.map((p) => p.replace(/:$/, '')).join(' or ')}`;
    if (!URL.canParse(raw)) return expected(what);
    return protocols.includes(new URL(raw).protocol) ? ok(raw) : expected(what);
  };

export const parseIp: EnvParser<string> = (raw) =>
  isIP(raw) ? ok(raw) : expected('an IPv4 or IPv6 address');

/** Splits "a, b,,c" into ["a","b","c"]; every item must pass `item`. */
export const parseList =
  <T>(item: EnvParser<T>, what: string): EnvParser<T[]> =>
  (raw) => {
    const out: T[] = [];
    for (const part of raw.split(',')) {
      const trimmed = part.trim();
      if (trimmed === '') continue;
      const r = item(trimmed);
      if (!r.ok) {
        return expected(
          `a comma-separated list of ${what}; item ${JSON.stringify(trimmed)} is not ${r.expected}`,
        );
      }
      out.push(r.value);
    }
    return out.length > 0 ? ok(out) : expected(`a non-empty comma-separated list of ${what}`);
  };

export interface HostPort {
  host: string;
  port: number;
}

/** "host:port" or "[v6]:port". */
export const parseHostPort: EnvParser<HostPort> = (raw) => {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(raw);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  return host && Number.isInteger(port) && port >= 1 && port <= 65535
    ? ok({ host, port })
    : expected('host:port');
};

// ---- field shorthands ----------------------------------------------------------------------

type IntOpts = { min: number; max: number };

export function intField(opts: WithDefault<number> & IntOpts): EnvField<number>;
export function intField(opts: FieldOptions<number> & IntOpts): EnvField<number | undefined>;
export function intField(opts: FieldOptions<number> & IntOpts): EnvField<number | undefined> {
  return envField(parseInteger(opts.min, opts.max), opts);
}

/** Port 0 is allowed where the process binds it (ephemeral port, used by tests). */
export function portField(opts: WithDefault<number> & { allowZero?: boolean }): EnvField<number> {
  return envField<number>(parseInteger(opts.allowZero ? 0 : 1, 65535), opts);
}

export function boolField(opts: WithDefault<boolean>): EnvField<boolean>;
export function boolField(opts: FieldOptions<boolean>): EnvField<boolean | undefined>;
export function boolField(opts: FieldOptions<boolean>): EnvField<boolean | undefined> {
  return envField(parseBoolean, opts);
}

export function stringField(opts: WithDefault<string> & { minLength?: number }): EnvField<string>;
export function stringField(
  opts: FieldOptions<string> & { minLength?: number },
): EnvField<string | undefined>;
export function stringField(
  opts: FieldOptions<string> & { minLength?: number },
): EnvField<string | undefined> {
  return envField(parseString(opts.minLength), opts);
}

export function urlField(opts: WithDefault<string> & { protocols: readonly string[] }): EnvField<string>;
export function urlField(
  opts: FieldOptions<string> & { protocols: readonly string[] },
): EnvField<string | undefined>;
export function urlField(
  opts: FieldOptions<string> & { protocols: readonly string[] },
): EnvField<string | undefined> {
  return envField(parseUrl(opts.protocols), opts);
}

export function enumField<const V extends string>(values: readonly V[], opts: WithDefault<V>): EnvField<V> {
  return envField(parseOneOf(values), opts);
}

export function hostPortListField(opts: FieldOptions<HostPort[]>): EnvField<HostPort[] | undefined> {
  return envField(parseList(parseHostPort, 'host:port'), opts);
}
