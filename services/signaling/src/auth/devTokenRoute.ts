import type { SignalingConfig } from '@trellis/config';
import { PeerId, RoomId, TrellisError, validationError } from '@trellis/protocol';
import express, { type ErrorRequestHandler, type Router } from 'express';
import { z } from 'zod';
import { mintToken } from './mintToken';

const DAY_SECONDS = 86_400;

/** Strict, so a typo such as `canpublish` is an error rather than a token with the default grant. */
export const DevTokenRequest = z.strictObject({
  roomId: RoomId,
  identity: PeerId,
  name: z.string().min(1).max(128).optional(),
  canPublish: z.boolean().optional(),
  canSubscribe: z.boolean().optional(),
  admin: z.boolean().optional(),
  ttlSeconds: z.number().int().positive().max(DAY_SECONDS).default(3_600),
});
export type DevTokenRequest = z.input<typeof DevTokenRequest>;

/**
 * `POST /dev/token`: a token for anyone who asks, so local runs and tests need no identity
 * provider. Mount it only when `config.devTokenRoute` (never in production, where the config
 * refuses the dev secret anyway).
 */
export function devTokenRouter(config: Pick<SignalingConfig, 'jwt'>): Router {
  const { secret, issuer, audience, algorithms } = config.jwt;
  const router = express.Router();
  router.post('/dev/token', express.json({ limit: '4kb' }), async (req, res) => {
    if (!algorithms.includes('HS256')) {
      // Dev tokens are HS256; beside a JWKS without JWT_SECRET this gateway would refuse them.
      const error = new TrellisError('FORBIDDEN', 'Dev tokens need HS256: set JWT_SECRET next to JWKS_URL');
      res.status(error.httpStatus).json(error.toBody());
      return;
    }
    const parsed = DevTokenRequest.safeParse(req.body);
    if (!parsed.success) {
      const error = validationError(parsed.error, 'token request');
      res.status(error.httpStatus).json(error.toBody());
      return;
    }
    const { roomId, identity, name, ttlSeconds, ...grant } = parsed.data;
    const token = await mintToken({
      secret,
      issuer,
      audience,
      identity,
      ...(name === undefined ? {} : { name }),
      grant: { room: roomId, ...grant },
      ttlSeconds,
    });
    res.json({ token });
  });
  router.use(bodyErrors);
  return router;
}

/** Unparseable or oversized JSON is the caller's mistake; answer it in the API's error shape. */
const bodyErrors: ErrorRequestHandler = (error, _req, res, next) => {
  const status = (error as { status?: unknown }).status;
  if (typeof status !== 'number' || status >= 500) {
    next(error);
    return;
  }
  const body = new TrellisError('VALIDATION_FAILED', `Invalid JSON body: ${(error as Error).message}`, {
    type: (error as { type?: unknown }).type,
  }).toBody();
  res.status(400).json(body);
};
