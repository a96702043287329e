import type { types } from 'mediasoup';

/**
 * One end of the PipeTransport pair that joins a room's routers on two nodes. The same pair
 * carries producers both ways: `outgoing` are this node's producers forwarded to the other node
 * (pipe consumers here), `incoming` the other node's producers received here (pipe producers, under
 * their original ids).
 */
export class PipeLink {
  readonly outgoing = new Map<string, types.Consumer>();
  readonly incoming = new Map<string, types.Producer>();
  readonly #importing = new Map<string, Promise<types.Producer>>();

  constructor(
    readonly remoteNodeId: string,
    readonly transport: types.PipeTransport,
    /** Names the pair: the id of the initiating node's transport. */
    readonly linkId: string,
    /** The process at the other end: another one there means this pair is stale. */
    readonly remoteInstanceId: string,
  ) {}

  get closed(): boolean {
    return this.transport.closed;
  }

  endpoint(): PipeEndpoint {
    return endpointOf(this.transport);
  }

  /** Imports a remote producer once, however many consumers ask for it at the same time. */
  importOnce(producerId: string, create: () => Promise<types.Producer>): Promise<types.Producer> {
    const existing = this.incoming.get(producerId);
    if (existing && !existing.closed) return Promise.resolve(existing);
    let pending = this.#importing.get(producerId);
    if (!pending) {
      pending = create().then((producer) => {
        this.incoming.set(producer.id, producer);
        producer.observer.once('close', () => this.incoming.delete(producer.id));
        return producer;
      });
      void pending.finally(() => this.#importing.delete(producerId)).catch(() => {});
      this.#importing.set(producerId, pending);
    }
    return pending;
  }

  close(): void {
    this.transport.close();
  }
}

export interface PipeEndpoint {
  ip: string;
  port: number;
  srtpParameters: types.SrtpParameters;
}

/** Where the other node sends to, and the SRTP key it encrypts with. */
export function endpointOf(transport: types.PipeTransport): PipeEndpoint {
  const { tuple, srtpParameters } = transport;
  if (!srtpParameters) throw new Error('pipe transports are created with SRTP');
  return { ip: tuple.localAddress, port: tuple.localPort, srtpParameters };
}
