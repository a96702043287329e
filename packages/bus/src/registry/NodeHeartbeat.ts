import type { NodeInfo } from '@trellis/protocol';
import type { Logger } from 'pino';
import type { NodeRegistry } from './NodeRegistry';

export interface NodeHeartbeatOptions {
  registry: NodeRegistry;
  /** Builds the entry afresh at every beat: state and load change between beats. */
  describe: () => NodeInfo | Promise<NodeInfo>;
  intervalMs: number;
  /** Longer than the interval, so one late beat does not make the node look lost. */
  ttlMs: number;
  logger: Logger;
}

/** Keeps a node's registry entry alive until stopped; stopping removes it at once. */
export class NodeHeartbeat {
  readonly #o: NodeHeartbeatOptions;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #nodeId: string | undefined;

  constructor(options: NodeHeartbeatOptions) {
    if (options.ttlMs <= options.intervalMs)
      throw new Error('heartbeat TTL must be longer than its interval');
    this.#o = options;
  }

  async start(): Promise<void> {
    await this.beat();
    this.#timer = setInterval(() => void this.beat(), this.#o.intervalMs);
  }

  /** Publishes now (also used to announce a state change without waiting for the next beat). */
  beat(): Promise<void> {
    this.#beating = (async () => {
      try {
        const info = await this.#o.describe();
        this.#nodeId = info.nodeId;
        await this.#o.registry.publish(info, this.#o.ttlMs);
      } catch (error) {
        this.#o.logger.warn({ err: error instanceof Error ? error.message : error }, 'heartbeat failed');
      }
    })();
    return this.#beating;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#beating;
    if (this.#nodeId) await this.#o.registry.remove(this.#nodeId);
  }
}
