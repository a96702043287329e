import { randomUUID } from 'node:crypto';
import { Api, TrellisError } from '@trellis/protocol';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { ApiDispatcher } from '../api/ApiDispatcher';
import { bearerToken, type TokenVerifier } from '../auth/TokenVerifier';

export interface RestRouterOptions {
  dispatcher: ApiDispatcher;
  verifier: TokenVerifier;
}

/** `/v1/rooms/{roomId}` → `/v1/rooms/:roomId`. */
const expressPath = (path: string) => path.replace(/\{([A-Za-z]+)\}/g, ':$1');

/**
 * The request table as REST: path parameters and the JSON body (the query string for GET) merge into
 * one request object, validated by the same schema the Socket.IO path uses. Errors answer with the
 * code's HTTP status and the ErrorBody; an error with `retryAfterMs` (429, a 503 while Redis is
 * unreachable) carries Retry-After.
 */
export function restRouter(options: RestRouterOptions): Router {
  const router = express.Router();
  const json = express.json({ limit: '1mb' });
  // The token is checked before the body is read: an anonymous caller costs no JSON parsing.
  const authenticate = (req: Request, res: Response, next: NextFunction) => {
    options.verifier.verify(bearerToken(req.get('authorization'))).then(
      (principal) => {
        res.locals.principal = principal;
        next();
      },
      (error: unknown) => sendError(res, TrellisError.from(error, 'UNAUTHENTICATED')),
    );
  };
  for (const def of Api.apiRequests) {
    const method = def.http.method.toLowerCase() as 'get' | 'post' | 'delete';
    router[method](expressPath(def.http.path), authenticate, json, (req, res, next) => {
      void handle(def, req, res).catch(next);
    });
  }
  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    sendError(res, bodyParserError(error) ?? TrellisError.from(error));
  });
  return router;

  async function handle(def: Api.ApiRequest, req: Request, res: Response): Promise<void> {
    try {
      // The room is checked against the grant by the dispatcher, the same way for both transports.
      const principal = res.locals.principal as Api.Principal;
      const source = def.http.method === 'GET' ? req.query : isPlainObject(req.body) ? req.body : {};
      if (def.http.method !== 'GET' && req.body !== undefined && !isPlainObject(req.body)) {
        throw new TrellisError('VALIDATION_FAILED', 'the request body must be a JSON object');
      }
      const reply = await options.dispatcher.dispatch(
        def,
        { ...source, ...req.params },
        { principal, ip: req.ip ?? 'unknown', requestId: req.get('x-request-id') ?? randomUUID() },
      );
      res.status(200).json(reply);
    } catch (error) {
      sendError(res, TrellisError.from(error));
    }
  }
}

export function sendError(res: Response, error: TrellisError): void {
  const retryAfterMs = error.details?.retryAfterMs;
  if (typeof retryAfterMs === 'number') {
    res.set('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  }
  res.status(error.httpStatus).json(error.toBody());
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** body-parser's own failures (bad JSON, too large) as typed errors. */
function bodyParserError(error: unknown): TrellisError | undefined {
  if (typeof error !== 'object' || error === null || !('type' in error)) return undefined;
  const { type, message } = error as { type: string; message: string };
  if (type === 'entity.parse.failed')
    return new TrellisError('VALIDATION_FAILED', `malformed JSON: ${message}`);
  if (type === 'entity.too.large')
    return new TrellisError('VALIDATION_FAILED', 'the request body is too large');
  if (type.startsWith('entity.') || type.startsWith('charset.') || type.startsWith('encoding.')) {
    return new TrellisError('VALIDATION_FAILED', message);
  }
  return undefined;
}
