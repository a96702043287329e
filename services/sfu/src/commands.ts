import type { CommandReceiver } from '@trellis/bus';
import {
  ClosePeer,
  CloseProducer,
  ConnectPlainTransport,
  ConnectTransport,
  Consume,
  CreatePlainTransport,
  CreateWebRtcTransport,
  DrainNode,
  GetPeerStats,
  GetRouterCapabilities,
  PauseConsumer,
  PauseProducer,
  Produce,
  RestartIce,
  ResumeConsumer,
  ResumeProducer,
  SetConsumerPreferences,
} from '@trellis/protocol';
import type { types } from 'mediasoup';
import { peerStats } from './peerStats';
import type { SfuNode } from './SfuNode';

/**
 * The node's command table: each protocol command mapped onto Room/Peer. Validation already
 * happened at the bus boundary; lookups throw ROOM_/PEER_/TRANSPORT_/PRODUCER_/CONSUMER_NOT_FOUND,
 * and mediasoup's own errors arrive converted (mediaErrors.ts).
 */
export function serveSfuCommands(server: CommandReceiver, node: SfuNode): void {
  const peer = (roomId: string, peerId: string) => node.room(roomId).peer(peerId);

  server
    .handle(GetRouterCapabilities, async ({ roomId }) => {
      const room = await node.getOrCreateRoom(roomId);
      return { rtpCapabilities: room.rtpCapabilities };
    })
    .handle(CreateWebRtcTransport, async ({ roomId, peerId, direction, preferTcp, enableSctp, appData }) => {
      const owner = await node.peerFor(roomId, peerId);
      const transport = await owner.createWebRtcTransport({
        direction,
        preferTcp,
        enableSctp,
        ...(appData === undefined ? {} : { appData }),
      });
      return {
        transportId: transport.id,
        iceParameters: transport.iceParameters,
        iceCandidates: transport.iceCandidates,
        dtlsParameters: transport.dtlsParameters,
        ...(transport.sctpParameters ? { sctpParameters: transport.sctpParameters } : {}),
      };
    })
    .handle(ConnectTransport, async ({ roomId, peerId, transportId, dtlsParameters }) => {
      await peer(roomId, peerId).connectTransport(transportId, dtlsParameters as types.DtlsParameters);
      return { transportId };
    })
    .handle(
      CreatePlainTransport,
      async ({ roomId, peerId, direction, comedia, rtcpMux, enableSrtp, appData }) => {
        const owner = await node.peerFor(roomId, peerId);
        const transport = await owner.createPlainTransport({
          direction,
          comedia,
          rtcpMux,
          enableSrtp,
          ...(appData === undefined ? {} : { appData }),
        });
        return {
          transportId: transport.id,
          ip: transport.tuple.localAddress,
          port: transport.tuple.localPort,
          ...(transport.rtcpTuple ? { rtcpPort: transport.rtcpTuple.localPort } : {}),
          ...(transport.srtpParameters ? { srtpParameters: transport.srtpParameters } : {}),
        };
      },
    )
    .handle(
      ConnectPlainTransport,
      async ({ roomId, peerId, transportId, ip, port, rtcpPort, srtpParameters }) => {
        await peer(roomId, peerId).connectPlainTransport(transportId, {
          ip,
          port,
          rtcpPort,
          srtpParameters: srtpParameters as types.SrtpParameters | undefined,
        });
        return { transportId };
      },
    )
    .handle(RestartIce, async ({ roomId, peerId, transportId }) => ({
      iceParameters: await peer(roomId, peerId).restartIce(transportId),
    }))
    .handle(Produce, async ({ roomId, peerId, transportId, kind, rtpParameters, paused, appData }) => {
      const producer = await peer(roomId, peerId).produce({
        transportId,
        kind,
        rtpParameters: rtpParameters as types.RtpParameters,
        paused,
        ...(appData === undefined ? {} : { appData }),
      });
      return { producerId: producer.id };
    })
    .handle(PauseProducer, async ({ roomId, peerId, producerId }) => {
      const producer = await peer(roomId, peerId).setProducerPaused(producerId, true);
      return { producerId, paused: producer.paused };
    })
    .handle(ResumeProducer, async ({ roomId, peerId, producerId }) => {
      const producer = await peer(roomId, peerId).setProducerPaused(producerId, false);
      return { producerId, paused: producer.paused };
    })
    .handle(CloseProducer, async ({ roomId, peerId, producerId }) => {
      await peer(roomId, peerId).closeProducer(producerId);
      return { producerId };
    })
    .handle(
      Consume,
      async ({
        roomId,
        peerId,
        transportId,
        producerId,
        rtpCapabilities,
        preferredLayers,
        producerNodeId,
        appData,
      }) => {
        const consumer = await peer(roomId, peerId).consume({
          transportId,
          producerId,
          rtpCapabilities: rtpCapabilities as types.RtpCapabilities,
          ...(preferredLayers === undefined ? {} : { preferredLayers }),
          ...(producerNodeId === undefined ? {} : { producerNodeId }),
          ...(appData === undefined ? {} : { appData }),
        });
        return {
          consumerId: consumer.id,
          producerId,
          kind: consumer.kind,
          rtpParameters: consumer.rtpParameters,
          type: consumer.type,
          paused: consumer.paused,
          producerPaused: consumer.producerPaused,
        };
      },
    )
    .handle(PauseConsumer, async ({ roomId, peerId, consumerId }) => {
      const consumer = await peer(roomId, peerId).setConsumerPaused(consumerId, true);
      return { consumerId, paused: consumer.paused };
    })
    .handle(ResumeConsumer, async ({ roomId, peerId, consumerId }) => {
      const consumer = await peer(roomId, peerId).setConsumerPaused(consumerId, false);
      return { consumerId, paused: consumer.paused };
    })
    .handle(SetConsumerPreferences, async ({ roomId, peerId, consumerId, preferredLayers, priority }) => {
      const consumer = await peer(roomId, peerId).setConsumerPreferences(consumerId, {
        preferredLayers,
        priority,
      });
      return {
        consumerId,
        ...(consumer.preferredLayers ? { preferredLayers: consumer.preferredLayers } : {}),
        priority: consumer.priority,
      };
    })
    .handle(GetPeerStats, async ({ roomId, peerId }) => peerStats(peer(roomId, peerId)))
    .handle(DrainNode, async ({ maxMs }) => {
      void node.drain(maxMs);
      return { state: node.state, deadline: node.drainDeadline ?? Date.now() + (maxMs ?? 0) };
    })
    .handle(ClosePeer, async ({ roomId, peerId }) => {
      // Idempotent: leaving twice (a retry after a lost reply) is not an error.
      const room = node.findRoom(roomId);
      const owner = room?.peers.get(peerId);
      owner?.close();
      return { closed: owner !== undefined };
    });
}
