import type { CommandDef, ReplyOf, RequestOf } from '@trellis/protocol';

/** How a room reaches the other nodes of its call: bus requests to `cmd:{nodeId}`. */
export interface RemoteNodes {
  readonly nodeId: string;
  /** This process's id: tells other nodes a restarted node (same node id) from a live one. */
  readonly instanceId: string;
  request<C extends CommandDef>(nodeId: string, def: C, payload: RequestOf<C>): Promise<ReplyOf<C>>;
}

export interface PipeSettings {
  listenIp: string;
  announcedAddress?: string;
  portRange: { min: number; max: number };
  /** Per pipe socket: one socket carries every stream of the call between two nodes. */
  socketBufferBytes?: number;
}

export interface Endpoint {
  ip: string;
  port: number;
  srtpParameters: { cryptoSuite: string; keyBase64: string };
}
