import { Api, TrellisError, validationError } from '@trellis/protocol';
import type { Logger } from 'pino';
import type { RateLimits } from '../abuse/RateLimits';
import type { SignalingMetrics } from '../metrics';
import type { HandlerTable } from './ApiHandlers';
import type { RequestContext } from './RequestContext';

type JoinReply = Api.ApiReplyOf<typeof Api.JoinRoom>;

export interface ApiDispatcherOptions {
  handlers: HandlerTable;
  rateLimits: RateLimits;
  metrics: SignalingMetrics;
  logger: Logger;
  /**
   * Whether the call-state store (Redis) is reachable now. While it isn't, requests are refused at
   * once with UNAVAILABLE and `retryAfterMs` instead of queueing their writes behind the outage:
   * a write queued there would commit after the client was told no (a ghost participant).
   */
  storeAvailable?: () => boolean;
}

/** How long a client waits before asking again while the store is unreachable. */
export const STORE_RETRY_AFTER_MS = 1000;

/**
 * The one path every client request takes, REST or Socket.IO: validate against the protocol schema,
 * check the grant, charge the rate limits, run the handler, check the reply. Whatever goes wrong
 * comes back as a TrellisError with a code; nothing thrown here reaches the process.
 */
export class ApiDispatcher {
  readonly #o: ApiDispatcherOptions;
  readonly #byName = new Map<string, Api.ApiRequest>(Api.apiRequests.map((d) => [d.name, d]));

  constructor(options: ApiDispatcherOptions) {
    this.#o = options;
  }

  definition(name: string): Api.ApiRequest | undefined {
    return this.#byName.get(name);
  }

  async dispatch(def: Api.ApiRequest, input: unknown, ctx: RequestContext): Promise<unknown> {
    const started = performance.now();
    let code = 'OK';
    try {
      const parsed = def.request.safeParse(input);
      if (!parsed.success) throw validationError(parsed.error, `${def.name} request`);
      const request = parsed.data as { roomId: string };
      authorize(def, request.roomId, ctx);
      if (this.#o.storeAvailable && !this.#o.storeAvailable()) {
        throw new TrellisError(
          'UNAVAILABLE',
          'signaling cannot reach its call state store; ask again shortly',
          {
            request: def.name,
            retryAfterMs: STORE_RETRY_AFTER_MS,
          },
        );
      }
      await this.#o.rateLimits.consume(def, {
        participantKey: `${request.roomId}:${ctx.principal.identity}`,
        ip: ctx.ip,
      });
      const handler = this.#o.handlers[def.name] as (ctx: RequestContext, r: unknown) => Promise<unknown>;
      const reply = await handler(ctx, request);
      const checked = def.reply.safeParse(reply);
      if (!checked.success) {
        throw new TrellisError('INTERNAL', `${def.name} produced an invalid reply`, {
          issues: checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
        });
      }
      if (def.name === 'join') this.#observeJoin(checked.data as JoinReply, started);
      return checked.data;
    } catch (error) {
      const failure = TrellisError.from(error);
      code = failure.code;
      if (code === 'RATE_LIMITED') {
        const limit = String(failure.details?.limit ?? 'unknown');
        this.#o.metrics.rateLimited.inc({ request: def.name, limit });
      }
      // A refusal during a Redis outage is expected and already logged by the connection itself.
      const outage = failure.code === 'UNAVAILABLE' && failure.details?.retryAfterMs !== undefined;
      if (failure.httpStatus >= 500 && !outage) {
        this.#o.logger.error(
          { ...ids(def, input, ctx), err: failure, details: failure.details },
          'request failed',
        );
      }
      throw failure;
    } finally {
      // Every request at debug level, with the ids that join it to the call's other log lines.
      if (this.#o.logger.isLevelEnabled('debug'))
        this.#o.logger.debug({ ...ids(def, input, ctx), code, ms: performance.now() - started }, 'request');
      this.#o.metrics.requests.inc({ request: def.name, code });
      this.#o.metrics.requestSeconds.observe({ request: def.name }, (performance.now() - started) / 1000);
    }
  }

  #observeJoin(reply: JoinReply, started: number): void {
    this.#o.metrics.joinSeconds.observe(
      { mode: reply.room.mode, resumed: String(reply.resumed) },
      (performance.now() - started) / 1000,
    );
  }
}

/** The ids a request's log lines carry: which call (room), which participant, which request. */
function ids(def: Api.ApiRequest, input: unknown, ctx: RequestContext) {
  const roomId = (input as { roomId?: unknown } | null | undefined)?.roomId;
  return {
    request: def.name,
    requestId: ctx.requestId,
    roomId: typeof roomId === 'string' ? roomId.slice(0, 128) : undefined,
    identity: ctx.principal.identity,
  };
}

function authorize(def: Api.ApiRequest, roomId: string, ctx: RequestContext): void {
  const { grant, identity } = ctx.principal;
  if (grant.room !== roomId) {
    throw new TrellisError('FORBIDDEN', 'the token is for another room', { tokenRoom: grant.room, roomId });
  }
  const missing =
    (def.access === 'publish' && !grant.canPublish && 'canPublish') ||
    (def.access === 'subscribe' && !grant.canSubscribe && 'canSubscribe') ||
    (def.access === 'admin' && !grant.admin && 'admin');
  if (missing) {
    throw new TrellisError('FORBIDDEN', `${def.name} needs the ${missing} grant`, {
      request: def.name,
      grant: missing,
      identity,
    });
  }
}
