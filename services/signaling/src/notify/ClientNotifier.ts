import type { Api } from '@trellis/protocol';
import type { Server } from 'socket.io';

/** Socket.IO room names: every socket of a call, and the sockets of one participant. */
export const roomChannel = (roomId: string) => `room:${roomId}`;
export const participantChannel = (roomId: string, participantId: string) =>
  `peer:${roomId}:${participantId}`;

/**
 * Sends events to clients wherever they are connected: through the Redis adapter a broadcast from
 * any signaling node reaches sockets on every node, so no session is sticky to a node.
 */
export class ClientNotifier {
  constructor(readonly io: Server) {}

  toRoom<N extends Api.ClientEventName>(
    roomId: string,
    event: N,
    payload: Api.ClientEventPayload<N>,
    except?: string,
  ): void {
    const target = this.io.to(roomChannel(roomId));
    (except === undefined ? target : target.except(participantChannel(roomId, except))).emit(event, payload);
  }

  toParticipant<N extends Api.ClientEventName>(
    roomId: string,
    participantId: string,
    event: N,
    payload: Api.ClientEventPayload<N>,
  ): void {
    this.io.to(participantChannel(roomId, participantId)).emit(event, payload);
  }

  toSocket<N extends Api.ClientEventName>(
    socketId: string,
    event: N,
    payload: Api.ClientEventPayload<N>,
  ): void {
    this.io.to(socketId).emit(event, payload);
  }
}
