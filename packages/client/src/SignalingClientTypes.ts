import type { Api } from '@trellis/protocol';
import type { ManagerOptions, Socket, SocketOptions } from 'socket.io-client';
import type { TrellisLogger } from './Logger';

/**
 * Sends one API request and resolves with its validated reply. SfuSession and P2pSession take this
 * function rather than a SignalingClient, so tests can answer requests from an in-process mediasoup
 * router or a relay.
 */
export type ApiRequestFn = <D extends Api.ApiRequest>(
  def: D,
  payload: Api.ApiRequestOf<D>,
) => Promise<Api.ApiReplyOf<D>>;

export interface RequestOptions {
  /** Default: the client's `requestTimeoutMs`. */
  timeoutMs?: number;
  /**
   * Send even while the session is being resumed. Only the resuming `join` (and `leave`) may: any
   * other request sent before it would reach the server for a participant it considers gone.
   */
  bypassHold?: boolean;
}

export interface SignalingClientOptions {
  /**
   * Socket.IO server URL (e.g. `http://127.0.0.1:3000`), or several signaling nodes: each failed
   * (re)connection attempt moves on to the next, and the session resumes on whichever answers.
   */
  url: string | readonly string[];
  /** The room grant (JWT), or a function returning a fresh one for every (re)connection. */
  token: string | (() => string | Promise<string>);
  /** Default 10 s. */
  requestTimeoutMs?: number;
  /** How long `connect()` keeps trying. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * After a reconnection, hold ordinary requests until `releaseHeldRequests()` (the owner first
   * resumes its session with `join`). Default false: requests go out as soon as the socket is up.
   */
  holdRequestsWhileReconnecting?: boolean;
  /** Passed through to socket.io-client (websocket transport and auth are always set). */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /** Makes the socket (default: socket.io-client's `io`); for tests and custom builds. */
  socketFactory?: (url: string, options: Partial<ManagerOptions & SocketOptions>) => Socket;
  logger?: TrellisLogger;
}

type ServerEvents = { [N in Api.ClientEventName]: [Api.ClientEventPayload<N>] };

export type SignalingClientEvents = ServerEvents & {
  /** First connection established. */
  connected: [];
  /** The socket dropped; `willReconnect` false when the server or `close()` ended it. */
  disconnected: [reason: string, willReconnect: boolean];
  /** Connected again after a drop: the owner should resume its session (join with resumeSessionId). */
  reconnected: [];
  '@close': [];
};

/**
 * What TrellisCall needs from its signaling connection. SignalingClient is the Socket.IO
 * implementation; tests (or another transport) can pass their own.
 */
export interface SignalingChannel {
  readonly connected: boolean;
  connect(): Promise<void>;
  request<D extends Api.RequestDef>(
    def: D,
    payload: Api.ApiRequestOf<D>,
    options?: RequestOptions,
  ): Promise<Api.ApiReplyOf<D>>;
  on<K extends keyof SignalingClientEvents>(
    event: K,
    listener: (...args: SignalingClientEvents[K]) => void,
  ): unknown;
  /** Lets requests held since a reconnection go out (the session was resumed). */
  releaseHeldRequests(): void;
  close(): void;
}
