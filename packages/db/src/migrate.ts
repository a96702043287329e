// The offline migrator's command line: `tsx packages/db/src/migrate.ts deploy|status|rollback`
// with DATABASE_URL set. deploy is what `prisma migrate deploy` would do with the same folder.
import { Migrator } from './Migrator';

const command = process.argv[2] ?? 'deploy';
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  process.stderr.write('DATABASE_URL is not set\n');
  process.exit(2);
}
const migrator = new Migrator({ databaseUrl, log: (line) => process.stderr.write(`${line}\n`) });
try {
  if (command === 'deploy') {
    const { applied, skipped } = await migrator.deploy();
    process.stdout.write(`${JSON.stringify({ applied, alreadyApplied: skipped.length })}\n`);
  } else if (command === 'status') {
    process.stdout.write(`${JSON.stringify(await migrator.status(), null, 2)}\n`);
  } else if (command === 'rollback') {
    const name = await migrator.rollback();
    process.stdout.write(`${JSON.stringify({ rolledBack: name ?? null })}\n`);
  } else {
    process.stderr.write(`unknown command ${command}: deploy | status | rollback\n`);
    process.exit(2);
  }
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
