import {
  isTrellisError,
  PipeClose,
  PipeConnect,
  PipedProducerState,
  PipeProducer,
  TrellisError,
} from '@trellis/protocol';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { media } from './mediaErrors';
import { endpointOf, PipeLink } from './PipeLink';
import type { Endpoint, PipeSettings, RemoteNodes } from './RoomSpanTypes';

/** A producer piped in from another node, as the room needs to know it. */
export interface ImportedProducer {
  producer: types.Producer;
  peerId: string;
  nodeId: string;
}

export interface RoomSpanHost {
  readonly roomId: string;
  /** The router pipes attach to; producers elsewhere in the room are piped to it locally first. */
  homeRouter(): types.Router;
  /** A producer of this node's own peers, on the home router, with its owner's id. */
  localProducerOnHome(producerId: string): Promise<{ producer: types.Producer; peerId: string }>;
  imported(entry: ImportedProducer): void;
}

const INCOMING_WAIT_MS = 10_000;

/**
 * How a room spans nodes: one PipeLink per other node of the call, used in both directions.
 * If two nodes open a link to each other at the same moment, the one with the smaller node id
 * wins and the other uses the winner's pair, so a node pair never holds two.
 */
export class RoomSpan {
  readonly #links = new Map<string, Promise<PipeLink>>();
  readonly #initiating = new Set<string>();
  readonly #waiting = new Map<string, Array<(link: PipeLink) => void>>();
  /** Pairs the other node opened towards us, for an initiation of ours that lost the tie. */
  readonly #accepted = new Map<string, PipeLink>();

  constructor(
    private readonly host: RoomSpanHost,
    private readonly remote: RemoteNodes,
    private readonly settings: PipeSettings,
    private readonly logger: Logger,
  ) {}

  get nodeIds(): string[] {
    return [...this.#links.keys()];
  }

  /** Makes a producer of `nodeId` available on this node's home router (a pipe producer). */
  async importProducer(nodeId: string, producerId: string): Promise<types.Producer> {
    const link = await this.linkTo(nodeId);
    return link.importOnce(producerId, async () => {
      const info = await this.remote.request(nodeId, PipeProducer, {
        roomId: this.host.roomId,
        toNodeId: this.remote.nodeId,
        linkId: link.linkId,
        producerId,
      });
      const producer = await media({ roomId: this.host.roomId, producerId, nodeId }, () =>
        link.transport.produce({
          id: producerId,
          kind: info.kind,
          rtpParameters: info.rtpParameters as types.RtpParameters,
          paused: info.paused,
          appData: { ...info.appData, peerId: info.peerId, nodeId },
        }),
      );
      this.host.imported({ producer, peerId: info.peerId, nodeId });
      return producer;
    });
  }

  /** Producing side: forwards a local producer over the link `toNodeId` opened. */
  async exportProducer(toNodeId: string, linkId: string, producerId: string) {
    const link = await this.#linkOrNotFound(toNodeId, linkId);
    const { producer, peerId } = await this.host.localProducerOnHome(producerId);
    let consumer = link.outgoing.get(producerId);
    if (!consumer || consumer.closed) {
      const created = await media({ roomId: this.host.roomId, producerId, toNodeId }, () =>
        link.transport.consume({ producerId }),
      );
      consumer = created;
      link.outgoing.set(producerId, created);
      created.observer.once('close', () => link.outgoing.delete(producerId));
      const tell = (state: 'paused' | 'resumed' | 'closed') =>
        void this.remote
          .request(toNodeId, PipedProducerState, {
            roomId: this.host.roomId,
            fromNodeId: this.remote.nodeId,
            producerId,
            state,
          })
          .catch((error: unknown) =>
            this.logger.warn(
              { err: String(error), toNodeId, producerId, state },
              'piped producer state not delivered',
            ),
          );
      created.on('producerpause', () => tell('paused'));
      created.on('producerresume', () => tell('resumed'));
      created.on('producerclose', () => tell('closed'));
    }
    return {
      producerId,
      peerId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      paused: consumer.producerPaused,
      appData: producer.appData,
    };
  }

  /** Consuming side: mirrors what happened to a producer at its source. */
  async applyProducerState(
    fromNodeId: string,
    producerId: string,
    state: 'paused' | 'resumed' | 'closed',
  ): Promise<boolean> {
    const link = await this.#links.get(fromNodeId)?.catch(() => undefined);
    const producer = link?.incoming.get(producerId);
    if (!producer || producer.closed) return false;
    if (state === 'closed') producer.close();
    else if (state === 'paused') await producer.pause();
    else await producer.resume();
    return true;
  }

  /** The link to `nodeId`, opening the pair if there is none. */
  linkTo(nodeId: string): Promise<PipeLink> {
    const existing = this.#links.get(nodeId);
    if (existing) return existing;
    const attempt = this.#initiate(nodeId);
    this.#links.set(nodeId, attempt);
    attempt.catch(() => {
      if (this.#links.get(nodeId) === attempt) this.#links.delete(nodeId);
    });
    return attempt;
  }

  /** Producing side of PipeConnect: make our end, connect it to theirs, return ours. */
  async accept(fromNodeId: string, linkId: string, remote: Endpoint): Promise<Endpoint> {
    if (this.#initiating.has(fromNodeId) && this.remote.nodeId < fromNodeId) {
      throw new TrellisError('CONFLICT', 'a pipe to this node is being opened from this side', {
        roomId: this.host.roomId,
        nodeId: this.remote.nodeId,
      });
    }
    const current = this.#initiating.has(fromNodeId)
      ? undefined
      : await this.#links.get(fromNodeId)?.catch(() => undefined);
    // A redelivered PipeConnect: the pair exists already.
    if (current && current.linkId === linkId && !current.closed) return current.endpoint();
    // A new pair from a node that restarted (or re-opens after a broken pipe) replaces the old one.
    current?.close();
    const transport = await this.#createTransport();
    try {
      await media({ roomId: this.host.roomId, fromNodeId }, () =>
        transport.connect({
          ip: remote.ip,
          port: remote.port,
          srtpParameters: remote.srtpParameters as types.SrtpParameters,
        }),
      );
    } catch (error) {
      transport.close();
      throw error;
    }
    const link = this.#adopt(fromNodeId, transport, linkId);
    this.#links.set(fromNodeId, Promise.resolve(link));
    this.#accepted.set(fromNodeId, link);
    transport.observer.once('close', () => {
      if (this.#accepted.get(fromNodeId) === link) this.#accepted.delete(fromNodeId);
    });
    for (const resolve of this.#waiting.get(fromNodeId) ?? []) resolve(link);
    this.#waiting.delete(fromNodeId);
    return link.endpoint();
  }

  /** Tears the pair to `nodeId` down (the node is lost, or asked); its piped producers close. */
  async drop(nodeId: string, tellRemote: boolean): Promise<boolean> {
    const link = await this.#links.get(nodeId)?.catch(() => undefined);
    this.#links.delete(nodeId);
    if (!link) return false;
    link.close();
    if (tellRemote) {
      await this.remote
        .request(nodeId, PipeClose, { roomId: this.host.roomId, fromNodeId: this.remote.nodeId })
        .catch(() => undefined);
    }
    return true;
  }

  /** Room closing: every pair goes, and the other nodes hear of it. */
  close(): void {
    for (const nodeId of this.nodeIds) void this.drop(nodeId, true);
  }

  async #initiate(nodeId: string): Promise<PipeLink> {
    this.#initiating.add(nodeId);
    let transport: types.PipeTransport | undefined;
    try {
      transport = await this.#createTransport();
      const mine = transport;
      const theirs = await this.remote.request(nodeId, PipeConnect, {
        roomId: this.host.roomId,
        fromNodeId: this.remote.nodeId,
        linkId: mine.id,
        ...endpointOf(mine),
      });
      await media({ roomId: this.host.roomId, nodeId }, () =>
        mine.connect({
          ip: theirs.ip,
          port: theirs.port,
          srtpParameters: theirs.srtpParameters as types.SrtpParameters,
        }),
      );
      return this.#adopt(nodeId, mine, mine.id);
    } catch (error) {
      transport?.close();
      // The other node is opening the pair towards us and wins the tie: use its pair.
      if (isTrellisError(error, 'CONFLICT')) return this.#awaitIncoming(nodeId);
      throw error;
    } finally {
      this.#initiating.delete(nodeId);
    }
  }

  #awaitIncoming(nodeId: string): Promise<PipeLink> {
    // The other node's PipeConnect may have been accepted before ours was refused.
    const accepted = this.#accepted.get(nodeId);
    if (accepted && !accepted.closed) return Promise.resolve(accepted);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new TrellisError('BUS_TIMEOUT', 'the other node never opened its pipe', {
            nodeId,
            roomId: this.host.roomId,
          }),
        );
      }, INCOMING_WAIT_MS);
      const waiters = this.#waiting.get(nodeId) ?? [];
      waiters.push((link) => {
        clearTimeout(timer);
        resolve(link);
      });
      this.#waiting.set(nodeId, waiters);
    });
  }

  async #linkOrNotFound(nodeId: string, linkId: string): Promise<PipeLink> {
    const link = await this.#links.get(nodeId)?.catch(() => undefined);
    if (!link || link.closed || link.linkId !== linkId) {
      throw new TrellisError('TRANSPORT_NOT_FOUND', 'no such pipe between these nodes', {
        roomId: this.host.roomId,
        nodeId,
        linkId,
      });
    }
    return link;
  }

  #createTransport(): Promise<types.PipeTransport> {
    const { listenIp, announcedAddress, portRange } = this.settings;
    return media({ roomId: this.host.roomId }, () =>
      this.host.homeRouter().createPipeTransport({
        listenInfo: {
          protocol: 'udp',
          ip: listenIp,
          portRange,
          ...(announcedAddress === undefined ? {} : { announcedAddress }),
        },
        // Pipes may cross networks between hosts: encrypted, and with retransmissions on loss.
        enableSrtp: true,
        enableRtx: true,
      }),
    );
  }

  #adopt(nodeId: string, transport: types.PipeTransport, linkId: string): PipeLink {
    const link = new PipeLink(nodeId, transport, linkId);
    transport.observer.once('close', () => {
      void this.#links.get(nodeId)?.then(
        (current) => {
          if (current === link) this.#links.delete(nodeId);
        },
        () => undefined,
      );
    });
    return link;
  }
}
