import { Api } from '@trellis/protocol';
import { SignJWT } from 'jose';
import type { z } from 'zod';

export interface MintTokenOptions {
  /** The HS256 shared secret signaling verifies with (JWT_SECRET). */
  secret: string;
  issuer: string;
  audience: string;
  /** The participant's identity in the room: the token's `sub`. */
  identity: string;
  /** Display name; signaling shows the identity when absent. */
  name?: string;
  grant: z.input<typeof Api.RoomGrant>;
  ttlSeconds: number;
  /** Issue time in ms; tests pass a past instant to mint tokens that are already expired. */
  now?: number;
}

/**
 * Mints a token the way an operator's backend would, for the dev token route, the `trellis token`
 * command and tests. The claims go through the same schema the verifier applies, so a token minted
 * here is never one signaling would refuse for its shape.
 */
export async function mintToken(opts: MintTokenOptions): Promise<string> {
  if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds <= 0) {
    throw new RangeError(`ttlSeconds must be a positive integer, got ${opts.ttlSeconds}`);
  }
  const claims = Api.TokenClaims.parse({
    sub: opts.identity,
    ...(opts.name === undefined ? {} : { name: opts.name }),
    trellis: opts.grant,
  });
  const iat = Math.floor((opts.now ?? Date.now()) / 1000);
  const { sub, ...rest } = claims;
  return new SignJWT(rest)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(opts.issuer)
    .setAudience(opts.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + opts.ttlSeconds)
    .sign(new TextEncoder().encode(opts.secret));
}
