import { Api } from '@trellis/protocol';
import { io, type Socket } from 'socket.io-client';
import { LoadError } from './LoadError';

type Handler = (payload: unknown) => void;

const MAX_RETRIES = 5;

/**
 * One participant's Socket.IO connection to exactly the signaling URL it was given: websocket only
 * (the ws client follows no HTTP redirects), no reconnection and no failover to other nodes, so a
 * load test can never wander off to another host. Requests and events are checked against the
 * protocol's schemas on the way out and in.
 */
export class SignalingConnection {
  readonly #socket: Socket;
  readonly #timeoutMs: number;
  #closed = false;

  constructor(url: string, token: string, timeoutMs = 15_000) {
    this.#timeoutMs = timeoutMs;
    this.#socket = io(url, {
      transports: ['websocket'],
      auth: { token },
      reconnection: false,
      forceNew: true,
      autoConnect: false,
      timeout: timeoutMs,
    });
  }

  get connected(): boolean {
    return this.#socket.connected;
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.once('connect', () => resolve());
      this.#socket.once('connect_error', (error: Error & { data?: { code?: unknown } }) => {
        const code = typeof error.data?.code === 'string' ? error.data.code : 'CONNECTION_FAILED';
        reject(new LoadError(code, `signaling refused the connection: ${error.message}`));
      });
      this.#socket.connect();
    });
  }

  on<N extends Api.ClientEventName>(name: N, handler: (payload: Api.ClientEventPayload<N>) => void): void {
    (this.#socket.on as (event: string, listener: Handler) => void)(name, (payload: unknown) => {
      const parsed = Api.ClientEvents[name].safeParse(payload);
      if (parsed.success) (handler as Handler)(parsed.data);
    });
  }

  onDisconnect(handler: (reason: string) => void): void {
    this.#socket.on('disconnect', (reason) => {
      if (!this.#closed) handler(reason);
    });
  }

  /** Requests signaling turned away with RATE_LIMITED and that were sent again after its retryAfterMs. */
  rateLimitedRetries = 0;

  /**
   * Sends `def`; a RATE_LIMITED answer is retried after the server's retryAfterMs (as a well-behaved
   * client does: all participants share one IP, and signaling limits requests per IP), at most
   * MAX_RETRIES times before it counts as an error.
   */
  async request<D extends Api.RequestDef>(
    def: D,
    payload: Api.ApiRequestOf<D>,
    timeoutMs = this.#timeoutMs,
  ): Promise<Api.ApiReplyOf<D>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#requestOnce(def, payload, timeoutMs);
      } catch (error) {
        if (!(error instanceof LoadError) || error.code !== 'RATE_LIMITED' || attempt >= MAX_RETRIES)
          throw error;
        this.rateLimitedRetries += 1;
        const after = typeof error.details.retryAfterMs === 'number' ? error.details.retryAfterMs : 500;
        await new Promise((r) => setTimeout(r, Math.min(after, 2_000) + Math.random() * 100));
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
    let ack: Partial<Api.Ack<unknown>>;
    try {
      ack = await this.#socket.timeout(timeoutMs).emitWithAck(def.name, payload);
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

  close(): void {
    this.#closed = true;
    this.#socket.removeAllListeners();
    this.#socket.disconnect();
  }
}
