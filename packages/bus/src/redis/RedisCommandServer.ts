import { randomUUID } from 'node:crypto';
import {
  Catalog,
  type CommandDef,
  type CommandEnvelope,
  type ErrorBody,
  type ReplyEnvelope,
  TrellisError,
  validationError,
} from '@trellis/protocol';
import type { Logger } from 'pino';
import { decodeCommand, FIELD, fieldOf } from '../codec';
import type { DeadLetterSink } from '../deadLetters';
import type { CommandContext, CommandHandler, CommandReceiver } from '../interfaces';
import type { BusKeys } from '../keys';
import type { BusMetrics } from '../metrics';
import type { RedisClient } from './connection';
import { type StreamEntry, StreamGroupReader } from './StreamGroupReader';

export interface RedisCommandServerOptions {
  redis: RedisClient;
  blocking: RedisClient;
  keys: BusKeys;
  nodeId: string;
  /** The stream this server reads: a node id for node-addressed commands, or a service group name. */
  target: string;
  metrics: BusMetrics;
  deadLetters: DeadLetterSink;
  logger: Logger;
  concurrency?: number;
  claimIdleMs?: number;
  claimIntervalMs?: number;
  /** How long a finished command's reply is remembered, to answer a duplicate without re-running. */
  replyCacheMs?: number;
}

// One round trip decides whether a delivery runs: a command already answered gets its cached reply;
// a second stream entry of the same command (a client re-sent its XADD after a reconnect) is dropped
// while the first runs; a redelivery of the same entry (its consumer died) runs again.
const CLAIM_SCRIPT = `
local cached = redis.call('GET', KEYS[2])
if cached then return {'answered', cached} end
local owner = redis.call('GET', KEYS[1])
if not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {'run'}
end
if owner == ARGV[1] then return {'run'} end
return {'duplicate'}
`;

const GROUP = 'handlers';
type Handler = { def: CommandDef; run: CommandHandler<CommandDef> };

/** Serves commands from `cmd:{target}`; all servers of one target form one consumer group. */
export class RedisCommandServer implements CommandReceiver {
  readonly #o: RedisCommandServerOptions;
  readonly #catalog = new Catalog<CommandDef>();
  readonly #handlers = new Map<string, Handler>();
  readonly #reader: StreamGroupReader;
  readonly #stream: string;

  constructor(options: RedisCommandServerOptions) {
    this.#o = options;
    this.#stream = options.keys.commandStream(options.target);
    this.#reader = new StreamGroupReader({
      redis: options.redis,
      blocking: options.blocking,
      group: GROUP,
      consumer: `${options.nodeId}:${process.pid}:${randomUUID().slice(0, 8)}`,
      streams: () => [this.#stream],
      handle: (entry) => this.#onEntry(entry),
      poison: (entry, deliveries) => options.deadLetters.poison('command', entry, deliveries),
      logger: options.logger,
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.claimIdleMs === undefined ? {} : { claimIdleMs: options.claimIdleMs }),
      ...(options.claimIntervalMs === undefined ? {} : { claimIntervalMs: options.claimIntervalMs }),
      onReclaimed: (count) => options.metrics.reclaimed.inc({ stream_kind: 'command' }, count),
    });
    options.redis.defineCommand('trellisClaimCommand', { numberOfKeys: 2, lua: CLAIM_SCRIPT });
  }

  handle<C extends CommandDef>(def: C, handler: CommandHandler<NoInfer<C>>): this {
    const key = `${def.type}@${def.version}`;
    if (this.#handlers.has(key)) throw new Error(`a handler for ${key} is already registered`);
    this.#catalog.add(def);
    this.#handlers.set(key, { def, run: handler as unknown as CommandHandler<CommandDef> });
    return this;
  }

  start(): Promise<void> {
    return this.#reader.start();
  }

  close(): Promise<void> {
    return this.#reader.close();
  }

  async #onEntry(entry: StreamEntry): Promise<void> {
    const raw = fieldOf(entry.fields);
    const decoded = decodeCommand(raw);
    if (!decoded.ok) {
      // No trustworthy replyTo: nobody can be answered. Dead-letter it and move on.
      await this.#deadLetter(entry, decoded.reason, raw);
      return;
    }
    const command = decoded.value;
    const { metrics } = this.#o;
    if (!this.#o.keys.isReplyStream(command.replyTo)) {
      // Replies may only go to bus inboxes, never to an arbitrary key a sender names.
      await this.#deadLetter(entry, `bad replyTo: ${command.replyTo}`, raw);
      return;
    }
    if (Date.now() > command.deadline) {
      metrics.commandsHandled.inc({ type: command.type, outcome: 'expired' });
      return;
    }
    const handler = this.#handlers.get(`${command.type}@${command.version}`);
    if (!handler) {
      const code = this.#catalog.hasType(command.type) ? 'UNSUPPORTED_VERSION' : 'UNKNOWN_COMMAND';
      await this.#deadLetter(entry, `${code}: ${command.type}@${command.version}`, raw);
      await this.#reply(command, {
        code,
        message: `${this.#o.target} does not serve ${command.type}@${command.version}`,
      });
      metrics.commandsHandled.inc({ type: command.type, outcome: code });
      return;
    }

    const [verdict, cached] = (await this.#claim(command.id, entry.id)) as [string, string | undefined];
    if (verdict === 'answered') {
      await this.#o.redis.xadd(command.replyTo, 'MAXLEN', '~', 1000, '*', FIELD, cached!);
      metrics.commandsHandled.inc({ type: command.type, outcome: 'duplicate' });
      return;
    }
    if (verdict === 'duplicate') {
      metrics.commandsHandled.inc({ type: command.type, outcome: 'duplicate' });
      return;
    }

    const request = handler.def.request.safeParse(command.payload);
    if (!request.success) {
      const error = validationError(request.error, `${command.type} request`);
      await this.#deadLetter(entry, `invalid payload: ${error.message}`, raw);
      await this.#reply(command, error.toBody());
      metrics.commandsHandled.inc({ type: command.type, outcome: 'VALIDATION_FAILED' });
      return;
    }

    const ctx: CommandContext = {
      id: command.id,
      correlationId: command.correlationId,
      source: command.source,
      redelivered: entry.redelivered,
      deadline: command.deadline,
    };
    const stopTimer = metrics.commandSeconds.startTimer({ type: command.type });
    let error: ErrorBody | undefined;
    let result: unknown;
    try {
      const checked = handler.def.reply.safeParse(await handler.run(request.data, ctx));
      if (checked.success) result = checked.data;
      else {
        // A handler answering off-schema is our bug, not the caller's: report it as such.
        error = new TrellisError('INTERNAL', `${command.type} handler produced an invalid reply`, {
          issues: checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
        }).toBody();
      }
    } catch (thrown) {
      const failure = TrellisError.from(thrown);
      if (failure.code === 'INTERNAL') {
        this.#o.logger.error(
          { err: thrown, command: command.type, commandId: command.id },
          'command handler failed',
        );
      }
      error = failure.toBody();
    } finally {
      stopTimer();
    }
    await this.#reply(command, error, result);
    metrics.commandsHandled.inc({ type: command.type, outcome: error?.code ?? 'ok' });
  }

  #claim(commandId: string, entryId: string): Promise<unknown> {
    const { keys, redis, replyCacheMs = 120_000 } = this.#o;
    const claim = (redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)
      .trellisClaimCommand!;
    return claim.call(
      redis,
      keys.commandSeen(commandId),
      keys.commandReply(commandId),
      entryId,
      replyCacheMs,
    );
  }

  /**
   * The reply is made durable (reply stream + cache) before the reader acknowledges the command, so a
   * crash in between ends in a redelivery that finds the cached reply instead of a lost answer.
   */
  async #reply(command: CommandEnvelope, error?: ErrorBody, result?: unknown): Promise<void> {
    const base = {
      id: randomUUID(),
      kind: 'reply' as const,
      type: command.type,
      version: command.version,
      ts: Date.now(),
      source: this.#o.nodeId,
      correlationId: command.id,
    };
    const reply: ReplyEnvelope = error ? { ...base, ok: false, error } : { ...base, ok: true, result };
    const json = JSON.stringify(reply);
    const { redis, keys, replyCacheMs = 120_000 } = this.#o;
    await Promise.all([
      redis.set(keys.commandReply(command.id), json, 'PX', replyCacheMs),
      redis.xadd(command.replyTo, 'MAXLEN', '~', 1000, '*', FIELD, json),
      // An inbox whose client died disappears on its own.
      redis.pexpire(command.replyTo, 10 * 60_000),
    ]);
  }

  #deadLetter(entry: StreamEntry, reason: string, raw: string | undefined): Promise<void> {
    return this.#o.deadLetters.send({
      origin: entry.stream,
      originKind: 'command',
      entryId: entry.id,
      reason,
      raw,
    });
  }
}
