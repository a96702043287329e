import { Api } from '@trellis/protocol';
import type { Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { TrellisLogger } from '../src/Logger';
import { SignalingClient } from '../src/SignalingClient';
import type { SignalingClientOptions } from '../src/SignalingClientTypes';
import { isTrellisClientError } from '../src/TrellisClientError';

type Handler = (...args: unknown[]) => void;

/** The part of a socket.io-client Socket that SignalingClient uses, driven by the test. */
class FakeSocket {
  connected = false;
  active = false;
  id = 'socket-1';
  refuse: { code: string; message: string } | undefined;
  auth: unknown;
  readonly sent: Array<{ name: string; payload: unknown; answer: (reply: unknown) => void }> = [];
  readonly managerHandlers = new Map<string, Handler>();
  readonly io = {
    engine: { close: () => this.drop() },
    uri: 'fake://signaling',
    on: (name: string, handler: Handler) => this.managerHandlers.set(name, handler),
  };
  readonly #handlers = new Map<string, Set<Handler>>();

  constructor(readonly options: Record<string, unknown>) {}

  on(name: string, handler: Handler): this {
    const set = this.#handlers.get(name) ?? new Set<Handler>();
    this.#handlers.set(name, set);
    set.add(handler);
    return this;
  }

  off(name: string, handler: Handler): this {
    this.#handlers.get(name)?.delete(handler);
    return this;
  }

  removeAllListeners(): this {
    this.#handlers.clear();
    return this;
  }

  fire(name: string, ...args: unknown[]): void {
    for (const handler of [...(this.#handlers.get(name) ?? [])]) handler(...args);
  }

  connect(): this {
    this.active = true;
    (this.options.auth as (cb: (data: unknown) => void) => void)((data) => {
      this.auth = data;
      setTimeout(() => {
        if (this.refuse) {
          this.active = false;
          this.fire('connect_error', Object.assign(new Error(this.refuse.message), { data: this.refuse }));
        } else {
          this.connected = true;
          this.fire('connect');
        }
      }, 1);
    });
    return this;
  }

  disconnect(): this {
    this.active = false;
    this.connected = false;
    this.fire('disconnect', 'io client disconnect');
    return this;
  }

  timeout(ms: number) {
    return {
      emit: (name: string, payload: unknown, ack: (error: Error | null, reply?: unknown) => void) => {
        const timer = setTimeout(() => ack(new Error('operation has timed out')), ms);
        this.sent.push({
          name,
          payload,
          answer: (reply) => {
            clearTimeout(timer);
            ack(null, reply);
          },
        });
      },
    };
  }

  /** The transport drops; socket.io-client reconnects by itself. */
  drop(): void {
    this.connected = false;
    this.fire('disconnect', 'transport close');
    setTimeout(() => {
      this.connected = true;
      this.fire('connect');
    }, 5);
  }
}

const warnings: string[] = [];
const logger: TrellisLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message) => warnings.push(message),
  error: () => undefined,
};

function client(options: Partial<SignalingClientOptions> = {}): {
  client: SignalingClient;
  socket: FakeSocket;
} {
  let socket: FakeSocket | undefined;
  const c = new SignalingClient({
    url: 'fake://signaling',
    token: 'jwt-1',
    logger,
    requestTimeoutMs: 200,
    socketFactory: (_url, opts) => {
      socket = new FakeSocket(opts as Record<string, unknown>);
      return socket as unknown as Socket;
    },
    ...options,
  });
  clients.push(c);
  return { client: c, socket: socket as FakeSocket };
}

const clients: SignalingClient[] = [];
const tick = () => new Promise((resolve) => setTimeout(resolve, 2));
const nextSent = async (socket: FakeSocket) => {
  while (socket.sent.length === 0) await tick();
  return socket.sent.shift()!;
};

describe('SignalingClient', () => {
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    warnings.length = 0;
  });

  it('connects over websocket with the token and resolves requests with validated replies', async () => {
    const { client: c, socket } = client({ token: async () => 'fresh-jwt' });
    await c.connect();
    expect(c.connected).toBe(true);
    expect(socket.options.transports).toEqual(['websocket']);
    expect(socket.auth).toEqual({ token: 'fresh-jwt' });
    const pending = c.request(Api.LeaveRoom, { roomId: 'r1' });
    const sent = await nextSent(socket);
    expect(sent).toMatchObject({ name: 'leave', payload: { roomId: 'r1' } });
    sent.answer({ ok: true, data: { left: true } });
    await expect(pending).resolves.toEqual({ left: true });
  });

  it('turns error acks, malformed replies, bad payloads and silence into coded errors', async () => {
    const { client: c, socket } = client();
    await c.connect();
    const refused = c.request(Api.GetRoom, { roomId: 'r1' });
    (await nextSent(socket)).answer({
      ok: false,
      error: { code: 'PEER_NOT_FOUND', message: 'join first', details: { roomId: 'r1' } },
    });
    await expect(refused).rejects.toMatchObject({
      name: 'TrellisClientError',
      code: 'PEER_NOT_FOUND',
      details: { roomId: 'r1', request: 'getRoom' },
    });

    const malformed = c.request(Api.LeaveRoom, { roomId: 'r1' });
    (await nextSent(socket)).answer({ ok: true, data: { left: 'yes' } });
    await expect(malformed).rejects.toMatchObject({ code: 'BAD_REPLY' });

    const notAnAck = c.request(Api.LeaveRoom, { roomId: 'r1' });
    (await nextSent(socket)).answer('hello');
    await expect(notAnAck).rejects.toMatchObject({ code: 'BAD_REPLY' });

    await expect(c.request(Api.LeaveRoom, { roomId: 'has space' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    expect(socket.sent).toHaveLength(0);

    const silent = c.request(Api.LeaveRoom, { roomId: 'r1' }, { timeoutMs: 30 });
    await expect(silent).rejects.toSatisfy((e) => isTrellisClientError(e, 'REQUEST_TIMEOUT'));
  });

  it('emits valid server events and drops invalid ones with a warning', async () => {
    const { client: c, socket } = client();
    await c.connect();
    const joined: string[] = [];
    c.on('participant-joined', ({ participant }) => joined.push(participant.id));
    const participant = { id: 'bob', name: 'Bob', joinedAt: 1, canPublish: true, connected: true };
    socket.fire('participant-joined', { participant });
    socket.fire('participant-joined', { participant: { id: 'no spaces allowed' } });
    expect(joined).toEqual(['bob']);
    expect(warnings).toEqual(['dropped an invalid server event']);
  });

  it('reports a drop and the reconnection, holding requests until the session is resumed', async () => {
    const { client: c, socket } = client({ holdRequestsWhileReconnecting: true });
    await c.connect();
    const events: string[] = [];
    c.on('disconnected', (reason, willReconnect) => events.push(`disconnected:${reason}:${willReconnect}`));
    c.on('reconnected', () => events.push('reconnected'));
    socket.active = true;
    c.dropConnection();
    const held = c.request(Api.LeaveRoom, { roomId: 'r1' }, { timeoutMs: 1_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).toEqual(['disconnected:transport close:true', 'reconnected']);
    // The resuming join goes out; the ordinary request waits for it.
    const join = c.request(Api.JoinRoom, { roomId: 'r1' }, { bypassHold: true });
    expect((await nextSent(socket)).name).toBe('join');
    expect(socket.sent).toHaveLength(0);
    c.releaseHeldRequests();
    const sent = await nextSent(socket);
    expect(sent.name).toBe('leave');
    sent.answer({ ok: true, data: { left: true } });
    await expect(held).resolves.toEqual({ left: true });
    void join.catch(() => undefined);
  });

  it('rejects connect() with the server’s refusal code, and everything after close()', async () => {
    const { client: c, socket } = client();
    socket.refuse = { code: 'TOKEN_EXPIRED', message: 'token expired' };
    await expect(c.connect()).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
    c.close();
    expect(c.closed).toBe(true);
    await expect(c.request(Api.LeaveRoom, { roomId: 'r1' })).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(c.connect()).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('fails over between signaling nodes, one per reconnection attempt', () => {
    const { client: c, socket } = client({ url: ['ws://node-a', 'ws://node-b'] });
    expect(c.url).toBe('ws://node-a');
    const attempt = socket.managerHandlers.get('reconnect_attempt')!;
    attempt();
    expect([c.url, socket.io.uri]).toEqual(['ws://node-b', 'ws://node-b']);
    attempt();
    expect(socket.io.uri).toBe('ws://node-a');
    expect(socket.options.forceNew).toBe(true);
    expect(() => client({ url: [] })).toThrow(/no signaling URL/);
  });

  it('gives up connecting after connectTimeoutMs', async () => {
    const { client: c, socket } = client({ connectTimeoutMs: 30 });
    socket.connect = function (this: FakeSocket) {
      this.active = true;
      return this;
    };
    await expect(c.connect()).rejects.toMatchObject({ code: 'CONNECTION_FAILED' });
  });
});
