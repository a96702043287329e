import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SignalingConfig } from '@trellis/config';
import express from 'express';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devTokenRouter } from '../../src/auth/devTokenRoute';
import { TokenVerifier } from '../../src/auth/TokenVerifier';

const jwt: SignalingConfig['jwt'] = {
  secret: 'dev-token-route-test-secret-0123456789',
  issuer: 'trellis',
  audience: 'trellis',
  algorithms: ['HS256'],
  usingDevSecret: true,
};

async function serve(config: Pick<SignalingConfig, 'jwt'>): Promise<{ server: Server; url: string }> {
  const app = express();
  app.use(devTokenRouter(config));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dev/token` };
}

describe('POST /dev/token', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    ({ server, url } = await serve({ jwt }));
  });

  afterAll(() => {
    server?.close();
  });

  const post = (body: unknown, raw?: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: raw ?? JSON.stringify(body),
    });

  it('mints a token the verifier accepts, with the asked grant', async () => {
    const res = await post({ roomId: 'room-1', identity: 'alice', name: 'Alice', canPublish: false });
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    await expect(new TokenVerifier(jwt).verify(token, 'room-1')).resolves.toEqual({
      identity: 'alice',
      name: 'Alice',
      grant: { room: 'room-1', canPublish: false, canSubscribe: true, admin: false },
    });
    const claims = decodeJwt(token);
    expect(claims.exp! - claims.iat!).toBe(3600);
  });

  it('honours ttlSeconds and admin', async () => {
    const res = await post({ roomId: 'room-1', identity: 'ops', admin: true, ttlSeconds: 60 });
    const claims = decodeJwt(((await res.json()) as { token: string }).token);
    expect(claims.exp! - claims.iat!).toBe(60);
    expect(claims).toMatchObject({ sub: 'ops', trellis: { admin: true } });
  });

  it.each([
    [{ identity: 'alice' }, 'roomId'],
    [{ roomId: 'has spaces', identity: 'alice' }, 'roomId'],
    [{ roomId: 'room-1', identity: 'alice', ttlSeconds: 86_401 }, 'ttlSeconds'],
    [{ roomId: 'room-1', identity: 'alice', ttlSeconds: 0 }, 'ttlSeconds'],
    [{ roomId: 'room-1', identity: 'alice', canpublish: false }, '(root)'],
    [[], '(root)'],
  ])('answers 400 VALIDATION_FAILED for %j', async (body, path) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const error = (await res.json()) as {
      code: string;
      message: string;
      details: { issues: { path: string }[] };
    };
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toContain('Invalid token request');
    expect(error.details.issues.map((i) => i.path)).toContain(path);
  });

  it('answers 400 VALIDATION_FAILED for a body that is not JSON', async () => {
    const res = await post(undefined, '{"roomId": ');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'VALIDATION_FAILED', message: /Invalid JSON body/ });
    const bare = await fetch(url, { method: 'POST', body: 'roomId=room-1' });
    expect(bare.status).toBe(400);
  });

  it('refuses to mint HS256 tokens the gateway would not accept', async () => {
    const jwksOnly = await serve({
      jwt: { ...jwt, algorithms: ['RS256', 'ES256'], jwksUrl: 'https://idp.example.com/jwks' },
    });
    try {
      const res = await fetch(jwksOnly.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ roomId: 'room-1', identity: 'alice' }),
      });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ code: 'FORBIDDEN', message: /JWT_SECRET/ });
    } finally {
      jwksOnly.server.close();
    }
  });
});
