import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEV_JWT_SECRET } from '@trellis/config';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createToken } from '../src/commands/token';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const SECRET = 'cli-test-secret-0123456789abcdefghijkl';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: its own process, reading only its arguments and environment. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('JWT_') && k !== 'NODE_ENV'),
  );
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'tools/cli/src/main.ts', 'token', ...args],
      { cwd: root, env: { ...clean, ...env } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const verify = (token: string, secret: string, issuer = 'trellis', audience = 'trellis') =>
  jwtVerify(token, new TextEncoder().encode(secret), { issuer, audience, algorithms: ['HS256'] });

describe('trellis token', { timeout: 30_000 }, () => {
  it('prints only a token signed with the dev secret, and says so on stderr', async () => {
    const run = await cli(['--room', 'room-1', '--identity', 'alice']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(run.stderr).toContain('public development secret');
    const { payload } = await verify(run.stdout.trim(), DEV_JWT_SECRET);
    expect(payload).toMatchObject({
      sub: 'alice',
      trellis: { room: 'room-1', canPublish: true, canSubscribe: true, admin: false },
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.exp! * 1000).toBeGreaterThan(Date.now());
  });

  it('reads JWT_SECRET, JWT_ISSUER and JWT_AUDIENCE and applies the grant flags', async () => {
    const run = await cli(
      ['--room', 'room-2', '--identity', 'ops', '--name', 'Ops', '--admin', '--no-publish', '--ttl', '60'],
      { JWT_SECRET: SECRET, JWT_ISSUER: 'acme', JWT_AUDIENCE: 'calls' },
    );
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const { payload } = await verify(run.stdout.trim(), SECRET, 'acme', 'calls');
    expect(payload).toMatchObject({
      sub: 'ops',
      name: 'Ops',
      trellis: { room: 'room-2', canPublish: false, canSubscribe: true, admin: true },
    });
    expect(payload.exp! - payload.iat!).toBe(60);
  });

  it('fails with a message and no token on bad input', async () => {
    const badRoom = await cli(['--room', 'no spaces', '--identity', 'alice']);
    expect(badRoom).toMatchObject({ code: 1, stdout: '' });
    expect(badRoom.stderr).toContain('trellis.room');
    const production = await cli(['--room', 'r', '--identity', 'a'], { NODE_ENV: 'production' });
    expect(production.code).toBe(1);
    expect(production.stderr).toContain('JWT_SECRET: is required when NODE_ENV=production');
    const missing = await cli(['--identity', 'a']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("'--room <roomId>'");
  });
});

describe('createToken', () => {
  const opts = { room: 'room-3', identity: 'bob', admin: false, publish: true, subscribe: false, ttl: 30 };

  it('prefers --secret over JWT_SECRET', async () => {
    const other = `${SECRET}-other`;
    const { token, usingDevSecret } = await createToken({ ...opts, secret: other }, { JWT_SECRET: SECRET });
    expect(usingDevSecret).toBe(false);
    const { payload } = await verify(token, other);
    expect(payload).toMatchObject({ sub: 'bob', trellis: { canSubscribe: false } });
  });

  it('ignores unrelated variables, even broken ones', async () => {
    const { usingDevSecret } = await createToken(opts, { REDIS_URL: 'not a url', HTTP_PORT: 'x' });
    expect(usingDevSecret).toBe(true);
  });

  it('refuses a secret the gateway would refuse', async () => {
    await expect(createToken({ ...opts, secret: 'short' }, {})).rejects.toThrow(/at least 32 characters/);
    await expect(createToken(opts, { NODE_ENV: 'production', JWT_SECRET: DEV_JWT_SECRET })).rejects.toThrow(
      /public development secret/,
    );
  });
});
