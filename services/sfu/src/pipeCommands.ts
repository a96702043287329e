import type { CommandReceiver } from '@trellis/bus';
import { PipeClose, PipeConnect, PipedProducerState, PipeProducer } from '@trellis/protocol';
import type { SfuNode } from './SfuNode';

/** The node-to-node half of the command table: what other SFU nodes of a call ask of this one. */
export function servePipeCommands(server: CommandReceiver, node: SfuNode): void {
  server
    .handle(PipeConnect, async ({ roomId, fromNodeId, ...request }) =>
      node.room(roomId).span.accept(fromNodeId, request),
    )
    .handle(PipeProducer, async ({ roomId, toNodeId, linkId, producerId }) =>
      node.room(roomId).span.exportProducer(toNodeId, linkId, producerId),
    )
    .handle(PipedProducerState, async ({ roomId, fromNodeId, producerId, state }) => {
      const room = node.findRoom(roomId);
      return { applied: room ? await room.span.applyProducerState(fromNodeId, producerId, state) : false };
    })
    .handle(PipeClose, async ({ roomId, fromNodeId }) => {
      const room = node.findRoom(roomId);
      return { closed: room ? await room.span.drop(fromNodeId, false) : false };
    });
}
