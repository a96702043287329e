import { randomUUID } from 'node:crypto';
import {
  type CommandDef,
  type CommandEnvelope,
  type ReplyOf,
  type RequestOf,
  TrellisError,
  validationError,
} from '@trellis/protocol';
import type { Logger } from 'pino';
import { decodeReply, FIELD, fieldOf } from '../codec';
import type { DeadLetterSink } from '../deadLetters';
import type { CommandSender, RequestOptions } from '../interfaces';
import type { BusKeys } from '../keys';
import type { BusMetrics } from '../metrics';
import { connected, type RedisClient } from './connection';

export interface RedisCommandClientOptions {
  redis: RedisClient;
  /** Dedicated connection for the inbox's XREAD BLOCK; owned and closed by the client. */
  blocking: RedisClient;
  keys: BusKeys;
  nodeId: string;
  metrics: BusMetrics;
  deadLetters: DeadLetterSink;
  logger: Logger;
  defaultTimeoutMs?: number;
  /** Cap on each command stream (XADD MAXLEN ~): a target that is gone can't grow Redis forever. */
  commandStreamMaxLen?: number;
}

interface Pending {
  def: CommandDef;
  target: string;
  resolve: (value: unknown) => void;
  reject: (error: TrellisError) => void;
  timer: NodeJS.Timeout;
  stopTimer: () => void;
}

type XReadReply = [string, [string, string[]][]][] | null;

/**
 * Sends commands to `cmd:{target}` streams and collects replies from its own inbox stream. An inbox
 * (rather than pub/sub) keeps replies that arrive while Redis restarts: the reader resumes from the
 * last id it saw.
 */
export class RedisCommandClient implements CommandSender {
  readonly #o: RedisCommandClientOptions;
  readonly #inbox: string;
  readonly #pending = new Map<string, Pending>();
  #lastId = '0-0';
  #closed = false;
  #reader: Promise<void> | undefined;

  constructor(options: RedisCommandClientOptions) {
    this.#o = options;
    this.#inbox = options.keys.replyStream(`${options.nodeId}:${randomUUID().slice(0, 8)}`);
  }

  async start(): Promise<void> {
    await connected(this.#o.blocking);
    this.#reader = this.#readReplies();
  }

  async request<C extends CommandDef>(
    target: string,
    def: C,
    payload: RequestOf<C>,
    opts: RequestOptions = {},
  ): Promise<ReplyOf<C>> {
    if (this.#closed) throw new TrellisError('BUS_UNAVAILABLE', 'command client is closed');
    const parsed = def.request.safeParse(payload);
    if (!parsed.success) throw validationError(parsed.error, `${def.type} request`);
    const { metrics, redis, keys, nodeId, defaultTimeoutMs = 5000, commandStreamMaxLen = 10_000 } = this.#o;
    const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
    const id = randomUUID();
    const now = Date.now();
    const envelope: CommandEnvelope = {
      id,
      kind: 'command',
      type: def.type,
      version: def.version,
      ts: now,
      source: nodeId,
      correlationId: opts.correlationId ?? id,
      replyTo: this.#inbox,
      deadline: now + timeoutMs,
      payload: parsed.data,
    };
    const reply = new Promise<ReplyOf<C>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle(id, 'BUS_TIMEOUT');
        reject(
          new TrellisError('BUS_TIMEOUT', `${def.type} to ${target} got no reply within ${timeoutMs} ms`, {
            target,
            type: def.type,
            commandId: id,
            timeoutMs,
          }),
        );
      }, timeoutMs);
      this.#pending.set(id, {
        def,
        target,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer,
        stopTimer: metrics.requestSeconds.startTimer({ type: def.type }),
      });
      metrics.pendingRequests.inc();
    });
    // The reply may fail (an error reply, a timeout) before the send below is confirmed; mark it
    // handled so that is never an unhandled rejection — the caller still gets it from `reply`.
    reply.catch(() => undefined);
    try {
      await redis.xadd(
        keys.commandStream(target),
        'MAXLEN',
        '~',
        commandStreamMaxLen,
        '*',
        FIELD,
        JSON.stringify(envelope),
      );
    } catch (error) {
      const pending = this.#pending.get(id);
      this.#settle(id, 'BUS_UNAVAILABLE');
      pending?.reject(
        new TrellisError(
          'BUS_UNAVAILABLE',
          `could not send ${def.type} to ${target}`,
          { target },
          { cause: error },
        ),
      );
    }
    return reply;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, pending] of this.#pending) {
      this.#settle(id, 'BUS_UNAVAILABLE');
      pending.reject(
        new TrellisError('BUS_UNAVAILABLE', 'command client closed before the reply', {
          target: pending.target,
        }),
      );
    }
    this.#o.blocking.disconnect();
    await this.#reader;
    await this.#o.redis.del(this.#inbox).catch(() => {});
  }

  /** Removes a pending request and records its outcome; the caller resolves or rejects it. */
  #settle(id: string, outcome: string): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    pending.stopTimer();
    this.#o.metrics.pendingRequests.dec();
    this.#o.metrics.requests.inc({ type: pending.def.type, outcome });
    return pending;
  }

  async #readReplies(): Promise<void> {
    const { blocking, redis, logger } = this.#o;
    let lastErrorLog = 0;
    while (!this.#closed) {
      let batch: XReadReply;
      try {
        batch = (await blocking.xread(
          'COUNT',
          256,
          'BLOCK',
          5000,
          'STREAMS',
          this.#inbox,
          this.#lastId,
        )) as XReadReply;
      } catch (error) {
        if (this.#closed) break;
        if (Date.now() - lastErrorLog > 5000) {
          lastErrorLog = Date.now();
          logger.warn(
            { err: error instanceof Error ? error.message : error },
            'reply inbox read failed; retrying',
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      const entries = batch?.[0]?.[1] ?? [];
      for (const [entryId, fields] of entries) {
        this.#lastId = entryId;
        await this.#onReply(entryId, fieldOf(fields));
      }
      // Replies are read once: trimming what was read keeps the inbox at the size of the backlog.
      if (entries.length > 0) void redis.xtrim(this.#inbox, 'MINID', this.#lastId).catch(() => {});
    }
  }

  async #onReply(entryId: string, raw: string | undefined): Promise<void> {
    const decoded = decodeReply(raw);
    if (!decoded.ok) {
      await this.#o.deadLetters.send({
        origin: this.#inbox,
        originKind: 'reply',
        entryId,
        reason: decoded.reason,
        raw,
      });
      return;
    }
    const reply = decoded.value;
    const pending = this.#pending.get(reply.correlationId);
    if (!pending) return; // a late reply (the caller timed out) or a duplicate: nobody waits for it
    if (!reply.ok) {
      this.#settle(reply.correlationId, reply.error.code);
      pending.reject(TrellisError.fromBody(reply.error));
      return;
    }
    const result = pending.def.reply.safeParse(reply.result);
    if (!result.success) {
      this.#settle(reply.correlationId, 'BAD_REPLY');
      const error = validationError(result.error, `${reply.type} reply`);
      await this.#o.deadLetters.send({
        origin: this.#inbox,
        originKind: 'reply',
        entryId,
        reason: `invalid result: ${error.message}`,
        raw,
      });
      pending.reject(
        new TrellisError('BAD_REPLY', `${reply.type} reply from ${reply.source} did not validate`, {
          issues: error.details,
        }),
      );
      return;
    }
    this.#settle(reply.correlationId, 'ok');
    pending.resolve(result.data);
  }
}
