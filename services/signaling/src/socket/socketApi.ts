import { randomUUID } from 'node:crypto';
import { type Api, TrellisError } from '@trellis/protocol';
import type { Logger } from 'pino';
import type { Server, Socket } from 'socket.io';
import type { ApiDispatcher } from '../api/ApiDispatcher';
import type { TokenVerifier } from '../auth/TokenVerifier';
import type { SignalingMetrics } from '../metrics';
import { participantChannel, roomChannel } from '../notify/ClientNotifier';
import type { LocalSessions } from './LocalSessions';

export interface SocketApiOptions {
  io: Server;
  dispatcher: ApiDispatcher;
  verifier: TokenVerifier;
  sessions: LocalSessions;
  metrics: SignalingMetrics;
  logger: Logger;
}

interface SocketData {
  principal: Api.Principal;
  bound?: { roomId: string; participantId: string; sessionId: string };
}

/**
 * The request table over Socket.IO: `socket.emit(name, payload, ack)`, answered `{ ok, data }` or
 * `{ ok: false, error }`. The token is checked once, at the handshake; the socket then speaks for
 * that identity in that room. A request without an ack callback cannot be answered and is dropped.
 */
export function attachSocketApi(options: SocketApiOptions): void {
  const { io, dispatcher, verifier, sessions, metrics, logger } = options;

  io.use((socket, next) => {
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const token = typeof auth?.token === 'string' ? auth.token : undefined;
    verifier
      .verify(token)
      .then((principal) => {
        (socket.data as SocketData).principal = principal;
        next();
      })
      .catch((error: unknown) => {
        const failure = TrellisError.from(error, 'UNAUTHENTICATED');
        const refusal = new Error(failure.message) as Error & { data: unknown };
        refusal.data = failure.toBody();
        next(refusal);
      });
  });

  io.on('connection', (socket: Socket) => {
    metrics.sockets.inc();
    const data = socket.data as SocketData;
    socket.onAny((name: unknown, ...args: unknown[]) => {
      const ack = args.at(-1);
      if (typeof ack !== 'function') return;
      const reply = ack as (answer: Api.Ack<unknown>) => void;
      const def = typeof name === 'string' ? dispatcher.definition(name) : undefined;
      if (!def) {
        reply({
          ok: false,
          error: new TrellisError('UNKNOWN_COMMAND', `unknown request ${String(name).slice(0, 64)}`).toBody(),
        });
        return;
      }
      const ctx = {
        principal: data.principal,
        ip: socket.handshake.address,
        requestId: randomUUID(),
        socket: {
          id: socket.id,
          bind: (roomId: string, participantId: string, sessionId: string) => {
            data.bound = { roomId, participantId, sessionId };
            void socket.join([roomChannel(roomId), participantChannel(roomId, participantId)]);
            sessions.bind(socket.id, roomId, participantId);
          },
        },
      };
      dispatcher
        .dispatch(def, args.length > 1 ? args[0] : undefined, ctx)
        .then((result) => {
          if (def.name === 'leave') unbind(socket, data);
          reply({ ok: true, data: result });
        })
        .catch((error: unknown) => reply({ ok: false, error: TrellisError.from(error).toBody() }));
    });

    socket.on('disconnect', (reason) => {
      metrics.sockets.dec();
      const bound = data.bound;
      if (!bound) return;
      sessions.unbind(socket.id);
      logger.debug({ ...bound, reason }, 'participant socket disconnected');
      sessions
        .disconnected(bound.roomId, bound.participantId, socket.id)
        .catch((error: unknown) =>
          logger.warn(
            { ...bound, err: error instanceof Error ? error.message : error },
            'could not record disconnect',
          ),
        );
    });
  });

  function unbind(socket: Socket, data: SocketData): void {
    if (!data.bound) return;
    const { roomId, participantId } = data.bound;
    void socket.leave(roomChannel(roomId));
    void socket.leave(participantChannel(roomId, participantId));
    sessions.unbind(socket.id);
    delete data.bound;
  }
}
