import type { Broadcaster, EventSource, Unsubscribe } from '@trellis/bus';
import { ActiveSpeaker, NodeLost, ParticipantsMustMove, ProducerClosed, RoomClosed } from '@trellis/protocol';
import type { Logger } from 'pino';
import type { CallStore } from '../call/CallStore';
import type { EffectRunner } from '../call/EffectRunner';
import type { ClientNotifier } from '../notify/ClientNotifier';
import type { Rehomer } from './Rehomer';

export interface RoomEventRelayOptions {
  /** Room events of every SFU node, read by the signaling consumer group (one member handles each). */
  source: EventSource;
  broadcast: Broadcaster;
  store: CallStore;
  effects: EffectRunner;
  notifier: ClientNotifier;
  rehomer: Rehomer;
  logger: Logger;
}

/**
 * Turns what SFU nodes report into call changes and client events: producers that closed on the
 * node, the active speaker, and the nodes or rooms participants must leave. Node loss arrives by
 * broadcast; it also covers signaling nodes, whose participants then start their resume grace.
 */
export class RoomEventRelay {
  readonly #o: RoomEventRelayOptions;
  #unsubscribe: Unsubscribe | undefined;

  constructor(options: RoomEventRelayOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    const { source, broadcast, store, effects, rehomer } = this.#o;
    source
      .on(ProducerClosed, async (e) => {
        const { effects: todo } = await store
          .update(e.roomId, (draft) => {
            if (draft.state.producers[e.producerId]?.nodeId === e.nodeId) draft.removeProducer(e.producerId);
          })
          .catch(ignoreEndedCall);
        await effects.run(e.roomId, todo);
      })
      .on(ActiveSpeaker, async (e) => {
        const { effects: todo } = await store
          .update(e.roomId, (draft) => draft.setActiveSpeaker(e.peerId, e.producerId))
          .catch(ignoreEndedCall);
        await effects.run(e.roomId, todo);
      })
      .on(RoomClosed, async (e) => {
        if (e.reason === 'worker-died') await rehomer.rehome(e.roomId, e.nodeId, 'room-closed', e.peerIds);
      })
      .on(ParticipantsMustMove, async (e) => {
        await rehomer.rehome(e.roomId, e.nodeId, 'draining', e.peerIds);
      });
    await source.start();
    this.#unsubscribe = await broadcast.subscribe(NodeLost, (e) =>
      this.#nodeLost(
        e.nodeId,
        e.rooms.map((r) => r.roomId),
      ),
    );
  }

  async #nodeLost(nodeId: string, roomIds: readonly string[]): Promise<void> {
    const { store, effects, rehomer, logger } = this.#o;
    // Calls are independent: each is re-homed at once, not behind the others.
    await Promise.all(
      roomIds.map(async (roomId) => {
        try {
          // A signaling node: the participants connected through it start their resume grace.
          const { effects: todo } = await store.update(roomId, (draft) => {
            for (const p of Object.values(draft.state.participants)) {
              if (p.connection?.nodeId === nodeId) draft.setConnection(p.id, undefined);
            }
          });
          await effects.run(roomId, todo);
          // An SFU node: its participants move.
          await rehomer.rehome(roomId, nodeId, 'node-lost');
        } catch (error) {
          logger.warn(
            { roomId, lostNode: nodeId, err: error instanceof Error ? error.message : error },
            'could not handle node loss',
          );
        }
      }),
    );
  }

  async close(): Promise<void> {
    await this.#unsubscribe?.();
    await this.#o.source.close();
  }
}

function ignoreEndedCall(error: unknown): { effects: [] } {
  if (error instanceof Error && 'code' in error && error.code === 'ROOM_NOT_FOUND') return { effects: [] };
  throw error;
}
