import type { types } from 'mediasoup';
import type { WorkerHandle } from './WorkerHandle';

export interface WorkerPoolOptions {
  workers: number;
  listenIp: string;
  announcedAddress?: string;
  /** ports[i] is worker i's WebRtcServer port; a replacement worker reuses its predecessor's. */
  ports: number[];
  /** SO_RCVBUF/SO_SNDBUF of each WebRtcServer UDP socket; kernel default when absent. */
  socketBufferBytes?: number;
  maxConsumersPerWorker: number;
  logLevel?: types.WorkerLogLevel;
}

export type WorkerPoolEvents = {
  /** A worker died; `replacement` serves on its port from now on (absent if it couldn't start). */
  workerdied: [dead: WorkerHandle, replacement: WorkerHandle | undefined, error: Error];
};
