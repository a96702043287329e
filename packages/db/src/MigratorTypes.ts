export interface MigrationFile {
  /** The folder name, `<timestamp>_<name>`: the row's migration_name. */
  name: string;
  sql: string;
  /** The written rollback (down.sql), if the folder has one. */
  down?: string;
  /** sha256 hex of migration.sql, exactly as `prisma migrate deploy` records it. */
  checksum: string;
}

export interface AppliedMigration {
  name: string;
  checksum: string;
  finishedAt: Date | null;
  rolledBackAt: Date | null;
  logs: string | null;
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
  /** Started and never finished (a failed run): deploy refuses until it is resolved. */
  failed: string[];
  /** Applied, but the file changed since (checksum differs). */
  modified: string[];
}

export interface MigrateResult {
  applied: string[];
  skipped: string[];
}
