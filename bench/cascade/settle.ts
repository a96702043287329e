// Bounded waits on what the nodes report in their heartbeats: a call fully built (every consumer
// and pipe in place, no extra pipe pairs) before it is measured; nothing left after it is torn down.
import { type BuiltCall, expectedLayout } from './call';
import type { Cluster, NodeCounts } from './cluster';

export interface Settled {
  settled: boolean;
  counts: Record<string, NodeCounts>;
}

/** Every node holds exactly the call's consumers and its plain + pipe transports (≤ 5 s). */
export async function settleLayout(cluster: Cluster, call: BuiltCall, timeoutMs = 5_000): Promise<Settled> {
  const layout = expectedLayout(call);
  return cluster.settle(
    (nodeId, c) =>
      c.consumers === layout[nodeId]!.consumers &&
      c.transports === call.plainTransports[nodeId]! + layout[nodeId]!.pipes,
    timeoutMs,
  );
}

/** Every node back to no routers, transports or consumers (≤ 8 s): the call closed everywhere. */
export async function settleEmpty(cluster: Cluster, timeoutMs = 8_000): Promise<Settled> {
  return cluster.settle((_, c) => c.routers === 0 && c.transports === 0 && c.consumers === 0, timeoutMs);
}
