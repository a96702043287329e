import { Api } from '@trellis/protocol';
import { io, type Socket } from 'socket.io-client';
import { silentLogger, type TrellisLogger } from './Logger';
import type {
  RequestOptions,
  SignalingChannel,
  SignalingClientEvents,
  SignalingClientOptions,
} from './SignalingClientTypes';
import { TrellisClientError } from './TrellisClientError';
import { TypedEmitter } from './TypedEmitter';

/**
 * The SDK's Socket.IO connection to signaling: typed requests answered by acks, server events
 * validated against the protocol's schemas, and reconnection surfaced as `reconnected` so the call
 * can resume its session. Websocket transport only: signaling runs without sticky sessions.
 */
export class SignalingClient extends TypedEmitter<SignalingClientEvents> implements SignalingChannel {
  readonly #socket: Socket;
  readonly #logger: TrellisLogger;
  readonly #requestTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #holdWhileReconnecting: boolean;
  readonly #urls: readonly string[];
  #urlIndex = 0;
  #everConnected = false;
  #closed = false;
  #holding = false;
  #released: Array<() => void> = [];

  constructor(options: SignalingClientOptions) {
    super();
    this.#logger = options.logger ?? silentLogger;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#holdWhileReconnecting = options.holdRequestsWhileReconnecting ?? false;
    const { token } = options;
    this.#urls = typeof options.url === 'string' ? [options.url] : [...options.url];
    if (this.#urls.length === 0) throw new TrellisClientError('INVALID_STATE', 'no signaling URL given');
    this.#socket = (options.socketFactory ?? io)(this.#urls[0] as string, {
      reconnectionDelay: 250,
      reconnectionDelayMax: 2_000,
      ...options.socketOptions,
      transports: ['websocket'],
      autoConnect: false,
      // Never share a Manager (io() caches them by URL): each call drops and reconnects on its own.
      forceNew: true,
      // A callback, so every reconnection presents a token (a refreshed one when `token` is a function).
      auth: (cb) => {
        Promise.resolve(typeof token === 'function' ? token() : token).then(
          (value) => cb({ token: value }),
          (error: unknown) => {
            this.#logger.error('token provider failed', { error: String(error) });
            cb({ token: '' });
          },
        );
      },
    });
    for (const name of Object.keys(Api.ClientEvents) as Api.ClientEventName[]) {
      this.#socket.on(name, (payload: unknown) => this.#onServerEvent(name, payload));
    }
    if (this.#urls.length > 1) this.#socket.io.on('reconnect_attempt', () => this.#nextUrl());
    this.#socket.on('connect', () => this.#onConnect());
    this.#socket.on('disconnect', (reason) => this.#onDisconnect(reason));
  }

  get connected(): boolean {
    return this.#socket.connected;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The Socket.IO id of the current connection (changes on every reconnection). */
  get socketId(): string | undefined {
    return this.#socket.id;
  }

  /**
   * Opens the connection. Rejects with the server's refusal (bad token: CONNECTION_FAILED with the
   * server's message) at once, or after `connectTimeoutMs` when the server cannot be reached.
   */
  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.#socket.off('connect', onConnect);
        this.#socket.off('connect_error', onError);
      };
      const onConnect = () => {
        cleanup();
        resolve();
      };
      const onError = (error: Error) => {
        // While `active`, socket.io-client retries by itself (server not up yet); inactive means refused.
        if (this.#socket.active) return;
        cleanup();
        // Signaling's refusal carries the usual error body (UNAUTHENTICATED, TOKEN_EXPIRED, ...).
        const body = (error as Error & { data?: { code?: unknown } }).data;
        const code = typeof body?.code === 'string' ? body.code : 'CONNECTION_FAILED';
        reject(new TrellisClientError(code, `signaling refused: ${error.message}`, { url: this.url }));
      };
      const timer = setTimeout(() => {
        cleanup();
        this.#socket.disconnect();
        reject(
          new TrellisClientError(
            'CONNECTION_FAILED',
            `no signaling connection within ${this.#connectTimeoutMs} ms`,
            { url: this.url },
          ),
        );
      }, this.#connectTimeoutMs);
      this.#socket.on('connect', onConnect);
      this.#socket.on('connect_error', onError);
      this.#socket.connect();
    });
  }

  /**
   * Sends `def` and resolves with its reply, validated with `def.reply`. Rejects with a
   * TrellisClientError: the server's code on `ok: false`, VALIDATION_FAILED for a bad payload,
   * BAD_REPLY for a reply that doesn't match, REQUEST_TIMEOUT, or CLOSED. An UNAVAILABLE with
   * `retryAfterMs` (signaling's Redis is away; nothing was done) is asked again until the deadline.
   */
  async request<D extends Api.RequestDef>(
    def: D,
    payload: Api.ApiRequestOf<D>,
    options: RequestOptions = {},
  ): Promise<Api.ApiReplyOf<D>> {
    if (this.#closed) throw closedError();
    const checked = def.request.safeParse(payload);
    if (!checked.success) {
      throw new TrellisClientError(
        'VALIDATION_FAILED',
        `invalid ${def.name} request: ${checked.error.message}`,
        {
          request: def.name,
        },
      );
    }
    const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    if (this.#holding && !options.bypassHold) await this.#waitForRelease(def.name, timeoutMs);
    for (;;) {
      const ack = await this.#emit(def, payload, deadline, timeoutMs);
      try {
        return this.#readAck(def, ack);
      } catch (error) {
        // UNAVAILABLE with retryAfterMs: signaling refused before doing anything (its Redis is
        // away), so asking again is safe; within the request's own deadline, never past it.
        const wait = retryAfter(error);
        if (wait === undefined || this.#closed || Date.now() + wait >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  #emit(def: Api.RequestDef, payload: unknown, deadline: number, timeoutMs: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      this.#socket
        .timeout(Math.max(1, deadline - Date.now()))
        .emit(def.name, payload, (error: Error | null, reply: unknown) => {
          if (error) {
            reject(
              new TrellisClientError('REQUEST_TIMEOUT', `${def.name} got no answer within ${timeoutMs} ms`, {
                request: def.name,
              }),
            );
          } else {
            resolve(reply);
          }
        });
    });
  }

  /** Lets requests held since a reconnection go out (the owner has resumed its session). */
  releaseHeldRequests(): void {
    this.#holding = false;
    const waiting = this.#released;
    this.#released = [];
    for (const release of waiting) release();
  }

  /**
   * Drops the transport as a network failure would; socket.io-client then reconnects by itself.
   * For tests and chaos drills of session resumption.
   */
  dropConnection(): void {
    this.#socket.io.engine?.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.disconnect();
    this.#socket.removeAllListeners();
    this.releaseHeldRequests();
    this.safeEmit('@close');
    this.removeAllListeners();
  }

  #readAck<D extends Api.RequestDef>(def: D, ack: unknown): Api.ApiReplyOf<D> {
    if (this.#closed) throw closedError();
    const body = ack as Partial<Api.Ack<unknown>> | undefined;
    if (body?.ok === true) {
      const reply = def.reply.safeParse(body.data);
      if (reply.success) return reply.data as Api.ApiReplyOf<D>;
      throw new TrellisClientError(
        'BAD_REPLY',
        `${def.name} reply does not match the protocol: ${reply.error.message}`,
        {
          request: def.name,
        },
      );
    }
    if (body?.ok === false && body.error && typeof body.error.code === 'string') {
      throw new TrellisClientError(body.error.code, body.error.message, {
        request: def.name,
        ...body.error.details,
      });
    }
    throw new TrellisClientError('BAD_REPLY', `${def.name} answered with something that is not an ack`, {
      request: def.name,
    });
  }

  #waitForRelease(name: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const release = () => {
        clearTimeout(timer);
        if (this.#closed) reject(closedError());
        else resolve();
      };
      const timer = setTimeout(() => {
        this.#released = this.#released.filter((r) => r !== release);
        reject(
          new TrellisClientError('DISCONNECTED', `${name} waited ${timeoutMs} ms for the session to resume`, {
            request: name,
          }),
        );
      }, timeoutMs);
      this.#released.push(release);
    });
  }

  #onServerEvent(name: Api.ClientEventName, payload: unknown): void {
    const parsed = Api.ClientEvents[name].safeParse(payload);
    if (!parsed.success) {
      this.#logger.warn('dropped an invalid server event', { event: name, issues: parsed.error.message });
      return;
    }
    // The schema for `name` produced the data, so it is that event's payload.
    (this.safeEmit as (event: string, data: unknown) => boolean)(name, parsed.data);
  }

  #onConnect(): void {
    if (!this.#everConnected) {
      this.#everConnected = true;
      this.safeEmit('connected');
      return;
    }
    this.#logger.info('signaling reconnected', { socketId: this.#socket.id });
    this.safeEmit('reconnected');
  }

  #onDisconnect(reason: string): void {
    if (this.#closed) return;
    if (this.#holdWhileReconnecting) this.#holding = true;
    const willReconnect = this.#socket.active;
    this.#logger.info('signaling disconnected', { reason, willReconnect });
    this.safeEmit('disconnected', reason, willReconnect);
  }

  /** The signaling node currently (or last) tried. */
  get url(): string {
    return this.#urls[this.#urlIndex] as string;
  }

  /** The Manager opens each attempt's engine on its `uri`, so pointing it elsewhere fails over. */
  #nextUrl(): void {
    this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
    (this.#socket.io as unknown as { uri: string }).uri = this.url;
    this.#logger.info('trying the next signaling node', { url: this.url });
  }
}

function closedError(): TrellisClientError {
  return new TrellisClientError('CLOSED', 'the signaling client is closed');
}

function retryAfter(error: unknown): number | undefined {
  if (!(error instanceof TrellisClientError) || error.code !== 'UNAVAILABLE') return undefined;
  const wait = error.details?.retryAfterMs;
  return typeof wait === 'number' && wait > 0 ? wait : undefined;
}
