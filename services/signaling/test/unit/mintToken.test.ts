import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { mintToken } from '../../src/auth/mintToken';

const base = {
  secret: 'mint-token-test-secret-0123456789abcdef',
  issuer: 'trellis',
  audience: 'trellis',
  identity: 'alice',
  grant: { room: 'room-1' },
  ttlSeconds: 120,
};

describe('mintToken', () => {
  it('signs HS256 with sub, grant, iat, exp, iss and aud', async () => {
    const now = Date.UTC(2030, 0, 1);
    const token = await mintToken({ ...base, name: 'Alice', now });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(decodeJwt(token)).toEqual({
      sub: 'alice',
      name: 'Alice',
      trellis: { room: 'room-1', canPublish: true, canSubscribe: true, admin: false },
      iss: 'trellis',
      aud: 'trellis',
      iat: now / 1000,
      exp: now / 1000 + 120,
    });
    const key = new TextEncoder().encode(base.secret);
    await expect(jwtVerify(token, key, { currentDate: new Date(now) })).resolves.toBeDefined();
  });

  it('refuses what the verifier would refuse', async () => {
    await expect(mintToken({ ...base, identity: 'no spaces please' })).rejects.toBeInstanceOf(z.ZodError);
    await expect(mintToken({ ...base, grant: { room: '' } })).rejects.toBeInstanceOf(z.ZodError);
    await expect(mintToken({ ...base, ttlSeconds: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(mintToken({ ...base, ttlSeconds: 1.5 })).rejects.toBeInstanceOf(RangeError);
  });
});
