import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { mintToken } from '@trellis/signaling/mintToken';
import { type RedisServer, spawnProcess, startRedis } from '@trellis/testkit';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask, connectSocket, spawnSignaling, uid } from '../../services/signaling/test/support/stack';

const persisterMain = fileURLToPath(new URL('../../services/persister/src/main.ts', import.meta.url));

/** Parsed JSON log lines; anything else a service printed is returned apart. */
function logLines(output: string): { records: Array<Record<string, unknown>>; other: string[] } {
  const records: Array<Record<string, unknown>> = [];
  const other: string[] = [];
  for (const line of output.split('\n').filter((l) => l.trim() !== '')) {
    try {
      records.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      other.push(line);
    }
  }
  return { records, other };
}

describe('service logs: JSON lines with ids, and never a secret', () => {
  let redis: RedisServer;
  const secrets = {
    jwt: `jwt-${randomBytes(24).toString('hex')}`,
    turn: `turn-${randomBytes(24).toString('hex')}`,
    dbPassword: `pw${randomBytes(12).toString('hex')}`,
    webhook: `wh-${randomBytes(24).toString('hex')}`,
  };

  beforeAll(async () => {
    redis = await startRedis();
  }, 30_000);

  afterAll(async () => {
    await redis?.stop();
  });

  it('signaling at debug level, through joins, refused tokens and failing requests', async () => {
    // The database is unreachable on purpose: its errors carry the connection string's context.
    const dbPort = await getPort({ host: '127.0.0.1' });
    const sig = await spawnSignaling(redis.url, {
      LOG_LEVEL: 'debug',
      JWT_SECRET: secrets.jwt,
      TURN_URLS: 'turn:127.0.0.1:3478?transport=udp',
      TURN_SECRET: secrets.turn,
      DATABASE_URL: `postgresql://trellis:${secrets.dbPassword}@127.0.0.1:${dbPort}/trellis`,
    });
    const roomId = uid('room');
    const token = await mintToken({
      secret: secrets.jwt,
      issuer: 'trellis',
      audience: 'trellis',
      identity: 'alice',
      grant: { room: roomId, admin: true },
      ttlSeconds: 600,
    });
    const forged = await mintToken({
      secret: 'x'.repeat(40),
      issuer: 'trellis',
      audience: 'trellis',
      identity: 'mallory',
      grant: { room: roomId },
      ttlSeconds: 600,
    });
    const leaks = [secrets.jwt, secrets.turn, secrets.dbPassword, token, forged];
    try {
      const socket = await connectSocket(sig.url, token);
      const joined = await ask<{ iceServers: Array<{ credential?: string }> }>(socket, 'join', { roomId });
      expect(joined.ok).toBe(true);
      const credential = joined.ok ? joined.data.iceServers.find((s) => s.credential)?.credential : undefined;
      expect(credential).toBeTruthy();
      leaks.push(credential!);
      await ask(socket, 'listCalls', { roomId });
      socket.close();
      await expect(connectSocket(sig.url, forged)).rejects.toThrow();
      const rest = (t: string) =>
        fetch(`${sig.url}/v1/rooms/${roomId}/calls`, { headers: { authorization: `Bearer ${t}` } });
      expect((await rest(forged)).status).toBe(401);
      await (await rest(token)).text();
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await sig.process.stop('SIGTERM');
    }

    const output = sig.process.output;
    for (const leak of leaks)
      expect(output.includes(leak), `log output contains ${leak.slice(0, 12)}…`).toBe(false);
    const { records, other } = logLines(output);
    expect(other).toEqual([]);
    expect(records.length).toBeGreaterThan(3);
    for (const r of records) expect(r).toMatchObject({ service: 'signaling', node: sig.nodeId });
    // Request lines carry the call (room) and the participant they concern.
    const joinLine = records.find((r) => r.request === 'join');
    expect(joinLine).toMatchObject({ roomId, identity: 'alice', code: 'OK' });
    expect(typeof joinLine?.requestId).toBe('string');
  }, 60_000);

  it('the persister, whose database is down, logs its errors without the password', async () => {
    const dbPort = await getPort({ host: '127.0.0.1' });
    const persister = spawnProcess(process.execPath, ['--import', 'tsx', persisterMain], {
      name: 'persister',
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'debug',
        NODE_ID: 'persister-logs',
        REDIS_URL: redis.url,
        METRICS_PORT: '0',
        DATABASE_URL: `postgresql://trellis:${secrets.dbPassword}@127.0.0.1:${dbPort}/trellis`,
        WEBHOOK_URLS: 'http://127.0.0.1:9/hook',
        WEBHOOK_SECRET: secrets.webhook,
      },
    });
    try {
      await persister.waitForOutput(/"service":"persister"/, 30_000);
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await persister.stop('SIGTERM');
    }
    const output = persister.output;
    for (const leak of [secrets.dbPassword, secrets.webhook]) expect(output).not.toContain(leak);
    const { records } = logLines(output);
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) expect(r).toMatchObject({ service: 'persister', node: 'persister-logs' });
  }, 60_000);
});
