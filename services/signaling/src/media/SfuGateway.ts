import type { CommandSender, RoomPlacement } from '@trellis/bus';
import type { CommandDef, ReplyOf, RequestOf } from '@trellis/protocol';
import { ClosePeer } from '@trellis/protocol';
import type { Logger } from 'pino';

export interface SfuGatewayOptions {
  commands: CommandSender;
  placement: RoomPlacement;
  region: string;
  logger: Logger;
  timeoutMs?: number;
}

/**
 * Signaling's only way to the media plane: commands to one SFU node over the bus, and the choice of
 * node for a participant (the call's home while it fits, spilling to other nodes, see RoomPlacement).
 */
export class SfuGateway {
  readonly #o: SfuGatewayOptions;

  constructor(options: SfuGatewayOptions) {
    this.#o = options;
  }

  request<C extends CommandDef>(
    nodeId: string,
    def: C,
    payload: RequestOf<C>,
    correlationId?: string,
  ): Promise<ReplyOf<C>> {
    return this.#o.commands.request(nodeId, def, payload, {
      ...(this.#o.timeoutMs === undefined ? {} : { timeoutMs: this.#o.timeoutMs }),
      ...(correlationId === undefined ? {} : { correlationId }),
    });
  }

  /** A node for a participant of a call of `participants` people (each consumes about two streams of each other). */
  nodeFor(roomId: string, participants: number): Promise<string> {
    return this.#o.placement.nodeForParticipant(roomId, {
      region: this.#o.region,
      consumers: Math.max(0, participants - 1) * 2,
    });
  }

  /** Releases a participant's transports, producers and consumers on a node; a node that is gone is ignored. */
  async closePeer(roomId: string, participantId: string, nodeId: string): Promise<void> {
    try {
      await this.request(nodeId, ClosePeer, { roomId, peerId: participantId });
    } catch (error) {
      this.#o.logger.warn(
        { roomId, participantId, nodeId, err: error instanceof Error ? error.message : error },
        'could not release SFU peer',
      );
    }
  }

  releaseCall(roomId: string): Promise<void> {
    return this.#o.placement.release(roomId);
  }
}
