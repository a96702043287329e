import { EventEmitter } from 'node:events';
import { TrellisError } from '@trellis/protocol';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { ROUTER_MEDIA_CODECS } from './codecs';
import { media } from './mediaErrors';
import { Peer, type PeerContext } from './Peer';
import { type ImportedProducer, RoomSpan, type RoomSpanHost } from './RoomSpan';
import type { PipeSettings, RemoteNodes } from './RoomSpanTypes';
import type { RoomCloseReason, RoomEvents, RoomRouter, RoomTransportSettings } from './RoomTypes';
import type { WorkerHandle } from './WorkerHandle';
import type { WorkerPool } from './WorkerPool';

/** Closes a room nobody joined, so a probe (router capabilities) does not leave a router behind. */
const IDLE_CLOSE_MS = 30_000;

/**
 * One call on this node. It starts with one Router on the least-loaded worker; when that worker is
 * full (consumers), new peers get a router on another worker, and producers are piped between the
 * room's routers on demand (pipeToRouter), so a call can outgrow one core.
 */
export interface RoomOptions {
  roomId: string;
  pool: WorkerPool;
  settings: RoomTransportSettings;
  logger: Logger;
  /** The other nodes of the call, reached over the bus, and how pipes to them listen. */
  remote: RemoteNodes;
  pipe: PipeSettings;
}

/** A producer of the room: a local peer's, or one piped in from the node where its peer is. */
interface RoomProducer {
  producer: types.Producer;
  peerId: string;
  /** Set for local producers only. */
  peer?: Peer;
  nodeId: string;
}

export class Room extends EventEmitter<RoomEvents> implements PeerContext, RoomSpanHost {
  readonly roomId: string;
  readonly settings: RoomTransportSettings;
  readonly #pool: WorkerPool;
  readonly #logger: Logger;
  readonly #routers: RoomRouter[] = [];
  readonly #peers = new Map<string, Peer>();
  /** Every producer usable here: this node's peers', and those piped in from other nodes. */
  readonly #producers = new Map<string, RoomProducer>();
  readonly span: RoomSpan;
  readonly #nodeId: string;
  /** Pipes in progress or done, per producer and target router: each producer is piped once. */
  readonly #piped = new Map<string, Promise<void>>();
  readonly #activeSpeaker: types.ActiveSpeakerObserver;
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(options: RoomOptions, home: RoomRouter, activeSpeaker: types.ActiveSpeakerObserver) {
    super();
    this.roomId = options.roomId;
    this.settings = options.settings;
    this.#pool = options.pool;
    this.#logger = options.logger;
    this.#nodeId = options.remote.nodeId;
    this.#activeSpeaker = activeSpeaker;
    this.span = new RoomSpan(this, options.remote, options.pipe, options.logger);
    this.#addRouter(home);
    activeSpeaker.on('dominantspeaker', ({ producer }) => {
      const owner = this.#producers.get(producer.id);
      if (owner?.peer) this.notify('activespeaker', owner.peer, producer);
    });
    this.#idleTimer = setTimeout(() => {
      if (this.#peers.size === 0) this.close('empty');
    }, IDLE_CLOSE_MS);
  }

  static async create(options: RoomOptions): Promise<Room> {
    const { roomId, pool } = options;
    const handle = pool.leastLoaded();
    if (!handle)
      throw new TrellisError('CAPACITY_EXCEEDED', 'no live mediasoup worker on this node', { roomId });
    const router = await media({ roomId }, () =>
      handle.worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS, appData: { roomId } }),
    );
    const activeSpeaker = await router.createActiveSpeakerObserver({ interval: 300 });
    return new Room(
      { ...options, logger: options.logger.child({ roomId }) },
      { handle, router },
      activeSpeaker,
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  get rtpCapabilities(): types.RtpCapabilities {
    return this.#routers[0]!.router.rtpCapabilities;
  }

  get routers(): readonly RoomRouter[] {
    return this.#routers;
  }

  get peers(): ReadonlyMap<string, Peer> {
    return this.#peers;
  }

  /** Which workers this room uses: a dead one takes the room down with it. */
  usesWorker(handle: WorkerHandle): boolean {
    return this.#routers.some((r) => r.handle === handle);
  }

  peer(peerId: string): Peer {
    const peer = this.#peers.get(peerId);
    if (!peer)
      throw new TrellisError('PEER_NOT_FOUND', 'no such peer in this room', { roomId: this.roomId, peerId });
    return peer;
  }

  async getOrCreatePeer(peerId: string): Promise<Peer> {
    this.#assertOpen();
    const existing = this.#peers.get(peerId);
    if (existing) return existing;
    const home = await this.#routerForNewPeer();
    // Another command for this peer may have created it while we waited for a router.
    const raced = this.#peers.get(peerId);
    if (raced) return raced;
    const peer = new Peer(peerId, home, this);
    this.#peers.set(peerId, peer);
    clearTimeout(this.#idleTimer);
    return peer;
  }

  notify<K extends keyof RoomEvents>(event: K, ...args: RoomEvents[K]): void {
    // While the room closes, its one 'close' event stands for everything inside it. A router that
    // closed under the room (its worker died) closes the room right after: same rule.
    if (event !== 'close' && (this.#closed || this.#routers.some((r) => r.router.closed))) return;
    this.emit(event, ...(args as never));
  }

  producerAdded(peer: Peer, producer: types.Producer): void {
    this.#producers.set(producer.id, { peer, peerId: peer.id, producer, nodeId: this.#nodeId });
    if (producer.kind === 'audio') void this.#observeSpeaker(peer, producer);
    this.notify('produceradd', peer, producer);
  }

  producerRemoved(producer: types.Producer): void {
    this.#producers.delete(producer.id);
    for (const key of this.#piped.keys()) if (key.startsWith(`${producer.id}>`)) this.#piped.delete(key);
  }

  async prepareConsume(
    producerId: string,
    router: types.Router,
    producerNodeId?: string,
  ): Promise<types.Producer> {
    if (!this.#producers.has(producerId) && producerNodeId !== undefined && producerNodeId !== this.#nodeId) {
      await this.span.importProducer(producerNodeId, producerId);
    }
    const entry = this.#producers.get(producerId);
    if (!entry)
      throw new TrellisError('PRODUCER_NOT_FOUND', 'no such producer in this room', {
        roomId: this.roomId,
        producerId,
      });
    // Imported producers arrive on the home router.
    const source = entry.peer?.home.router ?? this.homeRouter();
    if (source !== router) await this.#pipe(producerId, source, router);
    return entry.producer;
  }

  /** Producers piped in from other nodes of the call. */
  get importedCount(): number {
    let count = 0;
    for (const entry of this.#producers.values()) if (!entry.peer) count++;
    return count;
  }

  homeRouter(): types.Router {
    return this.#routers[0]!.router;
  }

  async localProducerOnHome(producerId: string): Promise<{ producer: types.Producer; peerId: string }> {
    const entry = this.#producers.get(producerId);
    if (!entry?.peer) {
      throw new TrellisError('PRODUCER_NOT_FOUND', 'no such producer of this node in the room', {
        roomId: this.roomId,
        producerId,
      });
    }
    const home = this.homeRouter();
    if (entry.peer.home.router !== home) await this.#pipe(producerId, entry.peer.home.router, home);
    return { producer: entry.producer, peerId: entry.peerId };
  }

  imported({ producer, peerId, nodeId }: ImportedProducer): void {
    this.#producers.set(producer.id, { producer, peerId, nodeId });
    producer.observer.once('close', () => this.producerRemoved(producer));
  }

  peerClosed(peer: Peer): void {
    if (this.#peers.get(peer.id) !== peer) return;
    this.#peers.delete(peer.id);
    if (this.#peers.size === 0 && !this.#closed) this.close('empty');
  }

  close(reason: RoomCloseReason): void {
    if (this.#closed) return;
    clearTimeout(this.#idleTimer);
    const peerIds = [...this.#peers.keys()];
    this.#closed = true;
    for (const peer of [...this.#peers.values()]) peer.close();
    this.#peers.clear();
    this.span.close();
    for (const { router } of this.#routers) router.close();
    this.#logger.info({ reason, peers: peerIds.length }, 'room closed');
    this.emit('close', reason, peerIds);
  }

  async #routerForNewPeer(): Promise<RoomRouter> {
    const withRoom = this.#routers.find((r) => this.#pool.hasCapacity(r.handle));
    if (withRoom) return withRoom;
    const used = new Set(this.#routers.map((r) => r.handle));
    const handle = this.#pool.leastLoaded(used);
    if (!handle || !this.#pool.hasCapacity(handle)) {
      throw new TrellisError('CAPACITY_EXCEEDED', 'every worker of this node is full', {
        roomId: this.roomId,
      });
    }
    const router = await media({ roomId: this.roomId }, () =>
      handle.worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS, appData: { roomId: this.roomId } }),
    );
    const added = { handle, router };
    this.#addRouter(added);
    this.#logger.info(
      { worker: handle.index, routers: this.#routers.length },
      'room spread to another worker',
    );
    return added;
  }

  #addRouter(entry: RoomRouter): void {
    this.#routers.push(entry);
    entry.router.on('workerclose', () => this.close('worker-died'));
  }

  #pipe(producerId: string, from: types.Router, to: types.Router): Promise<void> {
    const key = `${producerId}>${to.id}`;
    let piping = this.#piped.get(key);
    if (!piping) {
      piping = media({ roomId: this.roomId, producerId }, async () => {
        await from.pipeToRouter({ producerId, router: to });
      });
      piping.catch(() => this.#piped.delete(key));
      this.#piped.set(key, piping);
    }
    return piping;
  }

  /** The speaker observer lives on the home router; audio produced elsewhere is piped to it. */
  async #observeSpeaker(peer: Peer, producer: types.Producer): Promise<void> {
    try {
      const home = this.#routers[0]!.router;
      if (peer.home.router !== home) await this.#pipe(producer.id, peer.home.router, home);
      await this.#activeSpeaker.addProducer({ producerId: producer.id });
    } catch (error) {
      if (!producer.closed)
        this.#logger.warn(
          { err: String(error), producerId: producer.id },
          'active speaker observation failed',
        );
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new TrellisError('ROOM_NOT_FOUND', 'room has closed', { roomId: this.roomId });
  }
}
