// The Socket.IO wire as a Trellis client speaks it: one websocket per participant, the token in the
// handshake's auth, every request an event answered by an ack `{ ok, data } | { ok: false, error }`.
import type { Api } from '@trellis/protocol';
import { io, type Socket } from 'socket.io-client';

export type { Socket } from 'socket.io-client';

/** An ack with ok: false, or no ack in time: the code says which (TIMEOUT for the latter). */
export class RequestFailed extends Error {
  constructor(
    readonly request: string,
    readonly code: string,
    message: string,
  ) {
    super(`${request}: ${code}: ${message}`);
    this.name = 'RequestFailed';
  }
}

/** Opens a websocket-only Socket.IO connection (no reconnection, no shared Manager). */
export function connect(url: string, auth: Record<string, unknown>, timeoutMs = 10_000): Promise<Socket> {
  const socket = io(url, {
    transports: ['websocket'],
    auth,
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
  });
  return new Promise<Socket>((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error: Error & { data?: unknown }) => {
      socket.close();
      const code = (error.data as { code?: string } | undefined)?.code ?? 'CONNECT_ERROR';
      reject(new RequestFailed('connect', code, error.message));
    });
  });
}

/** One request: resolves with the reply's data, rejects with RequestFailed. */
export async function ask<T>(socket: Socket, name: string, payload: unknown, timeoutMs = 10_000): Promise<T> {
  let ack: Api.Ack<T>;
  try {
    ack = (await socket.timeout(timeoutMs).emitWithAck(name, payload)) as Api.Ack<T>;
  } catch (error) {
    throw new RequestFailed(name, 'TIMEOUT', error instanceof Error ? error.message : String(error));
  }
  if (!ack.ok) throw new RequestFailed(name, ack.error.code, ack.error.message);
  return ack.data;
}

export function failureKind(error: unknown): string {
  return error instanceof RequestFailed ? `${error.request}:${error.code}` : 'error';
}
