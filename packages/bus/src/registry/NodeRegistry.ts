import type { NodeInfo } from '@trellis/protocol';

/**
 * Where nodes announce themselves. An entry lives as long as its node keeps beating: a node that
 * stops (crash, partition) disappears after its TTL, which is how the cluster learns it is gone.
 */
export interface NodeRegistry {
  /** Writes (or refreshes) a node's entry for `ttlMs`. */
  publish(info: NodeInfo, ttlMs: number): Promise<void>;
  remove(nodeId: string): Promise<void>;
  get(nodeId: string): Promise<NodeInfo | undefined>;
  /** Every live node; entries whose TTL ran out are pruned from the index as a side effect. */
  list(): Promise<NodeInfo[]>;
  /**
   * Like list(), and also names the nodes whose entries expired and that this caller pruned.
   * Pruning is atomic per node, so each lost node is reported to exactly one caller cluster-wide.
   */
  sweep(): Promise<{ live: NodeInfo[]; lost: string[] }>;
}
