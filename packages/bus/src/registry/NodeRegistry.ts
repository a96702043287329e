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
  /** Every live node (not held back). Reading has no side effects: losses are the monitor's to claim. */
  list(): Promise<NodeInfo[]>;
  /** Nodes still in the index whose entries expired: lost, unless they beat again soon. */
  expired(): Promise<string[]>;
  /**
   * Declares a node lost (its entry expired, or its connections closed): removes it from the index
   * and its entry. True for exactly one caller cluster-wide; false if it was claimed already.
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
