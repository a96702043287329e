import { EventEmitter } from 'node:events';
import { createWorker, type types } from 'mediasoup';
import type { WorkerCounts, WorkerHandleEvents, WorkerHandleOptions } from './WorkerHandleTypes';

/**
 * One mediasoup worker with its WebRtcServer, and what runs on it. The counts follow mediasoup's
 * observer events, so placement decisions (which worker takes a new room or peer) read them free.
 */
export class WorkerHandle extends EventEmitter<WorkerHandleEvents> {
  readonly index: number;
  readonly worker: types.Worker;
  readonly webRtcServer: types.WebRtcServer;
  readonly listen: { ip: string; announcedAddress?: string; port: number };
  readonly counts: WorkerCounts = { routers: 0, transports: 0, producers: 0, consumers: 0 };
  #lastCpu: { atMs: number; cpuMs: number } | undefined;
  #cpuPercent = 0;

  private constructor(options: WorkerHandleOptions, worker: types.Worker, webRtcServer: types.WebRtcServer) {
    super();
    this.index = options.index;
    this.worker = worker;
    this.webRtcServer = webRtcServer;
    this.listen = {
      ip: options.listenIp,
      port: options.port,
      ...(options.announcedAddress === undefined ? {} : { announcedAddress: options.announcedAddress }),
    };
    this.#count();
    worker.on('died', (error) => this.emit('died', error));
  }

  static async create(options: WorkerHandleOptions): Promise<WorkerHandle> {
    const worker = await createWorker({ logLevel: options.logLevel ?? 'warn' });
    releaseProcessSignals(worker);
    try {
      const listenInfo = (protocol: 'udp' | 'tcp'): types.TransportListenInfo => ({
        protocol,
        ip: options.listenIp,
        port: options.port,
        ...(options.announcedAddress === undefined ? {} : { announcedAddress: options.announcedAddress }),
        ...(protocol === 'udp' && options.socketBufferBytes !== undefined
          ? { recvBufferSize: options.socketBufferBytes, sendBufferSize: options.socketBufferBytes }
          : {}),
      });
      const webRtcServer = await worker.createWebRtcServer({
        listenInfos: [listenInfo('udp'), listenInfo('tcp')],
      });
      return new WorkerHandle(options, worker, webRtcServer);
    } catch (error) {
      worker.close();
      throw error;
    }
  }

  get pid(): number {
    return this.worker.pid;
  }

  get closed(): boolean {
    return this.worker.closed || this.worker.died;
  }

  /** CPU use of the worker process since the previous call, in percent of one core. */
  async sampleCpu(): Promise<number> {
    if (this.closed) return 0;
    const usage = await this.worker.getResourceUsage();
    const now = { atMs: Date.now(), cpuMs: usage.ru_utime + usage.ru_stime };
    if (this.#lastCpu && now.atMs > this.#lastCpu.atMs) {
      this.#cpuPercent = (100 * (now.cpuMs - this.#lastCpu.cpuMs)) / (now.atMs - this.#lastCpu.atMs);
    }
    this.#lastCpu = now;
    return this.#cpuPercent;
  }

  get cpuPercent(): number {
    return this.#cpuPercent;
  }

  close(): void {
    this.worker.close();
  }

  #count(): void {
    const track = (key: keyof WorkerCounts, observer: { once(event: 'close', fn: () => void): unknown }) => {
      this.counts[key]++;
      observer.once('close', () => {
        this.counts[key]--;
      });
    };
    this.worker.observer.on('newrouter', (router) => {
      track('routers', router.observer);
      router.observer.on('newtransport', (transport) => {
        track('transports', transport.observer);
        transport.observer.on('newproducer', (producer) => track('producers', producer.observer));
        transport.observer.on('newconsumer', (consumer) => track('consumers', consumer.observer));
      });
    });
  }
}

/**
 * mediasoup 3.2x closes each worker on the process's first SIGINT/SIGTERM (a listener it adds in
 * the Worker constructor, with no option to turn it off). The sfu node owns those signals: SIGTERM
 * drains (calls move to other nodes while media still flows), and the node closes its workers last.
 */
function releaseProcessSignals(worker: types.Worker): void {
  const onSignal = (worker as unknown as { onSignal?: (signal: NodeJS.Signals) => void }).onSignal;
  if (typeof onSignal !== 'function') return;
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
}
