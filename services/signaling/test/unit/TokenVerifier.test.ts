import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SignalingConfig } from '@trellis/config';
import { isTrellisError, type TrellisError } from '@trellis/protocol';
import { base64url, type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/mintToken';
import { bearerToken, TokenVerifier } from '../../src/auth/TokenVerifier';

const SECRET = 'unit-test-secret-that-is-long-enough-0123';
const jwt: SignalingConfig['jwt'] = {
  secret: SECRET,
  issuer: 'trellis',
  audience: 'trellis',
  algorithms: ['HS256'],
  usingDevSecret: false,
};
const grant = { room: 'room-1', canPublish: true, canSubscribe: false, admin: false };

const mint = (overrides: Partial<Parameters<typeof mintToken>[0]> = {}) =>
  mintToken({
    secret: SECRET,
    issuer: 'trellis',
    audience: 'trellis',
    identity: 'alice',
    name: 'Alice',
    grant,
    ttlSeconds: 600,
    ...overrides,
  });

async function rejection(promise: Promise<unknown>): Promise<TrellisError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isTrellisError(error)) throw new Error(`expected a TrellisError, got ${String(error)}`);
  return error;
}

describe('TokenVerifier with the shared secret (HS256)', () => {
  const verifier = new TokenVerifier(jwt);

  it('returns the principal of a good token', async () => {
    await expect(verifier.verify(await mint(), 'room-1')).resolves.toEqual({
      identity: 'alice',
      name: 'Alice',
      grant,
    });
  });

  it('fills in grant defaults and uses the identity when there is no name', async () => {
    const token = await mint({ name: undefined, grant: { room: 'room-1' } });
    await expect(verifier.verify(token)).resolves.toEqual({
      identity: 'alice',
      name: 'alice',
      grant: { room: 'room-1', canPublish: true, canSubscribe: true, admin: false },
    });
  });

  it('refuses a missing or empty token', async () => {
    for (const token of [undefined, '', '  ']) {
      const error = await rejection(verifier.verify(token));
      expect(error.code).toBe('UNAUTHENTICATED');
      expect(error.message).toContain('Missing token');
      expect(error.httpStatus).toBe(401);
    }
  });

  it('refuses a token signed with another secret', async () => {
    const error = await rejection(verifier.verify(await mint({ secret: `${SECRET}-forged` })));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.message).toBe('Token signature is invalid');
  });

  it('refuses an expired token with TOKEN_EXPIRED', async () => {
    const token = await mint({ now: Date.now() - 3_600_000, ttlSeconds: 60 });
    const error = await rejection(verifier.verify(token, 'room-1'));
    expect(error.code).toBe('TOKEN_EXPIRED');
    expect(error.httpStatus).toBe(401);
    expect(error.details?.expiredAt).toEqual(expect.any(String));
  });

  it('tolerates a few seconds of clock skew, not more', async () => {
    const justExpired = await mint({ now: Date.now() - 62_000, ttlSeconds: 60 });
    await expect(verifier.verify(justExpired)).resolves.toMatchObject({ identity: 'alice' });
    const strict = new TokenVerifier(jwt, { clockToleranceSeconds: 0 });
    expect((await rejection(strict.verify(justExpired))).code).toBe('TOKEN_EXPIRED');
  });

  it('names the claim when the issuer or audience is wrong', async () => {
    const iss = await rejection(verifier.verify(await mint({ issuer: 'someone-else' })));
    expect(iss.code).toBe('UNAUTHENTICATED');
    expect(iss.message).toContain('"iss"');
    expect(iss.details).toMatchObject({ claim: 'iss' });
    const aud = await rejection(verifier.verify(await mint({ audience: 'another-app' })));
    expect(aud.code).toBe('UNAUTHENTICATED');
    expect(aud.message).toContain('"aud"');
  });

  it('answers FORBIDDEN for another room', async () => {
    const error = await rejection(verifier.verify(await mint(), 'room-2'));
    expect(error.code).toBe('FORBIDDEN');
    expect(error.httpStatus).toBe(403);
    expect(error.details).toEqual({ tokenRoom: 'room-1', roomId: 'room-2' });
  });

  it('refuses claims that do not fit the grant schema, naming the field', async () => {
    const key = new TextEncoder().encode(SECRET);
    const token = await new SignJWT({ trellis: { room: 'has spaces', canPublish: 'yes' } })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setIssuer('trellis')
      .setAudience('trellis')
      .setExpirationTime('10m')
      .sign(key);
    const error = await rejection(verifier.verify(token));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.message).toContain('token claims');
    const paths = (error.details!.issues as { path: string }[]).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['trellis.room', 'trellis.canPublish']));
  });

  it('requires an expiry', async () => {
    const token = await new SignJWT({ trellis: grant })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setIssuer('trellis')
      .setAudience('trellis')
      .sign(new TextEncoder().encode(SECRET));
    const error = await rejection(verifier.verify(token));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.message).toContain('"exp"');
  });

  it('refuses malformed tokens', async () => {
    for (const token of ['abc', 'a.b.c', `${(await mint()).slice(0, -1)}.x`]) {
      expect((await rejection(verifier.verify(token))).code).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses an unsigned (alg: none) token', async () => {
    const encode = (v: object) => base64url.encode(JSON.stringify(v));
    const exp = Math.floor(Date.now() / 1000) + 600;
    const payload = { sub: 'mallory', trellis: grant, iss: 'trellis', aud: 'trellis', exp };
    for (const token of [
      `${encode({ alg: 'none', typ: 'JWT' })}.${encode(payload)}.`,
      `${encode({ alg: 'none' })}.${encode(payload)}.${base64url.encode('sig')}`,
    ]) {
      const error = await rejection(verifier.verify(token));
      expect(error.code).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses an RS256 token when only HS256 is configured', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ trellis: grant })
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject('alice')
      .setIssuer('trellis')
      .setAudience('trellis')
      .setExpirationTime('10m')
      .sign(privateKey);
    const error = await rejection(verifier.verify(token));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.details).toEqual({ accepted: ['HS256'] });
  });
});

describe('TokenVerifier with a JWKS (RS256, ES256)', () => {
  let server: Server;
  let jwksUrl: string;
  let rsa: CryptoKey;
  let ec: CryptoKey;
  let fetches = 0;

  beforeAll(async () => {
    const rsaPair = await generateKeyPair('RS256');
    const ecPair = await generateKeyPair('ES256');
    rsa = rsaPair.privateKey;
    ec = ecPair.privateKey;
    const keys = [
      { ...(await exportJWK(rsaPair.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ecPair.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ];
    server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });

  afterAll(async () => {
    server?.close();
  });

  const signed = (alg: 'RS256' | 'ES256', kid: string, key: CryptoKey, sub = 'bob') =>
    new SignJWT({ name: 'Bob', trellis: { room: 'room-1', admin: true } })
      .setProtectedHeader({ alg, kid })
      .setSubject(sub)
      .setIssuer('idp')
      .setAudience('trellis')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(key);

  const config = (algorithms: SignalingConfig['jwt']['algorithms']): SignalingConfig['jwt'] => ({
    ...jwt,
    issuer: 'idp',
    jwksUrl,
    algorithms,
  });

  it('verifies RS256 and ES256 tokens against the published keys, fetching them once', async () => {
    const verifier = new TokenVerifier(config(['RS256', 'ES256']));
    const before = fetches;
    for (const token of [await signed('RS256', 'rsa-1', rsa), await signed('ES256', 'ec-1', ec)]) {
      await expect(verifier.verify(token, 'room-1')).resolves.toEqual({
        identity: 'bob',
        name: 'Bob',
        grant: { room: 'room-1', canPublish: true, canSubscribe: true, admin: true },
      });
    }
    expect(fetches - before).toBe(1);
  });

  it('refuses a token signed by a key the JWKS does not publish', async () => {
    const verifier = new TokenVerifier(config(['RS256', 'ES256']));
    const { privateKey } = await generateKeyPair('ES256');
    const wrongKey = await rejection(verifier.verify(await signed('ES256', 'ec-1', privateKey)));
    expect(wrongKey).toMatchObject({ code: 'UNAUTHENTICATED', message: 'Token signature is invalid' });
    const unknownKid = await rejection(verifier.verify(await signed('ES256', 'ec-9', privateKey)));
    expect(unknownKid.code).toBe('UNAUTHENTICATED');
    expect(unknownKid.message).toContain('JWKS');
  });

  it('accepts HS256 beside the JWKS only when configured to', async () => {
    const hs = await mint({ issuer: 'idp' });
    const both = new TokenVerifier(config(['HS256', 'RS256', 'ES256']));
    await expect(both.verify(hs)).resolves.toMatchObject({ identity: 'alice' });
    await expect(both.verify(await signed('RS256', 'rsa-1', rsa))).resolves.toMatchObject({
      identity: 'bob',
    });
    const jwksOnly = new TokenVerifier(config(['RS256', 'ES256']));
    expect((await rejection(jwksOnly.verify(hs))).code).toBe('UNAUTHENTICATED');
  });

  it('reports an unreachable JWKS as our failure, not the caller’s', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const verifier = new TokenVerifier({ ...config(['RS256']), jwksUrl: `http://127.0.0.1:${port}/jwks` });
    const error = await rejection(verifier.verify(await signed('RS256', 'rsa-1', rsa)));
    expect(error.code).toBe('INTERNAL');
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer   abc ', 'abc'],
    ['Basic dXNlcjpwdw==', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j → %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});
