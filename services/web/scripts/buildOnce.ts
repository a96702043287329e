// `next build` of the web app, skipped when the last build was made from the same sources. Used by
// the Chromium tests and by `./trellis run`; run directly: `node --import tsx scripts/buildOnce.ts`.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const webDir = resolve(fileURLToPath(new URL('..', import.meta.url)));
const repo = resolve(webDir, '../..');
export const nextBin = join(webDir, 'node_modules/.bin/next');
const stamp = join(webDir, '.next/trellis-sources.sha256');

/** Everything the bundle is made of: the app and the workspace packages it compiles in. */
const sources = [
  join(webDir, 'app'),
  join(webDir, 'components'),
  join(webDir, 'lib'),
  join(webDir, 'next.config.ts'),
  join(webDir, 'package.json'),
  join(repo, 'packages/client/src'),
  join(repo, 'packages/protocol/src'),
];

function hashSources(): string {
  const hash = createHash('sha256');
  const walk = (path: string) => {
    if (!existsSync(path)) return;
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) walk(join(path, name));
      return;
    }
    hash.update(path);
    hash.update(readFileSync(path));
  };
  for (const source of sources) walk(source);
  return hash.digest('hex');
}

/** Builds unless up to date; `onOutput` sees next's progress lines. */
export async function buildWebApp(
  onOutput: (line: string) => void = () => undefined,
): Promise<{ built: boolean; ms: number }> {
  const started = Date.now();
  const digest = hashSources();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return { built: false, ms: 0 };
  const output: string[] = [];
  const code = await new Promise<number | null>((resolveExit, reject) => {
    const child = spawn(nextBin, ['build'], {
      cwd: webDir,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim().length === 0) continue;
        output.push(line);
        onOutput(line);
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', reject);
    child.once('exit', resolveExit);
  });
  if (code !== 0) throw new Error(`next build failed (${code}):\n${output.slice(-40).join('\n')}`);
  writeFileSync(stamp, digest);
  return { built: true, ms: Date.now() - started };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildWebApp((line) => process.stderr.write(`    ${line}\n`)).then(
    ({ built, ms }) => process.stderr.write(built ? `web app built in ${ms} ms\n` : 'web app up to date\n'),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
}
