import { Api } from '@trellis/protocol';
import { io, type Socket } from 'socket.io-client';
import { LoadError } from './LoadError';

type Handler = (payload: unknown) => void;

const MAX_RETRIES = 5;
/** A lost connection is tried again for this long (a signaling node restarting, a balancer failing over). */
const RECONNECT_FOR_MS = 30_000;
const RECONNECT_BACKOFF_MS = [100, 250, 500, 1000, 2000];

/**
 * One participant's Socket.IO connection to exactly the signaling URL it was given: websocket only
 * (the ws client follows no HTTP redirects) and no failover to other hosts, so a load test never
 * wanders off. A connection that drops is made again to the same URL (behind a balancer it lands on
 * a live node) and `onReconnect` lets the participant resume its session, as the SDK does. Requests
 * and events are checked against the protocol's schemas on the way out and in.
 */
export class SignalingConnection {
  readonly #url: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #handlers: Array<[string, Handler]> = [];
  #socket: Socket;
  #closed = false;
  #onDisconnect: ((reason: string) => void) | undefined;
  #onReconnect: (() => Promise<void>) | undefined;
  /** Settles when the current connection is up; replaced while reconnecting. */
  #ready: Promise<void> = Promise.resolve();
  #reconnecting = false;

  constructor(url: string, token: string, timeoutMs = 15_000) {
    this.#url = url;
    this.#token = token;
    this.#timeoutMs = timeoutMs;
    this.#socket = this.#newSocket();
  }

  get connected(): boolean {
    return this.#socket.connected;
  }

  /** Connections made again after a drop. */
  reconnects = 0;

  connect(): Promise<void> {
    this.#ready = this.#open(this.#socket);
    return this.#ready;
  }

  on<N extends Api.ClientEventName>(name: N, handler: (payload: Api.ClientEventPayload<N>) => void): void {
    const listener: Handler = (payload) => {
      const parsed = Api.ClientEvents[name].safeParse(payload);
      if (parsed.success) (handler as Handler)(parsed.data);
    };
    this.#handlers.push([name, listener]);
    this.#socket.on(name as string, listener);
  }

  /** The connection dropped (it is being made again); `reason` is Socket.IO's. */
  onDisconnect(handler: (reason: string) => void): void {
    this.#onDisconnect = handler;
  }

  /** Runs once a dropped connection is back, before queued requests go out (a session resume). */
  onReconnect(handler: () => Promise<void>): void {
    this.#onReconnect = handler;
  }

  /** Requests signaling turned away with RATE_LIMITED and that were sent again after its retryAfterMs. */
  rateLimitedRetries = 0;
  /** Requests turned away with UNAVAILABLE (its Redis is down) and sent again. */
  unavailableRetries = 0;

  /**
   * Sends `def`; RATE_LIMITED and UNAVAILABLE answers are retried after the server's retryAfterMs (as
   * a well-behaved client does: all participants share one IP, and signaling limits requests per
   * IP; a signaling node whose Redis is down answers UNAVAILABLE), at most MAX_RETRIES times and
   * within the request's own deadline before it counts as an error.
   */
  async request<D extends Api.RequestDef>(
    def: D,
    payload: Api.ApiRequestOf<D>,
    timeoutMs = this.#timeoutMs,
  ): Promise<Api.ApiReplyOf<D>> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#requestOnce(def, payload, Math.max(1, deadline - Date.now()));
      } catch (error) {
        const code = error instanceof LoadError ? error.code : undefined;
        if ((code !== 'RATE_LIMITED' && code !== 'UNAVAILABLE') || attempt >= MAX_RETRIES) throw error;
        const details = (error as LoadError).details;
        const after = typeof details.retryAfterMs === 'number' ? details.retryAfterMs : 500;
        const wait = Math.min(after, 2_000) + Math.random() * 100;
        if (Date.now() + wait >= deadline) throw error;
        if (code === 'RATE_LIMITED') this.rateLimitedRetries += 1;
        else this.unavailableRetries += 1;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  async #requestOnce<D extends Api.RequestDef>(
    def: D,
    payload: Api.ApiRequestOf<D>,
    timeoutMs: number,
  ): Promise<Api.ApiReplyOf<D>> {
    if (this.#closed) throw new LoadError('CLOSED', `${def.name} after close`);
    const checked = def.request.safeParse(payload);
    if (!checked.success) {
      throw new LoadError('VALIDATION_FAILED', `invalid ${def.name} request: ${checked.error.message}`);
    }
    const startedAt = Date.now();
    if (!this.#socket.connected) await this.#waitReady(def.name, timeoutMs);
    let ack: Partial<Api.Ack<unknown>>;
    try {
      const left = Math.max(1, timeoutMs - (Date.now() - startedAt));
      ack = await this.#socket.timeout(left).emitWithAck(def.name, payload);
    } catch {
      throw new LoadError('REQUEST_TIMEOUT', `${def.name} got no answer within ${timeoutMs} ms`);
    }
    if (ack?.ok === true) {
      const reply = def.reply.safeParse(ack.data);
      if (reply.success) return reply.data as Api.ApiReplyOf<D>;
      throw new LoadError(
        'BAD_REPLY',
        `${def.name} reply does not match the protocol: ${reply.error.message}`,
      );
    }
    if (ack?.ok === false && typeof ack.error?.code === 'string') {
      throw new LoadError(ack.error.code, `${def.name}: ${ack.error.message}`, ack.error.details ?? {});
    }
    throw new LoadError('BAD_REPLY', `${def.name} answered with something that is not an ack`);
  }

  async #waitReady(name: string, timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new LoadError('DISCONNECTED', `${name}: not connected to signaling within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.#ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #newSocket(): Socket {
    const socket = io(this.#url, {
      transports: ['websocket'],
      auth: { token: this.#token },
      reconnection: false,
      forceNew: true,
      autoConnect: false,
      timeout: this.#timeoutMs,
    });
    for (const [name, listener] of this.#handlers) socket.on(name, listener);
    socket.on('disconnect', (reason) => {
      if (this.#closed || socket !== this.#socket) return;
      this.#onDisconnect?.(reason);
      void this.#reconnect();
    });
    return socket;
  }

  #open(socket: Socket): Promise<void> {
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error: Error & { data?: { code?: unknown } }) => {
        const code = typeof error.data?.code === 'string' ? error.data.code : 'CONNECTION_FAILED';
        reject(new LoadError(code, `signaling refused the connection: ${error.message}`));
      });
      socket.connect();
    });
  }

  /** Makes the connection again, with back-off, for RECONNECT_FOR_MS; then gives up (requests fail). */
  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    let markReady!: () => void;
    let markFailed!: (error: LoadError) => void;
    this.#ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    this.#ready.catch(() => undefined);
    const giveUpAt = Date.now() + RECONNECT_FOR_MS;
    try {
      for (let attempt = 0; !this.#closed && Date.now() < giveUpAt; attempt++) {
        const socket = this.#newSocket();
        this.#socket.removeAllListeners();
        this.#socket = socket;
        try {
          await this.#open(socket);
        } catch {
          socket.removeAllListeners();
          socket.disconnect();
          await new Promise((r) =>
            setTimeout(r, RECONNECT_BACKOFF_MS[Math.min(attempt, RECONNECT_BACKOFF_MS.length - 1)]),
          );
          continue;
        }
        this.reconnects += 1;
        // A failed resume is the participant's to report; the connection itself is up.
        await this.#onReconnect?.().catch(() => undefined);
        markReady();
        return;
      }
      markFailed(new LoadError('DISCONNECTED', `signaling unreachable for ${RECONNECT_FOR_MS} ms`));
    } finally {
      this.#reconnecting = false;
    }
  }

  close(): void {
    this.#closed = true;
    this.#socket.removeAllListeners();
    this.#socket.disconnect();
  }
}
