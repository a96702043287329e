import type { NodeInfo } from '@trellis/protocol';

export function consumerCapacity(node: NodeInfo): number {
  return node.workers.length * node.maxConsumersPerWorker;
}

export function consumerCount(node: NodeInfo): number {
  return node.workers.reduce((sum, w) => sum + w.consumers, 0);
}

/** Fraction of the node's consumer capacity in use, 0..1+ (0 for a node with no workers is wrong: 1). */
export function consumerLoad(node: NodeInfo): number {
  const capacity = consumerCapacity(node);
  return capacity === 0 ? 1 : consumerCount(node) / capacity;
}

/** Mean worker CPU in percent of a core. */
export function cpuLoad(node: NodeInfo): number {
  return node.workers.length === 0
    ? 100
    : node.workers.reduce((sum, w) => sum + w.cpuPercent, 0) / node.workers.length;
}

/**
 * One number to compare nodes by: the busier of consumer share and CPU share. Either running out
 * hurts media, so the scarcer one decides.
 */
export function loadScore(node: NodeInfo): number {
  return Math.max(consumerLoad(node), cpuLoad(node) / 100);
}

export function hasRoomFor(node: NodeInfo, consumers: number): boolean {
  return consumerCount(node) + consumers <= consumerCapacity(node);
}

/**
 * Nodes that may take new work: serving (never draining, stopped or starting), heard from within
 * `maxAgeMs` (a node whose entry is stale may be gone), and with room for `consumers` more.
 */
export function availableNodes(
  nodes: readonly NodeInfo[],
  opts: { now?: number; maxAgeMs: number; consumers?: number },
): NodeInfo[] {
  const now = opts.now ?? Date.now();
  return nodes.filter(
    (n) =>
      n.kind === 'sfu' &&
      n.state === 'serving' &&
      now - n.updatedAt <= opts.maxAgeMs &&
      hasRoomFor(n, opts.consumers ?? 0),
  );
}
