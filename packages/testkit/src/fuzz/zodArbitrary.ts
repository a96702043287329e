import fc from 'fast-check';
import type { z } from 'zod';

/**
 * fast-check arbitraries derived from zod 4 schemas, for fuzzing an API boundary. zod-fast-check only
 * understands zod 3, so this walks zod 4's internal definitions (`schema._zod.def`) directly.
 *
 * `validArbitrary` honours: strings (min/max/length, regexes and pattern-backed formats such as uuid,
 * email, iso datetime), `z.url()`, numbers (int formats, inclusive/exclusive bounds, multipleOf),
 * booleans, enums, literals, arrays and tuples, objects (optional keys sometimes absent, unknown keys
 * on non-strict objects), records (finite key sets are exhaustive), unions (discriminated or not),
 * optional/nullable/default/prefault/readonly/catch wrappers, pipes, preprocess and lazy schemas.
 * Not honoured, so values may fail to parse: `.refine`/`superRefine`, `.trim()`-style overwrites
 * before a length check, regexes fast-check cannot generate (backreferences, some Unicode classes),
 * formats with no pattern other than url (jwt…), base64 padding, bigint bounds, intersections,
 * maps, sets, files, functions, promises, `z.never()`, and `a.pipe(b)` where `b` is another type
 * than `a` and narrows what `a`'s output can be: these use the input side or `fc.anything()`.
 */

type Schema = z.core.$ZodType;
type Factory = () => unknown;
type Bounds = Partial<Record<'minimum' | 'maximum' | 'length' | 'value', number>>;
type CheckDef = Bounds & Partial<{ check: string; format: string; inclusive: boolean; pattern: RegExp }>;

/** Values that satisfy `schema` (see the module comment for what is not honoured). */
export function validArbitrary(schema: z.ZodType): fc.Arbitrary<unknown> {
  return valid(schema, 0);
}

/**
 * Edge-case and malformed values for `schema`. Most are a valid value with exactly one mutation at
 * some depth (a field of the wrong type or out of bounds, a missing required key, an extra or
 * prototype-polluting key, an over-long array), since those reach the deepest code paths; the rest
 * are hostile whole values (NaN, 100k-char strings, 1000-deep nesting, 2000-element arrays, NUL and
 * lone surrogates, `__proto__`). A minority are accepted by the schema on purpose: weird but legal.
 */
export function malformedArbitrary(schema: z.ZodType): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 8, arbitrary: validArbitrary(schema).chain((value) => mutate(schema, value, true)) },
    { weight: 1, arbitrary: pick(EDGE_VALUES) },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }) },
  );
}

// Bounds how far optional fields and arrays keep expanding, so recursive (lazy) schemas terminate.
const MAX_DEPTH = 6;
const LAZY_LIMIT = 20;

const LEAVES: Partial<Record<string, (schema: Schema) => fc.Arbitrary<unknown> | undefined>> = {
  string: (schema) => stringArb(checksOf(schema)),
  number: (schema) => numberArb(checksOf(schema)),
  int: (schema) => numberArb(checksOf(schema)),
  enum: (schema) => fc.constantFrom(...(schema._zod.values ?? [])),
  literal: (schema) => fc.constantFrom(...(schema._zod.values ?? [])),
  template_literal: (schema) => matching(schema._zod.pattern!),
  boolean: () => fc.boolean(),
  bigint: () => fc.bigInt(),
  null: () => fc.constant(null),
  undefined: () => fc.constant(undefined),
  void: () => fc.constant(undefined),
  nan: () => fc.constant(Number.NaN),
  date: () => fc.date({ noInvalidDate: true }),
};

function valid(schema: Schema, depth: number): fc.Arbitrary<unknown> {
  const def = schema._zod.def;
  const next = depth + 1;
  const inner = () => valid((def as z.core.$ZodOptionalDef).innerType, next);
  switch (def.type) {
    case 'array': {
      const { min, max } = lengthBounds(checksOf(schema));
      const maxLength = depth > MAX_DEPTH ? min : Math.min(max, min + 4);
      if (maxLength === 0) return fc.constant([]);
      return fc.array(valid((def as z.core.$ZodArrayDef).element, next), { minLength: min, maxLength });
    }
    case 'tuple': {
      const { items, rest } = def as z.core.$ZodTupleDef;
      const head = fc.tuple(...items.map((item) => valid(item, next)));
      if (!rest) return head;
      const tail = fc.array(valid(rest, next), { maxLength: depth > MAX_DEPTH ? 0 : 3 });
      return fc.tuple(head, tail).map(([h, t]) => [...h, ...t]);
    }
    case 'object':
      return objectArb(def as z.core.$ZodObjectDef, next);
    case 'record': {
      const { keyType, valueType, ...rest } = def as z.core.$ZodRecordDef;
      const values = valid(valueType, next);
      const keys = keyType._zod.values;
      if (keys) {
        // zod 4 records over a finite key set require every key, unless built with z.partialRecord.
        const model = Object.fromEntries([...keys].map((key) => [String(key), values]));
        return fc.record(model, 'partial' in rest ? { requiredKeys: [] } : {});
      }
      const keyArb = valid(keyType, next)
        .map(String)
        .filter((key) => key !== '__proto__');
      return fc.dictionary(keyArb, values, { maxKeys: depth > MAX_DEPTH ? 0 : 4, noNullPrototype: true });
    }
    case 'union':
      return fc.oneof(...(def as z.core.$ZodUnionDef).options.map((option) => valid(option, next)));
    case 'optional':
      if (schema._zod.traits.has('$ZodExactOptional')) return inner();
      return depth > MAX_DEPTH ? fc.constant(undefined) : fc.option(inner(), { nil: undefined });
    case 'default':
    case 'prefault':
      return fc.option(inner(), { nil: undefined });
    case 'nullable':
      return fc.option(inner(), { nil: null });
    case 'nonoptional':
      return inner().filter((v) => v !== undefined);
    case 'readonly':
    case 'catch':
      return inner();
    case 'pipe':
      return valid(pipeSource(def as z.core.$ZodPipeDef), next);
    case 'lazy':
      return depth > LAZY_LIMIT ? fc.anything() : valid((def as z.core.$ZodLazyDef).getter(), next);
    default:
      // Also any, unknown, never, intersection, map, set, custom, transform, function, promise, file.
      return LEAVES[def.type]?.(schema) ?? fc.anything();
  }
}

function objectArb(def: z.core.$ZodObjectDef, depth: number): fc.Arbitrary<unknown> {
  const entries = Object.entries(def.shape);
  const model = Object.fromEntries(entries.map(([key, field]) => [key, valid(field, depth)]));
  const requiredKeys = entries.filter(([, field]) => !omittable(field)).map(([key]) => key);
  const known = fc.record(model, { requiredKeys, noNullPrototype: true });
  if (def.catchall?._zod.def.type === 'never' || depth > MAX_DEPTH) return known;
  // Unknown keys are stripped by z.object and kept by looseObject/catchall; both accept them.
  const extraKey = fc.string({ minLength: 1, maxLength: 12 }).filter((key) => !(key in def.shape));
  const extraValue = def.catchall ? valid(def.catchall, depth) : fc.jsonValue({ maxDepth: 1 });
  const extras = fc.dictionary(extraKey, extraValue, { maxKeys: 2, noNullPrototype: true });
  return fc.tuple(known, extras).map(([k, e]) => ({ ...e, ...k }));
}

// `optin` marks fields zod lets be absent, but a preprocess has it too and still parses the absent
// value, so an absent key must also be one the field accepts as undefined (or an exactOptional).
function omittable(field: Schema): boolean {
  if (field._zod.optin === undefined) return false;
  return field._zod.traits.has('$ZodExactOptional') || accepts(field, undefined);
}

function stringArb(checks: CheckDef[]): fc.Arbitrary<string> | undefined {
  const { min, max } = lengthBounds(checks);
  const patterns = checks.flatMap((c) => (c.pattern instanceof RegExp ? [c.pattern] : []));
  const [first] = patterns;
  const base = checks.some((c) => c.format === 'url')
    ? fc.webUrl()
    : first
      ? matching(first)
      : fc.string({ minLength: min, maxLength: Math.min(max, min + 16) });
  // String#search ignores lastIndex, so global regexes behave.
  return base?.filter((s) => s.length >= min && s.length <= max && patterns.every((p) => s.search(p) >= 0));
}

/**
 * fc.stringMatching cannot generate lookarounds or most flags. Lookarounds are dropped (the caller
 * re-tests the real pattern); so are flags that only widen what matches (i, m, s) or do not affect
 * it (g, y, d), since a string matching without them matches with them.
 */
function matching(pattern: RegExp): fc.Arbitrary<string> | undefined {
  const source = pattern.source.replace(/\(\?<?[=!](?:[^()\\]|\\.)*\)/g, '');
  try {
    return fc.stringMatching(new RegExp(source, pattern.flags.replace(/[^uv]/g, '')));
  } catch {
    return undefined;
  }
}

function numberArb(checks: CheckDef[]): fc.Arbitrary<number> {
  const { min, max, minExcluded, maxExcluded, isInt, step } = numberBounds(checks);
  if (step) return intBetween(Math.ceil(min / step), Math.floor(max / step)).map((k) => k * step);
  if (isInt) return intBetween(min, max);
  const double = fc.double({ min, max, minExcluded, maxExcluded, noNaN: true, noDefaultInfinity: true });
  // fast-check orders -0 below 0, so `.negative()` (max 0, excluded) could still yield -0.
  return double.filter((v) => (minExcluded ? v > min : v >= min) && (maxExcluded ? v < max : v <= max));
}

// fc.integer is limited to 32 bits; wider safe-integer ranges go through bigint.
function intBetween(min: number, max: number): fc.Arbitrary<number> {
  if (min >= -(2 ** 31) && max < 2 ** 31) return fc.integer({ min, max });
  return fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number);
}

const FORMAT_RANGES: Record<string, [number, number]> = {
  safeint: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  float32: [-3.4e38, 3.4e38],
};

function numberBounds(checks: CheckDef[]) {
  let [min, max, step] = [-Number.MAX_VALUE, Number.MAX_VALUE, 0];
  let [minExcluded, maxExcluded, isInt] = [false, false, false];
  for (const { check, format = '', value = 0, inclusive } of checks) {
    if (check === 'number_format') {
      const [lo, hi] = FORMAT_RANGES[format] ?? [min, max];
      [min, max, isInt] = [Math.max(min, lo), Math.min(max, hi), isInt || format !== 'float32'];
    } else if (check === 'greater_than' && (value > min || (value === min && !inclusive))) {
      [min, minExcluded] = [value, !inclusive];
    } else if (check === 'less_than' && (value < max || (value === max && !inclusive))) {
      [max, maxExcluded] = [value, !inclusive];
    } else if (check === 'multiple_of') {
      step = Math.abs(value);
    }
  }
  if (isInt || step) {
    // Integers and multiples come from a closed integer range, so fold exclusivity into it.
    min = Math.max(minExcluded ? Math.floor(min) + 1 : Math.ceil(min), Number.MIN_SAFE_INTEGER);
    max = Math.min(maxExcluded ? Math.ceil(max) - 1 : Math.floor(max), Number.MAX_SAFE_INTEGER);
  }
  return { min, max, minExcluded, maxExcluded, isInt, step };
}

function lengthBounds(checks: CheckDef[]): { min: number; max: number } {
  let [min, max] = [0, Number.POSITIVE_INFINITY];
  for (const { check, minimum = min, maximum = max, length } of checks) {
    if (check === 'min_length') min = Math.max(min, minimum);
    if (check === 'max_length') max = Math.min(max, maximum);
    if (check === 'length_equals' && length !== undefined) [min, max] = [length, length];
  }
  return { min, max };
}

// z.uuid() and z.int() carry their format check on the schema's own def, not in `checks`.
function checksOf(schema: Schema): CheckDef[] {
  const def = schema._zod.def;
  const own = 'check' in def ? [def as CheckDef] : [];
  return [...own, ...(def.checks ?? []).map((c) => c._zod.def as CheckDef)];
}

// Generate for the input side of a pipe, unless that is a preprocess (a transform: anything goes) or
// the output side is the same kind of value, typically narrowing it (`z.string().pipe(z.string().min(2))`).
function pipeSource(def: z.core.$ZodPipeDef): Schema {
  const [from, to] = [def.in._zod.def.type, def.out._zod.def.type];
  return from === 'transform' || from === to ? def.out : def.in;
}

// ---- malformed values ----------------------------------------------------------------------------

const HUGE = 'x'.repeat(100_000);
const NUMBERS = [0, -0, -1, 0.5, 1e308, -1e308, 2 ** 53 + 1, 5e-324, Number.NaN, 1 / 0, -1 / 0];
const STRINGS = ['', ' ', '\u0000', 'a\u0000b', '\uD800', 'é👩‍👩‍👧\u202E', '{}', '../../etc/passwd', HUGE];
// Factories, not values, so code under test that mutates an input cannot poison later runs.
const EDGE_VALUES: Factory[] = [
  ...[null, undefined, true, false, ...NUMBERS, ...STRINGS].map((v) => () => v),
  () => [],
  () => [null],
  () => ({}),
  () => Array.from({ length: 2_000 }, (_, i) => i),
  () => JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'),
  () => JSON.parse(`${'{"a":'.repeat(1_000)}{}${'}'.repeat(1_000)}`),
  () => JSON.parse(`${'['.repeat(1_000)}${']'.repeat(1_000)}`),
  () => new Date(Number.NaN),
];
const CONTAINERS = new Set(['object', 'record', 'array', 'union']);
const EXTRA_KEYS = ['__proto__', 'constructor', 'prototype', 'a b\u0000{}'];

type Replacements = { rejected: Factory[]; accepted: Factory[] };
const replacementCache = new WeakMap<Schema, Replacements>();

/** Edge and boundary values split by whether `schema` alone rejects them; once per schema node. */
function replacements(schema: Schema): Replacements {
  const cached = replacementCache.get(schema);
  if (cached) return cached;
  const core = unwrap(schema);
  const checks = checksOf(core);
  const { min, max } = lengthBounds(checks);
  const numbers = numberBounds(checks);
  const boundary: unknown[] = [];
  if (core._zod.def.type === 'string') {
    boundary.push('a'.repeat(Math.min(max + 1, HUGE.length)), 'a'.repeat(Math.max(min - 1, 0)));
  } else if (core._zod.def.type === 'number') {
    boundary.push(...[numbers.min - 1, numbers.max + 1, numbers.min + 0.5].filter(Number.isFinite));
  }
  const result: Replacements = { rejected: [], accepted: [] };
  for (const make of [...EDGE_VALUES, ...boundary.map((v) => () => v)]) {
    (accepts(schema, make()) ? result.accepted : result.rejected).push(make);
  }
  replacementCache.set(schema, result);
  return result;
}

function accepts(schema: Schema, value: unknown): boolean {
  try {
    return (schema as z.ZodType).safeParse(value).success;
  } catch {
    return false; // a throwing transform or async check counts as a rejection
  }
}

function unwrap(schema: Schema): Schema {
  let current = schema;
  for (let i = 0; i < LAZY_LIMIT; i++) {
    const def = current._zod.def;
    if ('innerType' in def) current = (def as z.core.$ZodOptionalDef).innerType;
    else if (def.type === 'pipe') current = pipeSource(def as z.core.$ZodPipeDef);
    else if (def.type === 'lazy') current = (def as z.core.$ZodLazyDef).getter();
    else break;
  }
  return current;
}

type Weighted = fc.WeightedArbitrary<unknown>;
type Container = Record<string, unknown> | unknown[];

/** One mutation of `value` (valid for `schema`): here, or inside one of its fields or elements. */
function mutate(schema: Schema, value: unknown, root = false): fc.Arbitrary<unknown> {
  const options: Weighted[] = [];
  const core = unwrap(schema);
  const def = core._zod.def as { shape?: z.core.$ZodShape; valueType?: Schema; element?: Schema };
  const kind = core._zod.def.type;
  const isArray = kind === 'array' && Array.isArray(value);
  if (isArray || ((kind === 'object' || kind === 'record') && isPlainRecord(value))) {
    const container = value as Container;
    const fieldOf = (key: string) => (def.shape ? def.shape[key] : (def.valueType ?? def.element));
    const keys = Object.keys(container);
    // Absent optional fields count too: given a bad value, they reach code the valid value skipped.
    const deep = [...new Set([...keys, ...Object.keys(def.shape ?? {})])].filter(
      (k) => !!fieldOf(k) && replacements(fieldOf(k)!).rejected.length > 0,
    );
    const at = (key: string) => (container as Record<string, unknown>)[key];
    const deeper = (k: string) => mutate(fieldOf(k)!, at(k)).map((m) => withKey(container, k, m));
    if (deep.length) options.push({ weight: 8, arbitrary: fc.constantFrom(...deep).chain(deeper) });
    options.push(...variants(core, isArray ? resized(core, value as unknown[]) : reshaped(container, keys)));
  } else if (kind === 'union') {
    // Only into containers: a bad scalar for one option may be a good one for another (string | number).
    const { options: members } = core._zod.def as z.core.$ZodUnionDef;
    const option = members.find((o) => CONTAINERS.has(unwrap(o)._zod.def.type) && accepts(o, value));
    if (option) options.push({ weight: 8, arbitrary: mutate(option, value, root) });
  }
  // Replacing the whole top-level value is malformedArbitrary's other branches' job.
  const { rejected, accepted } = replacements(schema);
  if (!root || !options.length) {
    if (rejected.length) options.push({ weight: 5, arbitrary: pick(rejected) });
    if (accepted.length) options.push({ weight: 1, arbitrary: pick(accepted) });
  }
  return options.length ? fc.oneof(...options) : fc.constant(value);
}

function reshaped(value: Container, keys: string[]): Container[] {
  const dropped = keys.map((key) => Object.fromEntries(Object.entries(value).filter(([k]) => k !== key)));
  return [...dropped, ...EXTRA_KEYS.map((key) => withKey(value, key, { polluted: true }))];
}

// Just past min and max, and very long (bounded so a fuzz run stays fast).
function resized(core: Schema, value: unknown[]): unknown[][] {
  const { min, max } = lengthBounds(checksOf(core));
  const lengths = [min - 1, max + 1, 2_000].filter((n) => n >= 0 && n <= 2_000);
  return lengths.map((n) => Array.from({ length: n }, (_, i) => value[i] ?? value[0] ?? null));
}

/** Structural variants (a key dropped or added, a length broken), mostly ones the schema rejects. */
function variants(schema: Schema, candidates: unknown[]): Weighted[] {
  if (!candidates.length) return [];
  const rejected = candidates.filter((candidate) => !accepts(schema, candidate));
  const all = { weight: 1, arbitrary: fc.constantFrom(...candidates) };
  return rejected.length ? [all, { weight: 6, arbitrary: fc.constantFrom(...rejected) }] : [all];
}

function pick(factories: Factory[]): fc.Arbitrary<unknown> {
  return fc.constantFrom(...factories).map((make) => make());
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// defineProperty, so `__proto__` becomes an own key as JSON.parse would make it, not a prototype swap.
function withKey(value: Container, key: string, field: unknown): Container {
  const copy = Array.isArray(value) ? [...value] : { ...value };
  Object.defineProperty(copy, key, { value: field, enumerable: true, writable: true, configurable: true });
  return copy;
}
