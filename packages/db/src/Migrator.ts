import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { AppliedMigration, MigrateResult, MigrationFile, MigrationStatus } from './MigratorTypes';

/** The lock id `prisma migrate` takes, so this migrator and Prisma's never run at once. */
const PRISMA_ADVISORY_LOCK = 72707369;

// The bookkeeping table exactly as Prisma's schema engine creates it: operators with internet can
// run `prisma migrate deploy` or `prisma migrate status` on a database this migrator set up.
const MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly migration: string,
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

export interface MigratorOptions {
  databaseUrl: string;
  /** Default: this package's prisma/migrations. */
  dir?: string;
  log?: (line: string) => void;
}

/**
 * Applies Prisma-layout migrations (`<dir>/<timestamp>_<name>/migration.sql`) without Prisma's
 * schema engine, which cannot be downloaded here. Each migration runs in one transaction together
 * with its `_prisma_migrations` row, so a failure leaves neither; applying twice is a no-op.
 * `rollback()` runs the newest migration's `down.sql` and marks its row rolled back, which is how
 * `prisma migrate resolve --rolled-back` records it (deploy then applies it again).
 */
export class Migrator {
  readonly #o: Required<MigratorOptions>;

  constructor(options: MigratorOptions) {
    this.#o = {
      dir: join(import.meta.dirname, '..', 'prisma', 'migrations'),
      log: () => {},
      ...options,
    };
  }

  migrations(): MigrationFile[] {
    return readdirSync(this.#o.dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(this.#o.dir, d.name, 'migration.sql')))
      .map((d) => d.name)
      .sort()
      .map((name) => {
        const sql = readFileSync(join(this.#o.dir, name, 'migration.sql'), 'utf8');
        const downPath = join(this.#o.dir, name, 'down.sql');
        return {
          name,
          sql,
          checksum: createHash('sha256').update(sql).digest('hex'),
          ...(existsSync(downPath) ? { down: readFileSync(downPath, 'utf8') } : {}),
        };
      });
  }

  async status(): Promise<MigrationStatus> {
    return this.#withLock(async (client) => this.#status(client, await this.#applied(client)));
  }

  async deploy(): Promise<MigrateResult> {
    return this.#withLock(async (client) => {
      const rows = await this.#applied(client);
      const status = this.#status(client, rows);
      if (status.failed.length > 0) {
        throw new MigrationError(
          `migration ${status.failed[0]} failed earlier; fix the database, then mark it rolled back`,
          status.failed[0] as string,
        );
      }
      if (status.modified.length > 0) {
        throw new MigrationError(
          `migration ${status.modified[0]} was changed after it was applied`,
          status.modified[0] as string,
        );
      }
      const result: MigrateResult = { applied: [], skipped: status.applied };
      for (const migration of this.migrations()) {
        if (!status.pending.includes(migration.name)) continue;
        this.#o.log(`applying ${migration.name}`);
        await this.#apply(client, migration);
        result.applied.push(migration.name);
      }
      return result;
    });
  }

  /** Undoes the newest applied migration with its down.sql; returns its name, or undefined if none. */
  async rollback(): Promise<string | undefined> {
    return this.#withLock(async (client) => {
      const applied = this.#status(client, await this.#applied(client)).applied;
      const name = applied.at(-1);
      if (name === undefined) return undefined;
      const migration = this.migrations().find((m) => m.name === name);
      if (!migration?.down) throw new MigrationError(`migration ${name} has no down.sql`, name);
      this.#o.log(`rolling back ${name}`);
      await client.query('BEGIN');
      try {
        await client.query(migration.down);
        await client.query(
          `UPDATE "_prisma_migrations" SET rolled_back_at = now()
           WHERE migration_name = $1 AND rolled_back_at IS NULL`,
          [name],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new MigrationError(`rollback of ${name} failed: ${(error as Error).message}`, name);
      }
      return name;
    });
  }

  async #apply(client: pg.Client, migration: MigrationFile): Promise<void> {
    const id = randomUUID();
    await client.query('BEGIN');
    try {
      await client.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), 0)`,
        [id, migration.checksum, migration.name],
      );
      await client.query(migration.sql);
      await client.query(
        `UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`,
        [id],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw new MigrationError(
        `migration ${migration.name} failed: ${(error as Error).message}`,
        migration.name,
      );
    }
  }

  #status(_client: pg.Client, rows: AppliedMigration[]): MigrationStatus {
    const live = rows.filter((r) => r.rolledBackAt === null);
    const files = this.migrations();
    const byName = new Map(files.map((f) => [f.name, f]));
    const finished = new Set(live.filter((r) => r.finishedAt !== null).map((r) => r.name));
    return {
      applied: files.filter((f) => finished.has(f.name)).map((f) => f.name),
      pending: files.filter((f) => !live.some((r) => r.name === f.name)).map((f) => f.name),
      failed: live.filter((r) => r.finishedAt === null).map((r) => r.name),
      modified: live
        .filter(
          (r) => r.finishedAt !== null && byName.has(r.name) && byName.get(r.name)?.checksum !== r.checksum,
        )
        .map((r) => r.name),
    };
  }

  async #applied(client: pg.Client): Promise<AppliedMigration[]> {
    await client.query(MIGRATIONS_TABLE);
    const { rows } = await client.query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      rolled_back_at: Date | null;
      logs: string | null;
    }>(
      `SELECT migration_name, checksum, finished_at, rolled_back_at, logs
       FROM "_prisma_migrations" ORDER BY started_at`,
    );
    return rows.map((r) => ({
      name: r.migration_name,
      checksum: r.checksum,
      finishedAt: r.finished_at,
      rolledBackAt: r.rolled_back_at,
      logs: r.logs,
    }));
  }

  async #withLock<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.#o.databaseUrl, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);
      try {
        return await fn(client);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]).catch(() => {});
      }
    } finally {
      await client.end();
    }
  }
}
