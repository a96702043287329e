import type { EventSink } from '@trellis/bus';
import {
  ActiveSpeaker,
  ConsumerClosed,
  ConsumerLayersChanged,
  ConsumerScore,
  type EventDef,
  type PayloadInputOf,
  ProducerAdded,
  ProducerClosed,
  ProducerPaused,
  ProducerResumed,
  RoomClosed,
  TransportClosed,
} from '@trellis/protocol';
import type { Logger } from 'pino';
import type { Room } from './Room';

/**
 * Turns a room's events into entries on its bus stream (`events:{roomId}`), where signaling reads
 * them. Appends go out in the order the room emitted them (one connection, pipelined).
 */
export function publishRoomEvents(room: Room, sink: EventSink, nodeId: string, logger: Logger): void {
  const scope = { roomId: room.roomId, nodeId };
  const append = <E extends EventDef>(def: E, payload: PayloadInputOf<E>) => {
    sink.append(room.roomId, def, payload).catch((error: unknown) => {
      logger.error(
        { err: String(error), roomId: room.roomId, event: def.type },
        'could not append room event',
      );
    });
  };
  room.on('produceradd', (peer, producer) =>
    append(ProducerAdded, {
      ...scope,
      peerId: peer.id,
      producerId: producer.id,
      kind: producer.kind,
      paused: producer.paused,
      appData: producer.appData,
    }),
  );
  room.on('producerclose', (peer, producer, reason) =>
    append(ProducerClosed, { ...scope, peerId: peer.id, producerId: producer.id, reason }),
  );
  room.on('producerpause', (peer, producer) =>
    append(ProducerPaused, { ...scope, peerId: peer.id, producerId: producer.id }),
  );
  room.on('producerresume', (peer, producer) =>
    append(ProducerResumed, { ...scope, peerId: peer.id, producerId: producer.id }),
  );
  room.on('consumerclose', (peer, consumer, reason) =>
    append(ConsumerClosed, {
      ...scope,
      peerId: peer.id,
      consumerId: consumer.id,
      producerId: consumer.producerId,
      reason,
    }),
  );
  room.on('consumerlayerschange', (peer, consumer, layers) =>
    append(ConsumerLayersChanged, {
      ...scope,
      peerId: peer.id,
      consumerId: consumer.id,
      layers: layers ? { spatialLayer: layers.spatialLayer, temporalLayer: layers.temporalLayer } : null,
    }),
  );
  const scores = new ScoreThrottle();
  room.on('consumerscore', (peer, consumer, score) => {
    if (!scores.shouldPublish(consumer.id, score.score)) return;
    append(ConsumerScore, {
      ...scope,
      peerId: peer.id,
      consumerId: consumer.id,
      score: score.score,
      producerScore: score.producerScore,
    });
  });
  room.on('consumerclose', (_peer, consumer) => scores.forget(consumer.id));
  room.on('activespeaker', (peer, producer) =>
    append(ActiveSpeaker, { ...scope, peerId: peer.id, producerId: producer.id }),
  );
  room.on('transportclose', (peer, transport, reason) =>
    append(TransportClosed, { ...scope, peerId: peer.id, transportId: transport.id, reason }),
  );
  room.on('close', (reason, peerIds) => append(RoomClosed, { ...scope, reason, peerIds }));
}

/**
 * Scores move every few seconds for each of a call's consumers (a 50-person call has ~5,000):
 * publishing each move would flood the room stream. A score is published when it moves a lot,
 * or when it changed and the consumer's last publication is older than `intervalMs`.
 */
export class ScoreThrottle {
  readonly #last = new Map<string, { score: number; at: number }>();

  constructor(
    private readonly intervalMs = 2000,
    private readonly bigStep = 3,
    private readonly now: () => number = Date.now,
  ) {}

  shouldPublish(consumerId: string, score: number): boolean {
    const last = this.#last.get(consumerId);
    const at = this.now();
    const publish =
      last === undefined ||
      Math.abs(score - last.score) >= this.bigStep ||
      (score !== last.score && at - last.at >= this.intervalMs);
    if (publish) this.#last.set(consumerId, { score, at });
    return publish;
  }

  forget(consumerId: string): void {
    this.#last.delete(consumerId);
  }
}
