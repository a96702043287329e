import type { types } from 'mediasoup';

export interface WorkerHandleOptions {
  index: number;
  listenIp: string;
  announcedAddress?: string;
  /** The WebRtcServer's port, UDP and TCP: a worker needs one port, not a range. */
  port: number;
  /** SO_RCVBUF/SO_SNDBUF of the UDP socket; kernel default when absent. */
  socketBufferBytes?: number;
  logLevel?: types.WorkerLogLevel;
}

/** Live objects on one worker, kept from mediasoup's observer events (no polling). */
export interface WorkerCounts {
  routers: number;
  transports: number;
  producers: number;
  consumers: number;
}

export type WorkerHandleEvents = {
  /** The worker process died (crash, kill -9); its routers are already closed by mediasoup. */
  died: [error: Error];
};
