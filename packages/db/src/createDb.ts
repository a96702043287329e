import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';

export type Db = InstanceType<typeof PrismaClient>;

export interface DbOptions {
  databaseUrl: string;
  /** Connections in the pool (pg's default is 10). */
  poolSize?: number;
  /** How long a query waits for a connection before it fails (and its job is retried). */
  connectTimeoutMs?: number;
}

/** A Prisma client over node-postgres: the driver adapter needs no Rust query engine. */
export function createDb(options: DbOptions): Db {
  const adapter = new PrismaPg({
    connectionString: options.databaseUrl,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
  });
  return new PrismaClient({ adapter });
}
