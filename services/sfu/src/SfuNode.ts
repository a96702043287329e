import { randomUUID } from 'node:crypto';
import { NodeHeartbeat, NodeLossMonitor, type RedisBus, type RedisCommandServer } from '@trellis/bus';
import type { SfuConfig } from '@trellis/config';
import {
  type NodeInfo,
  NodeLost,
  type NodeState,
  NodeStateChanged,
  ParticipantsMustMove,
  TrellisError,
  WorkerDied,
} from '@trellis/protocol';
import type { MetricsRegistry } from '@trellis/telemetry';
import type { Logger } from 'pino';
import { serveSfuCommands } from './commands';
import { observeSfuMetrics } from './metrics';
import type { Peer } from './Peer';
import { servePipeCommands } from './pipeCommands';
import { Room } from './Room';
import { publishRoomEvents } from './RoomEventPublisher';
import type { RemoteNodes } from './RoomSpanTypes';
import type { WorkerHandle } from './WorkerHandle';
import { WorkerPool } from './WorkerPool';

export interface SfuNodeOptions {
  config: SfuConfig;
  bus: RedisBus;
  logger: Logger;
  metrics: MetricsRegistry;
}

/**
 * The media node: its worker pool, its rooms, the command server on `cmd:{nodeId}` and the
 * heartbeat that announces it. Lifecycle: create() → start() (serving) → close() (stopped), and
 * every room closes with the node.
 */
export class SfuNode {
  readonly nodeId: string;
  readonly #o: SfuNodeOptions;
  readonly #pool: WorkerPool;
  readonly #rooms = new Map<string, Room>();
  readonly #creating = new Map<string, Promise<Room>>();
  /** Rooms closed by a worker's death, by its pid, until the death is broadcast. */
  readonly #orphaned = new Map<number, string[]>();
  readonly #heartbeat: NodeHeartbeat;
  readonly #startedAt = Date.now();
  #server: RedisCommandServer | undefined;
  readonly #lossMonitor: NodeLossMonitor;
  #unsubscribeLost: (() => Promise<void>) | undefined;
  #draining: Promise<void> | undefined;
  #markStopped: () => void = () => {};
  /** Settles when the node has stopped, whoever stopped it (a drain command, a signal). */
  readonly stopped = new Promise<void>((resolve) => {
    this.#markStopped = resolve;
  });
  #drainDeadline: number | undefined;
  /** Other SFU nodes, reached with the same bus commands clients use on this one. */
  readonly #remote: RemoteNodes;
  #state: NodeState = 'starting';

  private constructor(options: SfuNodeOptions, pool: WorkerPool) {
    this.#o = options;
    this.nodeId = options.config.nodeId;
    this.#pool = pool;
    this.#heartbeat = new NodeHeartbeat({
      registry: options.bus.registry,
      // What the node hosts goes out with every beat: if the node dies, its calls can be named.
      describe: async () => {
        await this.#publishRooms();
        return this.describe();
      },
      intervalMs: options.config.heartbeat.intervalMs,
      ttlMs: options.config.heartbeat.ttlMs,
      logger: options.logger,
    });
    pool.on('workerdied', (dead, replacement) => void this.#reportWorkerDeath(dead, replacement));
    this.#lossMonitor = new NodeLossMonitor({
      nodeId: this.nodeId,
      registry: options.bus.registry,
      redis: options.bus.redis,
      keys: options.bus.keys,
      broadcast: options.bus.broadcast,
      intervalMs: Math.max(100, Math.floor(options.config.heartbeat.intervalMs / 2)),
      presence: { graceMs: options.config.nodeLossGraceMs },
      logger: options.logger,
    });
    this.#remote = {
      nodeId: this.nodeId,
      instanceId: randomUUID(),
      request: (nodeId, def, payload) =>
        options.bus.commands.request(nodeId, def, payload, { timeoutMs: 5000 }),
    };
  }

  static async create(options: SfuNodeOptions): Promise<SfuNode> {
    const { config } = options;
    const pool = await WorkerPool.create(
      {
        workers: config.workers,
        listenIp: config.rtc.listenIp,
        ports: config.rtc.ports,
        maxConsumersPerWorker: config.maxConsumersPerWorker,
        ...(config.rtc.socketBufferBytes === undefined
          ? {}
          : { socketBufferBytes: config.rtc.socketBufferBytes }),
        ...(config.rtc.announcedAddress === undefined
          ? {}
          : { announcedAddress: config.rtc.announcedAddress }),
      },
      options.logger,
    );
    return new SfuNode(options, pool);
  }

  get state(): NodeState {
    return this.#state;
  }

  get rooms(): ReadonlyMap<string, Room> {
    return this.#rooms;
  }

  get pool(): WorkerPool {
    return this.#pool;
  }

  async start(): Promise<void> {
    observeSfuMetrics(this, this.#o.metrics);
    this.#server = this.#o.bus.serveCommands(this.nodeId, { concurrency: 128 });
    serveSfuCommands(this.#server, this);
    servePipeCommands(this.#server, this);
    await this.#server.start();
    // A lost node's pipes go at once: its piped producers close, and their consumers with them.
    this.#unsubscribeLost = await this.#o.bus.broadcast.subscribe(NodeLost, async ({ nodeId }) => {
      if (nodeId === this.nodeId) {
        // Declared lost while alive (cut off from Redis too long): signaling has moved everyone,
        // so what is left here are ghosts. The cluster holds us back from new work for a while.
        this.#o.logger.error({ rooms: this.#rooms.size }, 'this node was declared lost: closing its rooms');
        for (const room of [...this.#rooms.values()]) room.close('node-stopping');
        return;
      }
      for (const room of this.#rooms.values()) await room.span.drop(nodeId, false);
    });
    this.#lossMonitor.start();
    this.#state = 'serving';
    await this.#heartbeat.start();
    this.#o.logger.info(
      { workers: this.#pool.handles.map((h) => ({ pid: h.pid, port: h.listen.port })) },
      'sfu node serving',
    );
  }

  findRoom(roomId: string): Room | undefined {
    return this.#rooms.get(roomId);
  }

  room(roomId: string): Room {
    const room = this.#rooms.get(roomId);
    if (!room)
      throw new TrellisError('ROOM_NOT_FOUND', 'no such room on this node', { roomId, nodeId: this.nodeId });
    return room;
  }

  /** Concurrent first commands of one room create one Router, not several. */
  async getOrCreateRoom(roomId: string): Promise<Room> {
    if (this.#state !== 'serving')
      throw new TrellisError('NODE_DRAINING', 'node is not taking rooms', {
        nodeId: this.nodeId,
        state: this.#state,
      });
    const existing = this.#rooms.get(roomId);
    if (existing) return existing;
    let creating = this.#creating.get(roomId);
    if (!creating) {
      creating = Room.create({
        roomId,
        pool: this.#pool,
        settings: {
          initialAvailableOutgoingBitrate: this.#o.config.initialOutgoingBitrate,
          maxIncomingBitrate: this.#o.config.maxIncomingBitrate,
        },
        logger: this.#o.logger,
        remote: this.#remote,
        pipe: this.#o.config.pipe,
      }).then((room) => this.#adopt(room));
      this.#creating.set(roomId, creating);
      void creating.finally(() => this.#creating.delete(roomId)).catch(() => {});
    }
    return creating;
  }

  /** The registry entry: what node selection sees of this node. */
  async describe(): Promise<NodeInfo> {
    const { config } = this.#o;
    const workers = await Promise.all(
      this.#pool.handles.map(async (h) => ({
        pid: h.pid,
        ...h.counts,
        cpuPercent: Math.round((await h.sampleCpu().catch(() => 0)) * 10) / 10,
      })),
    );
    return {
      nodeId: this.nodeId,
      kind: 'sfu',
      region: config.region,
      state: this.#state,
      startedAt: this.#startedAt,
      updatedAt: Date.now(),
      rtc: this.#pool.handles.map((h) => ({
        ip: h.listen.ip,
        ...(h.listen.announcedAddress === undefined ? {} : { announcedAddress: h.listen.announcedAddress }),
        udpPort: h.listen.port,
        tcpPort: h.listen.port,
      })),
      workers,
      maxConsumersPerWorker: config.maxConsumersPerWorker,
    };
  }

  /**
   * Stops taking calls and participants and asks signaling at once to move everyone here
   * (ParticipantsMustMove): they build their path on another node while this one still carries
   * their media, then leave (make-before-break). Closes when the last room is empty, or after
   * `maxMs` whatever the calls do.
   */
  drain(maxMs = this.#o.config.drainTimeoutMs): Promise<void> {
    this.#draining ??= (async () => {
      if (this.#state !== 'serving') return;
      this.#state = 'draining';
      this.#drainDeadline = Date.now() + maxMs;
      this.#o.logger.info({ maxMs, rooms: this.#rooms.size }, 'sfu node draining');
      await this.#heartbeat.beat().catch(() => undefined);
      await this.#o.bus.broadcast
        .publish(NodeStateChanged, {
          nodeId: this.nodeId,
          kind: 'sfu',
          state: 'draining',
          region: this.#o.config.region,
        })
        .catch(() => undefined);
      for (const room of [...this.#rooms.values()]) {
        // A peer that has already gone (all its transports closed) is not asked to move.
        for (const peer of [...room.peers.values()]) this.#releaseIfMoved(peer);
        if (room.closed || room.peers.size === 0) continue;
        await this.#o.bus.events
          .append(room.roomId, ParticipantsMustMove, {
            roomId: room.roomId,
            nodeId: this.nodeId,
            peerIds: [...room.peers.keys()],
            reason: 'draining',
          })
          .catch((error: unknown) =>
            this.#o.logger.error(
              { err: String(error), roomId: room.roomId },
              'could not ask participants to move',
            ),
          );
      }
      const emptied = await this.#roomsGone(this.#drainDeadline - Date.now());
      this.#o.logger.info(
        { emptied, left: [...this.#rooms.values()].reduce((n, r) => n + r.peers.size, 0) },
        emptied ? 'sfu node drained' : 'drain cap reached: closing the rooms left',
      );
      await this.close();
    })();
    return this.#draining;
  }

  /**
   * While draining, a peer whose transports have all closed has moved to its new node (its client
   * closed the old path): it goes at once, so the room empties and the drain ends before its cap.
   */
  #releaseIfMoved(peer: Peer): void {
    if (this.#state === 'draining' && !peer.closed && peer.transports.size === 0 && peer.hadTransports)
      peer.close();
  }

  get drainDeadline(): number | undefined {
    return this.#drainDeadline;
  }

  async close(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    await this.#server?.close();
    await this.#lossMonitor.stop();
    await this.#unsubscribeLost?.();
    for (const room of [...this.#rooms.values()]) room.close('node-stopping');
    await this.#heartbeat.stop();
    await this.#o.bus.redis.del(this.#o.bus.keys.nodeRooms(this.nodeId)).catch(() => undefined);
    this.#pool.close();
    this.#markStopped();
  }

  /** Resolves true once no room is left, false if `ms` passed first. */
  async #roomsGone(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.#rooms.size > 0 && Date.now() < deadline) {
      // A room nobody is in (a router made for a probe, or for a re-home that went elsewhere)
      // can't gain anyone while draining: it does not hold the node up.
      for (const room of [...this.#rooms.values()])
        if (room.peers.size === 0 && !room.closed) room.close('empty');
      if (this.#rooms.size === 0) break;
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, Math.max(1, deadline - Date.now()))));
    }
    return this.#rooms.size === 0;
  }

  /** A participant's peer: new ones only while serving; a draining node keeps the ones it has. */
  async peerFor(roomId: string, peerId: string): Promise<Peer> {
    if (this.#state === 'draining') {
      const existing = this.#rooms.get(roomId)?.peers.get(peerId);
      if (existing) return existing;
      throw new TrellisError('NODE_DRAINING', 'node is draining: join another node', {
        nodeId: this.nodeId,
        roomId,
        peerId,
      });
    }
    const room = await this.getOrCreateRoom(roomId);
    return room.getOrCreatePeer(peerId);
  }

  async #publishRooms(): Promise<void> {
    const { redis, keys } = this.#o.bus;
    const key = keys.nodeRooms(this.nodeId);
    const entries = [...this.#rooms.values()].flatMap((room) => [
      room.roomId,
      JSON.stringify([...room.peers.keys()]),
    ]);
    // One transaction: a node killed between the delete and the write must not leave its calls
    // unnamed (NodeLost names what this hash holds).
    const tx = redis.multi().del(key);
    if (entries.length > 0) tx.hset(key, ...entries).pexpire(key, 24 * 3600_000);
    await tx.exec();
  }

  #adopt(room: Room): Room {
    this.#rooms.set(room.roomId, room);
    publishRoomEvents(room, this.#o.bus.events, this.nodeId, this.#o.logger);
    room.on('transportclose', (peer) => this.#releaseIfMoved(peer));
    room.once('close', (reason) => {
      this.#rooms.delete(room.roomId);
      if (reason === 'worker-died') {
        for (const { handle } of room.routers) {
          if (handle.closed)
            this.#orphaned.set(handle.pid, [...(this.#orphaned.get(handle.pid) ?? []), room.roomId]);
        }
      }
    });
    return room;
  }

  async #reportWorkerDeath(dead: WorkerHandle, replacement: WorkerHandle | undefined): Promise<void> {
    const roomIds = this.#orphaned.get(dead.pid) ?? [];
    this.#orphaned.delete(dead.pid);
    try {
      await this.#o.bus.broadcast.publish(WorkerDied, {
        nodeId: this.nodeId,
        workerPid: dead.pid,
        ...(replacement ? { replacementPid: replacement.pid } : {}),
        roomIds,
      });
      await this.#heartbeat.beat();
    } catch (error) {
      this.#o.logger.error({ err: String(error) }, 'could not report a worker death');
    }
  }
}
