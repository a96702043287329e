import type { NodeInfo } from '@trellis/protocol';
import type { NodeSelector } from './interfaces';
import { loadScore } from './load';

/**
 * Two random candidates, the less loaded wins. With many signaling nodes placing calls from the
 * same (seconds-old) load reports, least-loaded sends every call to one node until its next beat;
 * two random choices spread them and still avoid the busy ones.
 */
export class PowerOfTwoSelector implements NodeSelector {
  readonly name = 'power-of-two';

  constructor(private readonly random: () => number = Math.random) {}

  select(candidates: readonly NodeInfo[]): NodeInfo | undefined {
    if (candidates.length <= 1) return candidates[0];
    const i = Math.floor(this.random() * candidates.length);
    let j = Math.floor(this.random() * (candidates.length - 1));
    if (j >= i) j++;
    const a = candidates[i]!;
    const b = candidates[j]!;
    return loadScore(b) < loadScore(a) ? b : a;
  }
}
