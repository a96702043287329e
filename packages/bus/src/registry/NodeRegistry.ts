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
  /**
   * Declares a node lost before its TTL ran out (its connections closed): removes its entry. True
   * for exactly one caller cluster-wide, as with sweep(); false if it was gone already.
   */
  claimLost(nodeId: string): Promise<boolean>;
  /**
   * Keeps a lost node out of list() for a while if it comes back, longer each time it was lost
   * recently (a node in a crash loop is not handed calls every few seconds). Returns the hold in ms.
   */
  holdBack(nodeId: string, policy: HoldBackPolicy): Promise<number>;
}

export interface HoldBackPolicy {
  /** The first loss's hold; each further loss within `memoryMs` doubles it. */
  baseMs: number;
  maxMs: number;
  /** Losses are forgotten after this long without one. */
  memoryMs: number;
}

export const DEFAULT_HOLD_BACK: HoldBackPolicy = { baseMs: 5_000, maxMs: 300_000, memoryMs: 600_000 };
