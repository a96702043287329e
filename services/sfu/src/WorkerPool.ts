import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { WorkerHandle } from './WorkerHandle';
import type { WorkerPoolEvents, WorkerPoolOptions } from './WorkerPoolTypes';

const REPLACE_ATTEMPTS = 10;

/**
 * The node's mediasoup workers, one per core, each a single-threaded process. A worker that dies is
 * replaced on the same port, so the node's advertised addresses stay valid and it keeps serving.
 */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #o: WorkerPoolOptions;
  readonly #logger: Logger;
  readonly #handles: WorkerHandle[] = [];
  #closed = false;

  private constructor(options: WorkerPoolOptions, logger: Logger) {
    super();
    this.#o = options;
    this.#logger = logger;
  }

  static async create(options: WorkerPoolOptions, logger: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(options, logger);
    try {
      for (let index = 0; index < options.workers; index++) pool.#adopt(await pool.#start(index));
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  get handles(): readonly WorkerHandle[] {
    return this.#handles;
  }

  get maxConsumersPerWorker(): number {
    return this.#o.maxConsumersPerWorker;
  }

  hasCapacity(handle: WorkerHandle, extraConsumers = 1): boolean {
    return !handle.closed && handle.counts.consumers + extraConsumers <= this.#o.maxConsumersPerWorker;
  }

  /** The live worker with the fewest consumers (then routers), skipping `exclude`. */
  leastLoaded(exclude: ReadonlySet<WorkerHandle> = new Set()): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    for (const handle of this.#handles) {
      if (handle.closed || exclude.has(handle)) continue;
      if (
        !best ||
        handle.counts.consumers < best.counts.consumers ||
        (handle.counts.consumers === best.counts.consumers && handle.counts.routers < best.counts.routers)
      ) {
        best = handle;
      }
    }
    return best;
  }

  close(): void {
    this.#closed = true;
    for (const handle of this.#handles) handle.close();
  }

  #start(index: number): Promise<WorkerHandle> {
    return WorkerHandle.create({
      index,
      listenIp: this.#o.listenIp,
      port: this.#o.ports[index]!,
      ...(this.#o.socketBufferBytes === undefined ? {} : { socketBufferBytes: this.#o.socketBufferBytes }),
      ...(this.#o.announcedAddress === undefined ? {} : { announcedAddress: this.#o.announcedAddress }),
      ...(this.#o.logLevel === undefined ? {} : { logLevel: this.#o.logLevel }),
    });
  }

  #adopt(handle: WorkerHandle): void {
    this.#handles[handle.index] = handle;
    handle.once('died', (error) => void this.#replace(handle, error));
    this.#logger.info(
      { worker: handle.index, pid: handle.pid, port: handle.listen.port },
      'mediasoup worker started',
    );
  }

  async #replace(dead: WorkerHandle, error: Error): Promise<void> {
    this.#logger.error(
      { worker: dead.index, pid: dead.pid, err: error.message },
      'mediasoup worker died; replacing it',
    );
    let replacement: WorkerHandle | undefined;
    // The dead process's port is released by the kernel at once; retries cover a slow reap.
    for (let attempt = 1; attempt <= REPLACE_ATTEMPTS && !this.#closed; attempt++) {
      try {
        replacement = await this.#start(dead.index);
        this.#adopt(replacement);
        break;
      } catch (startError) {
        this.#logger.warn(
          { worker: dead.index, attempt, err: String(startError) },
          'worker replacement failed; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
    this.emit('workerdied', dead, replacement, error);
  }
}
