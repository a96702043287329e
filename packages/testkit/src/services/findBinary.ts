import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The first executable among PATH and `candidates`; the error says how this project installs it. */
export function findBinary(name: string, candidates: readonly string[] = []): string {
  const fromPath = (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, name));
  for (const file of [...fromPath, ...candidates]) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  throw new Error(`${name} not found; run the README test command once, it installs the Debian packages`);
}

/** PostgreSQL's server binaries live in a versioned directory that is not on PATH on Debian. */
export function findPostgresBin(): string {
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  } catch {}
  for (const version of versions) {
    try {
      accessSync(join(root, version, 'bin', 'postgres'), constants.X_OK);
      return join(root, version, 'bin');
    } catch {}
  }
  throw new Error(
    'PostgreSQL server binaries not found under /usr/lib/postgresql; run the README test command once',
  );
}
