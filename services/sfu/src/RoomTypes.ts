import type { types } from 'mediasoup';
import type { Peer } from './Peer';
import type { WorkerHandle } from './WorkerHandle';

export type RoomCloseReason = 'empty' | 'worker-died' | 'node-stopping';
export type ProducerCloseReason = 'closed-by-peer' | 'transport-closed' | 'peer-left' | 'room-closed';
export type ConsumerCloseReason = 'producer-closed' | 'transport-closed' | 'closed';
export type TransportCloseReason = 'closed' | 'dtls-failed' | 'ice-failed' | 'peer-left' | 'room-closed';

/** What happens in a room, as the node reports it on the room's event stream. */
export type RoomEvents = {
  produceradd: [peer: Peer, producer: types.Producer];
  producerclose: [peer: Peer, producer: types.Producer, reason: ProducerCloseReason];
  producerpause: [peer: Peer, producer: types.Producer];
  producerresume: [peer: Peer, producer: types.Producer];
  consumerclose: [peer: Peer, consumer: types.Consumer, reason: ConsumerCloseReason];
  consumerlayerschange: [peer: Peer, consumer: types.Consumer, layers: types.ConsumerLayers | undefined];
  consumerscore: [peer: Peer, consumer: types.Consumer, score: types.ConsumerScore];
  activespeaker: [peer: Peer, producer: types.Producer];
  transportclose: [peer: Peer, transport: types.Transport, reason: TransportCloseReason];
  close: [reason: RoomCloseReason, peerIds: string[]];
};

/** One of a room's routers: the first is its home; more are added on other workers when it grows. */
export interface RoomRouter {
  handle: WorkerHandle;
  router: types.Router;
}

export interface RoomTransportSettings {
  initialAvailableOutgoingBitrate: number;
  maxIncomingBitrate: number;
}
