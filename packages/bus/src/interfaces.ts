import type {
  CommandDef,
  EventDef,
  ParsedRequestOf,
  PayloadInputOf,
  PayloadOf,
  ReplyInputOf,
  ReplyOf,
  RequestOf,
} from '@trellis/protocol';

/**
 * The bus in small interfaces, after LiveKit's pkg/routing: services depend on these, and the Redis
 * implementation is chosen at start-up. Every message is validated against its protocol schema by
 * the sender and again by the receiver.
 */

export interface RequestOptions {
  /** How long the caller waits; the command carries the deadline and is dropped unrun once it passes. */
  timeoutMs?: number;
  /** Ties the command to the client request (and later events) it belongs to. */
  correlationId?: string;
}

/** Sends commands to a named target (a node id or a service group) and awaits the typed reply. */
export interface CommandSender {
  request<C extends CommandDef>(
    target: string,
    def: C,
    payload: RequestOf<C>,
    opts?: RequestOptions,
  ): Promise<ReplyOf<C>>;
  close(): Promise<void>;
}

export interface CommandContext {
  /** The command id: stable across redeliveries, so handlers use it as their idempotency key. */
  readonly id: string;
  readonly correlationId: string;
  readonly source: string;
  /** True when the entry was delivered before (its first consumer died or stalled). */
  readonly redelivered: boolean;
  readonly deadline: number;
}

export type CommandHandler<C extends CommandDef> = (
  request: ParsedRequestOf<C>,
  ctx: CommandContext,
) => Promise<ReplyInputOf<C>> | ReplyInputOf<C>;

/** Serves the commands sent to one target. Several receivers of one target share its work. */
export interface CommandReceiver {
  handle<C extends CommandDef>(def: C, handler: CommandHandler<NoInfer<C>>): this;
  start(): Promise<void>;
  /** Stops taking commands and waits for the ones in flight. */
  close(): Promise<void>;
}

export interface EventMeta {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly ts: number;
  readonly subject?: string | undefined;
  readonly correlationId?: string | undefined;
}

export interface AppendOptions {
  correlationId?: string;
}

/** Appends durable events to a subject's stream (one stream per room). */
export interface EventSink {
  append<E extends EventDef>(
    subject: string,
    def: E,
    payload: PayloadInputOf<E>,
    opts?: AppendOptions,
  ): Promise<string>;
  /** Deletes a subject's stream once nothing more will be said about it (the room ended). */
  removeSubject(subject: string): Promise<void>;
}

export type EventHandler<E extends EventDef> = (
  payload: PayloadOf<E>,
  meta: EventMeta,
) => Promise<void> | void;

/** Reads every subject's stream as one consumer group: each event reaches one member of the group. */
export interface EventSource {
  on<E extends EventDef>(def: E, handler: EventHandler<E>): this;
  start(): Promise<void>;
  close(): Promise<void>;
}

export type Unsubscribe = () => Promise<void>;

/** Fire-and-forget fan-out to every subscribed node (Redis pub/sub): nothing is kept for the absent. */
export interface Broadcaster {
  publish<E extends EventDef>(
    def: E,
    payload: PayloadInputOf<E>,
    opts?: { subject?: string; correlationId?: string },
  ): Promise<void>;
  subscribe<E extends EventDef>(def: E, handler: EventHandler<E>): Promise<Unsubscribe>;
  close(): Promise<void>;
}
