import { z } from 'zod';
import { defineCommand, defineEvent } from '../catalog';

/** Node states, as LiveKit's: only a SERVING node with fresh stats takes new work. */
export const NodeState = z.enum(['starting', 'serving', 'draining', 'stopped']);
export type NodeState = z.infer<typeof NodeState>;

export const NodeKind = z.enum(['signaling', 'sfu', 'persister']);
export type NodeKind = z.infer<typeof NodeKind>;

/** Liveness and identity check of any node that serves commands. */
export const NodePing = defineCommand({
  type: 'node.ping',
  request: z.object({ echo: z.string().max(1024).optional() }),
  reply: z.object({
    nodeId: z.string(),
    kind: NodeKind,
    state: NodeState,
    uptimeMs: z.number().nonnegative(),
    echo: z.string().optional(),
  }),
});

/** Fan-out to every node: a node changed state (draining, stopped) and others should react now. */
export const NodeStateChanged = defineEvent({
  type: 'node.state-changed',
  payload: z.object({ nodeId: z.string(), kind: NodeKind, state: NodeState, region: z.string() }),
});

/** One mediasoup worker's share of a node's load; cpuPercent from getResourceUsage over the last beat. */
export const WorkerLoad = z.object({
  pid: z.number().int(),
  routers: z.number().int().nonnegative(),
  transports: z.number().int().nonnegative(),
  producers: z.number().int().nonnegative(),
  consumers: z.number().int().nonnegative(),
  cpuPercent: z.number().nonnegative(),
});
export type WorkerLoad = z.infer<typeof WorkerLoad>;

/** Where a worker's WebRtcServer listens, and the address clients are told to use. */
export const RtcListen = z.object({
  ip: z.string(),
  announcedAddress: z.string().optional(),
  udpPort: z.number().int(),
  tcpPort: z.number().int(),
});

/** What a node publishes in its heartbeat key; node selection reads it. */
export const NodeInfo = z.object({
  nodeId: z.string(),
  kind: NodeKind,
  region: z.string(),
  state: NodeState,
  startedAt: z.number().int(),
  updatedAt: z.number().int(),
  rtc: z.array(RtcListen).default([]),
  workers: z.array(WorkerLoad).default([]),
  /** Consumers one worker takes before the node counts it full (admission control reads it). */
  maxConsumersPerWorker: z.number().int().positive().default(500),
});
export type NodeInfo = z.infer<typeof NodeInfo>;
