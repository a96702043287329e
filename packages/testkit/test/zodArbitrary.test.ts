// The fuzzing arbitraries must keep their promises, or a fuzz test proves nothing: valid values parse,
// malformed ones mostly do not, and neither ever throws while being generated.
import { Api } from '@trellis/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { malformedArbitrary, validArbitrary } from '../src/fuzz/index';

const Id = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/);

const schemas: Record<string, z.ZodType> = {
  'object with regex ids and bounds': z.object({
    roomId: Id,
    name: z.string().min(1).max(40),
    code: z.string().length(6),
    capacity: z.number().int().min(2).max(50),
    weight: z.number().positive().lt(1),
    big: z.number().int().nonnegative(),
    step: z.number().multipleOf(5).max(1_000),
  }),
  'enums, literals and formats': z.object({
    role: z.enum(['host', 'guest']),
    version: z.literal(2),
    token: z.uuid(),
    email: z.email(),
    at: z.iso.datetime(),
    site: z.url(),
    tag: z.string().startsWith('t-').toLowerCase(),
  }),
  'nested arrays': z.object({
    matrix: z.array(z.array(z.number().int().min(0).max(255)).min(1).max(3)).max(4),
    ids: z.array(Id).nonempty(),
    pair: z.tuple([z.string(), z.boolean()]),
  }),
  'discriminated union': z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('offer'), sdp: z.string().min(1).max(500) }),
    z.object({ kind: z.literal('candidate'), index: z.number().int().min(0).max(255).nullable().optional() }),
  ]),
  'optional and default fields': z.object({
    paused: z.boolean().default(false),
    note: z.string().max(10).optional(),
    mid: z.string().nullable(),
    layers: z.object({ spatial: z.number().int().min(0).max(15) }).optional(),
  }),
  'loose and strict objects': z.object({
    loose: z.looseObject({ uri: z.string(), id: z.number().int() }),
    strict: z.strictObject({ a: z.boolean() }),
  }),
  records: z.object({
    appData: z.record(z.string(), z.unknown()),
    byKind: z.record(z.enum(['audio', 'video']), z.number().int()),
    some: z.partialRecord(z.enum(['a', 'b']), z.string()),
    scores: z.record(Id, z.number().min(0)),
  }),
  'pipes and unions': z.object({
    length: z
      .string()
      .max(20)
      .transform((s) => s.length),
    trimmed: z.preprocess((v) => (typeof v === 'string' ? v.trim() : v), z.string().max(8)),
    either: z.union([z.string().min(3), z.number()]),
    frozen: z.array(z.string()).readonly(),
  }),
  'odd corners': z.object({
    below: z.number().negative(),
    int32: z.int32(),
    caseless: z.string().regex(/^ab+$/i),
    narrowed: z.string().pipe(z.string().min(2)),
    row: z.tuple([z.string(), z.number()]).rest(z.boolean()),
    key: z.templateLiteral(['id-', z.number().int(), '-', z.enum(['a', 'b'])]),
    host: z.hostname(),
    exact: z.string().exactOptional(),
  }),
  'API: produce': Api.Produce.request,
  'API: join': Api.JoinRoom.request,
  'API: relay signal': Api.RelaySignal.request,
  'API: connect transport': Api.ConnectTransport.request,
  'API: consume': Api.ConsumeProducer.request,
  'API: path ready': Api.ReportPathReady.request,
};

function parses(schema: z.ZodType, value: unknown): boolean {
  return schema.safeParse(value).success;
}

describe('validArbitrary', () => {
  for (const [name, schema] of Object.entries(schemas)) {
    it(`only generates values that parse: ${name}`, () => {
      fc.assert(
        fc.property(validArbitrary(schema), (value) => {
          const result = schema.safeParse(value);
          if (!result.success) throw new Error(z.prettifyError(result.error));
        }),
        { numRuns: 200 },
      );
    });
  }

  it('leaves optional keys out some of the time and adds unknown keys to loose objects', () => {
    const schema = z.looseObject({ a: z.string().optional(), b: z.number() });
    const values = fc.sample(validArbitrary(schema), 300) as Record<string, unknown>[];
    expect(values.some((v) => !('a' in v))).toBe(true);
    expect(values.some((v) => 'a' in v)).toBe(true);
    expect(values.some((v) => Object.keys(v).some((k) => k !== 'a' && k !== 'b'))).toBe(true);
  });

  it('terminates on recursive schemas', () => {
    const Node: z.ZodType = z.object({ name: z.string(), children: z.array(z.lazy(() => Node)).optional() });
    fc.assert(
      fc.property(validArbitrary(Node), (value) => parses(Node, value)),
      { numRuns: 100 },
    );
  });

  it('falls back to anything for constructs it cannot honour, without throwing', () => {
    const schema = z.object({
      f: z.string().refine((s) => s === 'x'),
      i: z.intersection(z.string(), z.string()),
    });
    expect(() => fc.sample(validArbitrary(schema), 50)).not.toThrow();
  });
});

describe('malformedArbitrary', () => {
  for (const [name, schema] of Object.entries(schemas)) {
    it(`mostly generates values that fail to parse: ${name}`, () => {
      const values = fc.sample(malformedArbitrary(schema), { numRuns: 300, seed: 42 });
      const rejected = values.filter((value) => !parses(schema, value)).length;
      expect(rejected / values.length).toBeGreaterThanOrEqual(0.8);
    });
  }

  it('never throws while generating, whatever the seed', () => {
    const arbitraries = Object.values(schemas).map((schema) => malformedArbitrary(schema));
    for (const arbitrary of arbitraries) {
      for (const seed of [1, 2, 3]) expect(() => fc.sample(arbitrary, { numRuns: 100, seed })).not.toThrow();
    }
  });

  it('produces the promised kinds of hostile input', () => {
    const schema = z.object({ name: z.string().max(10), tags: z.array(z.string()).max(3), n: z.number() });
    const values = fc.sample(malformedArbitrary(schema), { numRuns: 3_000, seed: 7 });
    const objects = values.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null);
    const has = (predicate: (v: Record<string, unknown>) => boolean) => objects.some(predicate);
    expect(has((v) => !('name' in v) && 'tags' in v && 'n' in v)).toBe(true); // a missing required key
    expect(has((v) => Object.hasOwn(v, '__proto__'))).toBe(true); // prototype pollution
    expect(has((v) => typeof v.name === 'number')).toBe(true); // wrong type, one field deep
    expect(has((v) => Array.isArray(v.tags) && v.tags.length > 1_000)).toBe(true); // very long array
    expect(has((v) => Array.isArray(v.tags) && v.tags.some((t) => typeof t !== 'string'))).toBe(true);
    expect(has((v) => typeof v.name === 'string' && v.name.length >= 100_000)).toBe(true); // huge string
    expect(has((v) => Number.isNaN(v.n) || v.n === Number.POSITIVE_INFINITY)).toBe(true);
    expect(values).toContain(null);
    expect(values).toContain(undefined);
    expect(values.some(Array.isArray)).toBe(true);
    // Most are a valid value with a single mutation, which is what reaches the deep code paths.
    const almostValid = objects.filter((v) => ['name', 'tags', 'n'].filter((k) => k in v).length >= 2).length;
    expect(almostValid / values.length).toBeGreaterThan(0.5);
  });

  it('hands out fresh edge values, so a mutating server cannot poison later runs', () => {
    const values = fc.sample(malformedArbitrary(z.object({ a: z.string() })), { numRuns: 2_000, seed: 3 });
    const empties = values.filter((v) => Array.isArray(v) && v.length === 0);
    expect(new Set(empties).size).toBe(empties.length);
  });
});
