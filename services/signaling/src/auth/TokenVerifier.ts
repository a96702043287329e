import type { SignalingConfig } from '@trellis/config';
import { Api, TrellisError, validationError } from '@trellis/protocol';
import {
  type CompactJWSHeaderParameters,
  createRemoteJWKSet,
  errors,
  type FlattenedJWSInput,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';

export interface TokenVerifierOptions {
  /**
   * Leeway on exp/nbf/iat for clocks that disagree between the operator's backend and signaling;
   * seconds. A few seconds, not more: an expired token must stop working.
   */
  clockToleranceSeconds?: number;
  /** Told the error code of every refused token (for the auth-failure metric). */
  onRejected?: (code: string) => void;
}

/**
 * Checks a client's token (signature, issuer, audience, expiry) and reads its room grant. HS256
 * tokens are checked with the shared secret, RS256/ES256 ones with keys fetched from the JWKS
 * (cached and refreshed by jose on an unknown `kid`); which algorithms count is the config's call.
 */
export class TokenVerifier {
  readonly #getKey: JWTVerifyGetKey;
  readonly #algorithms: string[];
  readonly #issuer: string;
  readonly #audience: string;
  readonly #clockTolerance: number;
  readonly #onRejected: ((code: string) => void) | undefined;

  constructor(config: SignalingConfig['jwt'], opts: TokenVerifierOptions = {}) {
    const secret = new TextEncoder().encode(config.secret);
    const jwks = config.jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(config.jwksUrl));
    this.#algorithms = [...config.algorithms];
    this.#issuer = config.issuer;
    this.#audience = config.audience;
    this.#clockTolerance = opts.clockToleranceSeconds ?? 5;
    this.#onRejected = opts.onRejected;
    // jose rejects an algorithm outside `algorithms` before it asks for a key, so a token cannot
    // reach the shared secret with an RS256 header or a JWKS key with an HS256 one.
    this.#getKey = async (header: CompactJWSHeaderParameters, token: FlattenedJWSInput) => {
      if (header.alg === 'HS256') return secret;
      if (jwks === undefined) {
        throw new TrellisError('UNAUTHENTICATED', `Token algorithm ${header.alg} needs a JWKS_URL`);
      }
      return jwks(header, token);
    };
  }

  /** The caller behind `token`; with `roomId`, also that the token grants that room. */
  async verify(token: string | undefined, roomId?: string): Promise<Api.Principal> {
    try {
      return await this.#verify(token, roomId);
    } catch (error) {
      this.#onRejected?.(error instanceof TrellisError ? error.code : 'INTERNAL');
      throw error;
    }
  }

  async #verify(token: string | undefined, roomId?: string): Promise<Api.Principal> {
    if (token === undefined || token.trim() === '') {
      throw new TrellisError('UNAUTHENTICATED', 'Missing token (Authorization: Bearer <token>)');
    }
    const payload = await this.#checkSignatureAndClaims(token.trim());
    const parsed = Api.TokenClaims.safeParse(payload);
    if (!parsed.success) {
      const invalid = validationError(parsed.error, 'token claims');
      throw new TrellisError('UNAUTHENTICATED', invalid.message, invalid.details);
    }
    const { sub, name, trellis: grant } = parsed.data;
    if (roomId !== undefined && roomId !== grant.room) {
      throw new TrellisError('FORBIDDEN', `The token grants room ${grant.room}, not ${roomId}`, {
        tokenRoom: grant.room,
        roomId,
      });
    }
    return { identity: sub, name: name ?? sub, grant };
  }

  async #checkSignatureAndClaims(token: string): Promise<unknown> {
    try {
      const { payload } = await jwtVerify(token, this.#getKey, {
        issuer: this.#issuer,
        audience: this.#audience,
        algorithms: this.#algorithms,
        requiredClaims: ['exp'],
        clockTolerance: this.#clockTolerance,
      });
      return payload;
    } catch (error) {
      throw this.#explain(error);
    }
  }

  #explain(error: unknown): TrellisError {
    if (error instanceof TrellisError) return error;
    if (error instanceof errors.JWTExpired) {
      return new TrellisError('TOKEN_EXPIRED', 'Token expired', { expiredAt: expiry(error.payload) });
    }
    if (error instanceof errors.JWTClaimValidationFailed) {
      // jose's messages name the claim: 'unexpected "iss" claim value', 'missing required "exp" claim'.
      return new TrellisError('UNAUTHENTICATED', `Token rejected: ${error.message}`, {
        claim: error.claim,
        reason: error.reason,
      });
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return new TrellisError('UNAUTHENTICATED', 'Token signature is invalid');
    }
    if (error instanceof errors.JOSEAlgNotAllowed) {
      return new TrellisError('UNAUTHENTICATED', 'Token algorithm not accepted', {
        accepted: this.#algorithms,
      });
    }
    if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
      return new TrellisError('UNAUTHENTICATED', 'No single key in the JWKS matches the token (kid/alg)');
    }
    if (
      error instanceof errors.JWSInvalid ||
      error instanceof errors.JWTInvalid ||
      error instanceof errors.JOSENotSupported
    ) {
      return new TrellisError('UNAUTHENTICATED', `Malformed token: ${error.message}`);
    }
    // What is left is ours, not the caller's: the JWKS endpoint is unreachable, times out, answers
    // non-200 or garbage. The client may retry; the operator needs the cause in the logs.
    const message = error instanceof Error ? error.message : String(error);
    return new TrellisError('INTERNAL', `Could not verify the token: ${message}`, undefined, {
      cause: error,
    });
  }
}

function expiry(payload: { exp?: number }): string | undefined {
  return payload.exp === undefined ? undefined : new Date(payload.exp * 1000).toISOString();
}

/** The token from an `Authorization: Bearer <token>` header; undefined for any other scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
