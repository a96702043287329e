import type { NodeInfo } from '@trellis/protocol';
import type { NodeSelector, SelectionRequest } from './interfaces';

/**
 * The caller's region first, then the nearest region that has a candidate, by the operator's
 * distance table (`nearest[region]` lists other regions nearest first); within a region the inner
 * selector decides. Without a table or a region, every candidate counts as near.
 */
export class RegionAwareSelector implements NodeSelector {
  readonly name = 'region-aware';

  constructor(
    private readonly inner: NodeSelector,
    private readonly nearest: Readonly<Record<string, readonly string[]>> = {},
  ) {}

  select(candidates: readonly NodeInfo[], request: SelectionRequest): NodeInfo | undefined {
    if (!request.region) return this.inner.select(candidates, request);
    const order = [request.region, ...(this.nearest[request.region] ?? [])];
    for (const region of order) {
      const inRegion = candidates.filter((n) => n.region === region);
      if (inRegion.length > 0) return this.inner.select(inRegion, request);
    }
    // No listed region has room: any node beats refusing the call.
    return this.inner.select(candidates, request);
  }
}
