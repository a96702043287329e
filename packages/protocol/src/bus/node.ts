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
