import type { BusKeys, RedisClient } from '@trellis/bus';
import type { CallStore } from '../call/CallStore';
import type { EffectRunner } from '../call/EffectRunner';

export interface LocalSessionsOptions {
  nodeId: string;
  redis: RedisClient;
  keys: BusKeys;
  store: CallStore;
  effects: EffectRunner;
}

/**
 * Which participants are connected through this node. Only a cache of the sockets this process
 * holds: the call state names the same connections. It is published with every heartbeat under the
 * node's rooms key, so that when this node dies, whoever sweeps its entry learns whose connections
 * went with it (NodeLost) and starts their resume grace.
 */
export class LocalSessions {
  readonly #o: LocalSessionsOptions;
  readonly #bySocket = new Map<string, { roomId: string; participantId: string }>();
  readonly #recording = new Set<Promise<void>>();

  constructor(options: LocalSessionsOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#bySocket.size;
  }

  bind(socketId: string, roomId: string, participantId: string): void {
    this.#bySocket.set(socketId, { roomId, participantId });
  }

  unbind(socketId: string): void {
    this.#bySocket.delete(socketId);
  }

  /** The socket dropped: unless a newer connection took the participant over, its grace starts. */
  disconnected(roomId: string, participantId: string, socketId: string): Promise<void> {
    const recording = (async () => {
      const { effects } = await this.#o.store.update(roomId, (draft) => {
        const record = draft.participant(participantId);
        if (record?.connection?.socketId === socketId) draft.setConnection(participantId, undefined);
      });
      await this.#o.effects.run(roomId, effects);
    })();
    this.#recording.add(recording);
    void recording.finally(() => this.#recording.delete(recording)).catch(() => undefined);
    return recording;
  }

  /** Waits for the disconnects being recorded (a closing node records its own before it goes). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#recording]);
  }

  /** Room id → participant ids connected here, in the shape NodeLossMonitor reads. */
  async publish(): Promise<void> {
    const rooms = new Map<string, string[]>();
    for (const { roomId, participantId } of this.#bySocket.values()) {
      rooms.set(roomId, [...(rooms.get(roomId) ?? []), participantId]);
    }
    const key = this.#o.keys.nodeRooms(this.#o.nodeId);
    const entries = [...rooms].flatMap(([roomId, ids]) => [roomId, JSON.stringify(ids)]);
    const multi = this.#o.redis.multi().del(key);
    if (entries.length > 0) multi.hset(key, ...entries).pexpire(key, 24 * 3600_000);
    await multi.exec();
  }

  async clear(): Promise<void> {
    this.#bySocket.clear();
    await this.#o.redis.del(this.#o.keys.nodeRooms(this.#o.nodeId));
  }
}
