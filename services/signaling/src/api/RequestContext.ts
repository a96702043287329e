import type { Api } from '@trellis/protocol';

/** Who sent a request and through what; REST and Socket.IO build the same thing. */
export interface RequestContext {
  principal: Api.Principal;
  /** The request id, carried to the SFU commands it causes (logs join up across services). */
  requestId: string;
  ip: string;
  /** Set for Socket.IO requests: joining binds the participant to this socket. */
  socket?: { id: string; bind(roomId: string, participantId: string, sessionId: string): void };
}
