import { readFileSync } from 'node:fs';
import { type PostgresServer, queryPostgres, startPostgres } from '@trellis/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../src/createDb';
import { Migrator } from '../src/Migrator';

interface Datamodel {
  models: {
    name: string;
    dbName: string | null;
    fields: {
      name: string;
      dbName?: string | null;
      kind: string;
      type: string;
      isList: boolean;
      isRequired: boolean;
    }[];
  }[];
  enums: { name: string; values: { name: string }[] }[];
  indexes: {
    model: string;
    type: string;
    dbName?: string | null;
    fields: { name: string; sortOrder?: string }[];
  }[];
}

// Written by prisma generate (prisma/dmmf-generator.mjs) from schema.prisma.
const dmmf = JSON.parse(
  readFileSync(new URL('../src/generated/dmmf.json', import.meta.url), 'utf8'),
) as Datamodel;

/** Prisma's scalar type for a PostgreSQL column as information_schema describes it. */
function prismaTypeOf(col: { data_type: string; udt_name: string }): string {
  switch (col.udt_name) {
    case 'text':
    case 'bpchar':
    case 'varchar':
      return 'String';
    case 'int4':
      return 'Int';
    case 'int8':
      return 'BigInt';
    case 'float8':
      return 'Float';
    case 'bool':
      return 'Boolean';
    case 'timestamptz':
    case 'timestamp':
      return 'DateTime';
    case 'jsonb':
      return 'Json';
    case '_text':
      return 'String[]';
    default:
      return col.data_type === 'USER-DEFINED' ? col.udt_name : `?${col.udt_name}`;
  }
}

describe('schema.prisma and the migrations', () => {
  let pgServer: PostgresServer;
  let url: string;

  beforeAll(async () => {
    pgServer = await startPostgres();
    url = await pgServer.createDatabase('db_schema_test');
  });
  afterAll(async () => {
    await pgServer?.stop();
  });

  it('applies every migration once; a second deploy is a no-op', async () => {
    const migrator = new Migrator({ databaseUrl: url });
    const first = await migrator.deploy();
    expect(first.applied).toEqual(migrator.migrations().map((m) => m.name));
    const tablesBefore = await queryPostgres(
      url,
      `SELECT count(*)::int AS n FROM pg_class WHERE relkind IN ('r','i')`,
    );
    const second = await migrator.deploy();
    expect(second.applied).toEqual([]);
    expect(second.skipped).toEqual(first.applied);
    const tablesAfter = await queryPostgres(
      url,
      `SELECT count(*)::int AS n FROM pg_class WHERE relkind IN ('r','i')`,
    );
    expect(tablesAfter).toEqual(tablesBefore);
    // The rows prisma migrate deploy would have written: checksum = sha256 of migration.sql, finished, one step.
    const rows = await queryPostgres<{
      migration_name: string;
      checksum: string;
      steps: number;
      finished: boolean;
    }>(
      url,
      `SELECT migration_name, checksum, applied_steps_count AS steps, finished_at IS NOT NULL AS finished
       FROM _prisma_migrations ORDER BY migration_name`,
    );
    expect(rows).toEqual(
      migrator
        .migrations()
        .map((m) => ({ migration_name: m.name, checksum: m.checksum, steps: 1, finished: true })),
    );
    expect(await migrator.status()).toMatchObject({ pending: [], failed: [], modified: [] });
  });

  it('has every model, field, type, nullability and index of schema.prisma in the database', async () => {
    const columns = await queryPostgres<{
      table_name: string;
      column_name: string;
      data_type: string;
      udt_name: string;
      is_nullable: 'YES' | 'NO';
    }>(
      url,
      `SELECT table_name, column_name, data_type, udt_name, is_nullable FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`,
    );
    const dbTables = new Map<string, Map<string, (typeof columns)[number]>>();
    for (const c of columns) {
      const t = dbTables.get(c.table_name) ?? new Map();
      t.set(c.column_name, c);
      dbTables.set(c.table_name, t);
    }
    const models = dmmf.models;
    expect(new Set(models.map((m) => m.dbName ?? m.name))).toEqual(new Set(dbTables.keys()));
    for (const model of models) {
      const table = dbTables.get(model.dbName ?? model.name);
      const scalar = model.fields.filter((f) => f.kind === 'scalar' || f.kind === 'enum');
      expect(new Set(scalar.map((f) => f.dbName ?? f.name)), model.name).toEqual(new Set(table?.keys()));
      for (const field of scalar) {
        const col = table?.get(field.dbName ?? field.name);
        const type = field.isList ? `${field.type}[]` : field.type;
        expect(col && prismaTypeOf(col), `${model.name}.${field.name} type`).toBe(type);
        // Prisma lists are nullable columns; every other field's optionality must match.
        if (!field.isList)
          expect(col?.is_nullable === 'YES', `${model.name}.${field.name} nullable`).toBe(!field.isRequired);
      }
    }
    const enums = await queryPostgres<{ name: string; values: string[] }>(
      url,
      `SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS values
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`,
    );
    expect(Object.fromEntries(enums.map((e) => [e.name, e.values]))).toEqual(
      Object.fromEntries(dmmf.enums.map((e) => [e.name, e.values.map((v) => v.name)])),
    );

    const indexes = await queryPostgres<{ indexname: string; indexdef: string }>(
      url,
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'`,
    );
    const columnOf = (model: string, field: string) =>
      models.find((m) => m.name === model)?.fields.find((f) => f.name === field)?.dbName ?? field;
    // Same names, and each on the same columns in the same order and direction.
    const expected = Object.fromEntries(
      dmmf.indexes.map((i) => {
        const model = models.find((m) => m.name === i.model);
        const name = i.type === 'id' ? `${model?.dbName}_pkey` : (i.dbName as string);
        const cols = i.fields.map(
          (f) => `${columnOf(i.model, f.name)}${f.sortOrder === 'desc' ? ' DESC' : ''}`,
        );
        return [name, `(${cols.join(', ')})`];
      }),
    );
    expect(Object.fromEntries(indexes.map((i) => [i.indexname, /\((.*)\)$/.exec(i.indexdef)?.[0]]))).toEqual(
      expected,
    );
  });

  it('reads and writes through the generated client', async () => {
    const db = createDb({ databaseUrl: url });
    try {
      const id = 'a'.repeat(32);
      await db.callSession.create({ data: { id, roomId: 'room-1', startedAt: new Date() } });
      await db.callParticipant.create({
        data: {
          id: 'b'.repeat(32),
          callId: id,
          identity: 'alice',
          displayName: 'Alice',
          joinedAt: new Date(),
        },
      });
      const call = await db.callSession.findUniqueOrThrow({ where: { id }, include: { participants: true } });
      expect(call.participants.map((p) => p.identity)).toEqual(['alice']);
      expect(call.sfuNodeIds).toEqual([]);
      await db.callSession.delete({ where: { id } });
    } finally {
      await db.$disconnect();
    }
  });

  it('rolls the newest migration back with its down.sql, and deploy applies it again', async () => {
    const migrator = new Migrator({ databaseUrl: url });
    for (const m of migrator.migrations()) expect(m.down, `${m.name} has a down.sql`).toBeTruthy();
    const newest = migrator.migrations().at(-1)?.name;
    expect(await migrator.rollback()).toBe(newest);
    const left = await queryPostgres(url, `SELECT to_regclass('public.call_session') AS t`);
    expect(left).toEqual([{ t: null }]);
    expect((await migrator.status()).pending).toEqual([newest]);
    expect((await migrator.deploy()).applied).toEqual([newest]);
    const back = await queryPostgres(url, `SELECT to_regclass('public.call_session')::text AS t`);
    expect(back).toEqual([{ t: 'call_session' }]);
  });

  it('refuses to deploy over a migration edited after it was applied', async () => {
    const migrator = new Migrator({ databaseUrl: url });
    await queryPostgres(
      url,
      `UPDATE _prisma_migrations SET checksum = repeat('0', 64) WHERE rolled_back_at IS NULL`,
    );
    await expect(migrator.deploy()).rejects.toThrow(/changed after it was applied/);
  });
});
