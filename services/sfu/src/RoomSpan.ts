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
 *
 * Opening a pair races when two nodes need each other at the same moment. The rules, applied where
 * a PipeConnect arrives: the same link id again is a redelivery (answer it); a new process at the
 * other end, or a pair the other end says it lost, replaces ours; otherwise the other node is
 * opening while we hold or are opening a pair, and the smaller node id wins — the larger side uses
 * the winner's pair (which it accepted or is about to). A node pair never keeps two.
 */
export class RoomSpan {
  /** The live pair per other node. */
  readonly #established = new Map<string, PipeLink>();
  /** Pairs this node is opening, per other node. */
  readonly #opening = new Map<string, Promise<PipeLink>>();
  readonly #waiting = new Map<string, Array<(link: PipeLink) => void>>();
  /** The pair we lost to a node, so our next open tells it to replace its end. */
  readonly #lost = new Map<string, string>();

  constructor(
    private readonly host: RoomSpanHost,
    private readonly remote: RemoteNodes,
    private readonly settings: PipeSettings,
    private readonly logger: Logger,
  ) {}

  get nodeIds(): string[] {
    return [...this.#established.keys()];
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
    // The other node may use the pair as soon as it accepted our PipeConnect, before its reply
    // reached us and our open completed: finish that first.
    if (this.#live(toNodeId)?.linkId !== linkId) await this.#opening.get(toNodeId)?.catch(() => undefined);
    const link = this.#established.get(toNodeId);
    if (!link || link.closed || link.linkId !== linkId) {
      throw new TrellisError('TRANSPORT_NOT_FOUND', 'no such pipe between these nodes', {
        roomId: this.host.roomId,
        nodeId: toNodeId,
        linkId,
      });
    }
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
    const producer = this.#established.get(fromNodeId)?.incoming.get(producerId);
    if (!producer || producer.closed) return false;
    if (state === 'closed') producer.close();
    else if (state === 'paused') await producer.pause();
    else await producer.resume();
    return true;
  }

  /** The live pair to `nodeId`, opening one if there is none. */
  linkTo(nodeId: string): Promise<PipeLink> {
    const live = this.#live(nodeId);
    if (live) return Promise.resolve(live);
    let opening = this.#opening.get(nodeId);
    if (!opening) {
      opening = this.#initiate(nodeId).finally(() => this.#opening.delete(nodeId));
      this.#opening.set(nodeId, opening);
    }
    return opening;
  }

  /** Producing side of PipeConnect: make our end, connect it to theirs, return ours. */
  async accept(
    fromNodeId: string,
    request: { linkId: string; instanceId: string; replacesLinkId?: string | undefined } & Endpoint,
  ): Promise<Endpoint & { instanceId: string }> {
    const current = this.#live(fromNodeId);
    if (current?.linkId === request.linkId)
      return { ...current.endpoint(), instanceId: this.remote.instanceId };
    const stale =
      current !== undefined &&
      (request.replacesLinkId === current.linkId || request.instanceId !== current.remoteInstanceId);
    const contested = (current !== undefined && !stale) || this.#opening.has(fromNodeId);
    if (contested && this.remote.nodeId < fromNodeId) {
      throw new TrellisError('CONFLICT', 'a pipe between these nodes is open or opening from this side', {
        roomId: this.host.roomId,
        nodeId: this.remote.nodeId,
      });
    }
    current?.close();
    const transport = await this.#createTransport();
    try {
      await media({ roomId: this.host.roomId, fromNodeId }, () =>
        transport.connect({
          ip: request.ip,
          port: request.port,
          srtpParameters: request.srtpParameters as types.SrtpParameters,
        }),
      );
    } catch (error) {
      transport.close();
      throw error;
    }
    const link = this.#establish(fromNodeId, transport, request.linkId, request.instanceId);
    return { ...link.endpoint(), instanceId: this.remote.instanceId };
  }

  /** Tears the pair to `nodeId` down (the node is lost, or asked); its piped producers close. */
  async drop(nodeId: string, tellRemote: boolean): Promise<boolean> {
    const link = this.#established.get(nodeId);
    if (!link) return false;
    this.#established.delete(nodeId);
    this.#lost.set(nodeId, link.linkId);
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

  #live(nodeId: string): PipeLink | undefined {
    const link = this.#established.get(nodeId);
    return link && !link.closed ? link : undefined;
  }

  async #initiate(nodeId: string): Promise<PipeLink> {
    let transport: types.PipeTransport | undefined;
    try {
      transport = await this.#createTransport();
      const mine = transport;
      const replacesLinkId = this.#lost.get(nodeId);
      const theirs = await this.remote.request(nodeId, PipeConnect, {
        roomId: this.host.roomId,
        fromNodeId: this.remote.nodeId,
        linkId: mine.id,
        instanceId: this.remote.instanceId,
        ...(replacesLinkId === undefined ? {} : { replacesLinkId }),
        ...endpointOf(mine),
      });
      await media({ roomId: this.host.roomId, nodeId }, () =>
        mine.connect({
          ip: theirs.ip,
          port: theirs.port,
          srtpParameters: theirs.srtpParameters as types.SrtpParameters,
        }),
      );
      this.#lost.delete(nodeId);
      return this.#establish(nodeId, mine, mine.id, theirs.instanceId);
    } catch (error) {
      transport?.close();
      // The other node holds or is opening the pair and wins the tie: use its pair.
      if (isTrellisError(error, 'CONFLICT')) return this.#awaitIncoming(nodeId);
      throw error;
    }
  }

  #awaitIncoming(nodeId: string): Promise<PipeLink> {
    // Its PipeConnect may have been accepted here already, before ours was refused there.
    const live = this.#live(nodeId);
    if (live) return Promise.resolve(live);
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

  #createTransport(): Promise<types.PipeTransport> {
    const { listenIp, announcedAddress, portRange, socketBufferBytes } = this.settings;
    return media({ roomId: this.host.roomId }, () =>
      this.host.homeRouter().createPipeTransport({
        listenInfo: {
          protocol: 'udp',
          ip: listenIp,
          portRange,
          ...(announcedAddress === undefined ? {} : { announcedAddress }),
          // Optional (SFU_PIPE_SOCKET_BUFFER_BYTES): every imported stream of the call queues here.
          ...(socketBufferBytes === undefined
            ? {}
            : { recvBufferSize: socketBufferBytes, sendBufferSize: socketBufferBytes }),
        },
        // Pipes may cross networks between hosts: encrypted, and with retransmissions on loss.
        enableSrtp: true,
        enableRtx: true,
      }),
    );
  }

  #establish(
    nodeId: string,
    transport: types.PipeTransport,
    linkId: string,
    remoteInstanceId: string,
  ): PipeLink {
    const link = new PipeLink(nodeId, transport, linkId, remoteInstanceId);
    const previous = this.#established.get(nodeId);
    if (previous && previous !== link) previous.close();
    this.#established.set(nodeId, link);
    transport.observer.once('close', () => {
      if (this.#established.get(nodeId) === link) this.#established.delete(nodeId);
    });
    for (const resolve of this.#waiting.get(nodeId) ?? []) resolve(link);
    this.#waiting.delete(nodeId);
    return link;
  }
}
