import type { SignalingConfig } from '@trellis/config';
import { type Api, TrellisError } from '@trellis/protocol';
import type { Cluster, Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface RateLimitsOptions {
  /** The gateway's shared connection; counters live in Redis so every gateway sees the same counts. */
  redis: Redis | Cluster;
  /** REDIS_KEY_PREFIX; counters go under `<prefix>rl:`. */
  keyPrefix: string;
  /** The API table (`Api.apiRequests`): one bucket per request, sized by its `rateLimit`. */
  requests: readonly Api.RequestDef[];
  config: SignalingConfig['rateLimits'];
}

export interface RateLimitSubject {
  /** `${roomId}:${identity}`: a participant's budget follows it across gateways and reconnects. */
  participantKey: string;
  ip: string;
}

/**
 * Per-participant request limits, one bucket per request so a burst of ICE candidates does not
 * lock a participant out of leaving, plus one per client IP against floods from many tokens.
 *
 * When Redis is unreachable the limits still hold, per process: each Redis limiter is insured by an
 * in-memory one of the same size. Failing open would hand a flood the moment Redis struggles;
 * failing closed would turn a Redis blip into an outage for every call. `rejectIfRedisNotReady`
 * makes the switch immediate: the shared connection queues commands while it reconnects, and
 * without it every request would wait for Redis to come back.
 */
export class RateLimits {
  readonly #byRequest = new Map<string, RateLimiterRedis>();
  readonly #perIp: RateLimiterRedis | undefined;

  constructor(opts: RateLimitsOptions) {
    const make = (name: string, points: number, duration: number) =>
      new RateLimiterRedis({
        storeClient: opts.redis,
        keyPrefix: `${opts.keyPrefix}rl:${name}`,
        points,
        duration,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: `rl:${name}`, points, duration }),
      });
    if (!opts.config.enabled) return;
    for (const def of opts.requests) {
      this.#byRequest.set(def.name, make(def.name, def.rateLimit.points, def.rateLimit.perSeconds));
    }
    this.#perIp = make('ip', opts.config.perIpPerSecond, 1);
  }

  get enabled(): boolean {
    return this.#perIp !== undefined;
  }

  /** Counts one `def` request; throws RATE_LIMITED (with `retryAfterMs`) once a budget is spent. */
  async consume(def: Api.RequestDef, who: RateLimitSubject): Promise<void> {
    if (this.#perIp === undefined) return;
    const limiter = this.#byRequest.get(def.name);
    if (limiter === undefined) {
      throw new TrellisError('INTERNAL', `No rate limit for request ${def.name}: it is not in the API table`);
    }
    // The IP first: a flood is turned away before it spends any participant's budget.
    await take(this.#perIp, who.ip, def, 'ip', `${this.#perIp.points} per second from one IP`);
    const { points, perSeconds } = def.rateLimit;
    await take(limiter, who.participantKey, def, 'participant', `${points} per ${perSeconds}s`);
  }
}

async function take(
  limiter: RateLimiterRedis,
  key: string,
  def: Api.RequestDef,
  limit: 'participant' | 'ip',
  budget: string,
): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) {
      throw new TrellisError('RATE_LIMITED', `Too many ${def.name} requests (limit ${budget})`, {
        retryAfterMs: Math.max(1, Math.ceil(rejection.msBeforeNext)),
        limit,
        request: def.name,
      });
    }
    throw TrellisError.from(rejection);
  }
}
