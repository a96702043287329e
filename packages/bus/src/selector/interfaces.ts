import type { NodeInfo } from '@trellis/protocol';

export interface SelectionRequest {
  /** The caller's region: region-aware selection tries it first. */
  region?: string | undefined;
  /** Consumers the new participant will add (about 2 per other participant). */
  consumers?: number | undefined;
}

/**
 * Chooses a node among candidates that are already known to be available (serving, fresh, with
 * room): see `availableNodes`. Returns undefined when none fits.
 */
export interface NodeSelector {
  readonly name: string;
  select(candidates: readonly NodeInfo[], request: SelectionRequest): NodeInfo | undefined;
}
