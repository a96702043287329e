import type { RedisClient } from '@trellis/bus';
import { TrellisError } from '@trellis/protocol';
import { CallDraft } from './CallDraft';
import type { CallState, CallTimings } from './CallStateTypes';
import { callRecordsOf } from './callRecords';
import { expireDisconnected, nextDeadline, reconcile } from './modeMachine';

// Replace the call document only if its version is still the one the caller read. Deleting (an
// empty state) is conditional the same way. One key per call, so it works on a Redis Cluster too.
const CAS = `
local current = redis.call('HGET', KEYS[1], 'v')
if (current == false and ARGV[1] ~= '0') or (current ~= false and current ~= ARGV[1]) then
  return 0
end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 1
`;

export interface CallStoreOptions {
  redis: RedisClient;
  keyPrefix: string;
  timings: CallTimings;
  newId: () => string;
  now?: () => number;
  /** A call nobody touched for this long is forgotten (a crashed cluster must not leak calls forever). */
  ttlMs?: number;
  maxAttempts?: number;
}

export interface Committed<T> {
  result: T;
  state: CallState | null;
  effects: CallDraft['effects'];
  changed: boolean;
}

type Cas = (key: string, expected: string, next: string, json: string, ttl: number) => Promise<number>;

/**
 * Calls in Redis, changed by optimistic compare-and-set: read the document, apply the change and
 * the mode machine to a draft, write it back only if nobody wrote in between, else replay on the
 * fresh document. Whichever signaling node commits a change runs its effects; the others, having
 * lost the race, replay and find the change already made.
 */
export class CallStore {
  readonly #o: Required<Omit<CallStoreOptions, 'now'>> & { now: () => number };
  readonly #cas: Cas;

  constructor(options: CallStoreOptions) {
    this.#o = { ttlMs: 24 * 3600_000, maxAttempts: 50, now: Date.now, ...options };
    options.redis.defineCommand('trellisCallCas', { numberOfKeys: 1, lua: CAS });
    const redis = options.redis as unknown as Record<string, Cas>;
    this.#cas = (...args) => (redis.trellisCallCas as Cas).call(options.redis, ...args);
  }

  key(roomId: string): string {
    return `${this.#o.keyPrefix}call:{${roomId}}`;
  }

  /** Due-time index of calls whose machine must run again (migration deadlines, hysteresis, grace). */
  get dueKey(): string {
    return `${this.#o.keyPrefix}calls:due`;
  }

  async get(roomId: string): Promise<CallState | undefined> {
    const [, json] = await this.#o.redis.hmget(this.key(roomId), 'v', 's');
    return json ? (JSON.parse(json) as CallState) : undefined;
  }

  /**
   * Applies `change` atomically. `init` makes the call when it does not exist (else the change sees
   * ROOM_NOT_FOUND). The mode machine and the resume grace run after every change.
   */
  async update<T>(
    roomId: string,
    change: (draft: CallDraft) => T,
    init?: (now: number) => CallState,
  ): Promise<Committed<T>> {
    const { redis, timings, maxAttempts, newId } = this.#o;
    for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
      const [version, json] = await redis.hmget(this.key(roomId), 'v', 's');
      const now = this.#o.now();
      let current = json ? (JSON.parse(json) as CallState) : undefined;
      if (!current) {
        if (!init) throw new TrellisError('ROOM_NOT_FOUND', `no call in room ${roomId}`, { roomId });
        current = init(now);
      }
      const draft = new CallDraft(current, now);
      const result = change(draft);
      expireDisconnected(draft, timings);
      reconcile(draft, timings, newId);
      if (!draft.changed) return { result, state: current, effects: [], changed: false };
      const empty = draft.count === 0 && json !== null && draft.state.mode === 'idle';
      const next = draft.state;
      next.version = (Number(version) || 0) + 1;
      const written = empty ? '' : JSON.stringify(next);
      const ok = await this.#cas(
        this.key(roomId),
        version ?? '0',
        String(next.version),
        written,
        this.#o.ttlMs,
      );
      if (ok !== 1) continue;
      await this.#schedule(roomId, empty ? undefined : nextDeadline(next, timings));
      if (empty) draft.emit({ type: 'call-ended' });
      const records = callRecordsOf({
        roomId,
        before: json ? current : undefined,
        after: empty ? null : next,
        base: current,
        effects: draft.effects,
        now,
      });
      if (records.length > 0) draft.emit({ type: 'record', records });
      return { result, state: empty ? null : next, effects: draft.effects, changed: true };
    }
    throw new TrellisError('CONFLICT', `call ${roomId} is changing too fast; try again`, { roomId });
  }

  /**
   * Runs the machine on a call whose deadline came. When nothing was due after all (another node got
   * there first) the deadline is re-read from the state, never left in the past, or every poll would
   * pick the call again.
   */
  async tick(roomId: string): Promise<Committed<void>> {
    const committed = await this.update(roomId, () => undefined);
    if (!committed.changed && committed.state) {
      const next = nextDeadline(committed.state, this.#o.timings);
      const floor = this.#o.now() + 1000;
      await this.#schedule(roomId, next === undefined ? undefined : next <= floor - 1000 ? floor : next);
    }
    return committed;
  }

  async unschedule(roomId: string): Promise<void> {
    await this.#schedule(roomId, undefined);
  }

  /** Rooms whose deadline has passed, at most `limit`. */
  async due(limit: number): Promise<string[]> {
    return this.#o.redis.zrangebyscore(this.dueKey, '-inf', this.#o.now(), 'LIMIT', 0, limit);
  }

  async #schedule(roomId: string, at: number | undefined): Promise<void> {
    if (at === undefined) await this.#o.redis.zrem(this.dueKey, roomId);
    else await this.#o.redis.zadd(this.dueKey, at, roomId);
  }
}
