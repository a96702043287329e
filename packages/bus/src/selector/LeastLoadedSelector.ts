import type { NodeInfo } from '@trellis/protocol';
import type { NodeSelector } from './interfaces';
import { loadScore } from './load';

/** The node with the lowest load score (consumer share or CPU, whichever is higher); ties by id. */
export class LeastLoadedSelector implements NodeSelector {
  readonly name = 'least-loaded';

  select(candidates: readonly NodeInfo[]): NodeInfo | undefined {
    let best: NodeInfo | undefined;
    for (const node of candidates) {
      if (!best) {
        best = node;
        continue;
      }
      const diff = loadScore(node) - loadScore(best);
      if (diff < 0 || (diff === 0 && node.nodeId < best.nodeId)) best = node;
    }
    return best;
  }
}
