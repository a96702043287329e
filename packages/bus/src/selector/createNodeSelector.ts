import type { NodeSelector } from './interfaces';
import { LeastLoadedSelector } from './LeastLoadedSelector';
import { PowerOfTwoSelector } from './PowerOfTwoSelector';
import { RegionAwareSelector } from './RegionAwareSelector';

export type SelectorKind = 'least-loaded' | 'power-of-two' | 'region-aware';

/** Built from configuration at start-up; region-aware wraps power-of-two within each region. */
export function createNodeSelector(
  kind: SelectorKind,
  opts: { nearest?: Readonly<Record<string, readonly string[]>>; random?: () => number } = {},
): NodeSelector {
  switch (kind) {
    case 'least-loaded':
      return new LeastLoadedSelector();
    case 'power-of-two':
      return new PowerOfTwoSelector(opts.random);
    case 'region-aware':
      return new RegionAwareSelector(new PowerOfTwoSelector(opts.random), opts.nearest);
  }
}
