import type { RedisClient } from '@trellis/bus';
import type { Api } from '@trellis/protocol';
import type { Redis } from 'ioredis';
import type { CallState } from './CallStateTypes';

export interface CallCensusOptions {
  redis: RedisClient;
  keyPrefix: string;
  /** Calls read per census at most: a scrape must stay cheap however many calls there are. */
  maxCalls?: number;
  /** A census that takes longer (Redis down, failing over) is abandoned. */
  timeoutMs?: number;
}

export interface CensusResult {
  calls: Map<Api.CallMode, number>;
  participants: Map<Api.CallMode, number>;
  /** True when maxCalls stopped the count short. */
  truncated: boolean;
}

/**
 * Counts the cluster's calls and participants by mode, straight from the call documents in Redis
 * (SCAN, never KEYS). Every signaling node sees the same documents, so each reports the
 * cluster-wide numbers: dashboards take max() over nodes, not sum().
 */
export class CallCensus {
  readonly #o: Required<CallCensusOptions>;

  constructor(options: CallCensusOptions) {
    this.#o = { maxCalls: 20_000, timeoutMs: 2_000, ...options };
  }

  async count(): Promise<CensusResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`call census took over ${this.#o.timeoutMs} ms`)),
        this.#o.timeoutMs,
      );
    });
    try {
      return await Promise.race([this.#count(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #count(): Promise<CensusResult> {
    const result: CensusResult = { calls: new Map(), participants: new Map(), truncated: false };
    // On a Redis Cluster each master holds a share of the keys, and SCAN walks one server.
    const servers: Redis[] =
      'nodes' in this.#o.redis ? this.#o.redis.nodes('master') : [this.#o.redis as Redis];
    let seen = 0;
    for (const server of servers) {
      let cursor = '0';
      do {
        const [next, keys] = await server.scan(cursor, 'MATCH', `${this.#o.keyPrefix}call:{*`, 'COUNT', 500);
        cursor = next;
        const documents = keys.length === 0 ? [] : await Promise.all(keys.map((k) => server.hget(k, 's')));
        for (const json of documents) {
          if (!json) continue;
          const call = JSON.parse(json) as Pick<CallState, 'mode' | 'participants'>;
          add(result.calls, call.mode, 1);
          add(result.participants, call.mode, Object.keys(call.participants).length);
          if (++seen >= this.#o.maxCalls) {
            result.truncated = true;
            return result;
          }
        }
      } while (cursor !== '0');
    }
    return result;
  }
}

function add(map: Map<Api.CallMode, number>, mode: Api.CallMode, n: number): void {
  map.set(mode, (map.get(mode) ?? 0) + n);
}
