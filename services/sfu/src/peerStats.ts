import type { Peer } from './Peer';

type Stats = Record<string, unknown>[];

/** Everything mediasoup knows about one peer's media, for debugging and the metrics sampler. */
export async function peerStats(peer: Peer) {
  const asRecords = (stats: unknown): Stats => stats as Stats;
  const transports = await Promise.all(
    [...peer.transports.values()].map(async (t) => ({ id: t.id, stats: asRecords(await t.getStats()) })),
  );
  const producers = await Promise.all(
    [...peer.producers.values()].map(async (p) => ({
      id: p.id,
      kind: p.kind,
      score: asRecords(p.score),
      stats: asRecords(await p.getStats()),
    })),
  );
  const consumers = await Promise.all(
    [...peer.consumers.values()].map(async (c) => ({
      id: c.id,
      producerId: c.producerId,
      kind: c.kind,
      paused: c.paused,
      producerPaused: c.producerPaused,
      ...(c.currentLayers
        ? {
            currentLayers: {
              spatialLayer: c.currentLayers.spatialLayer,
              temporalLayer: c.currentLayers.temporalLayer,
            },
          }
        : {}),
      stats: asRecords(await c.getStats()),
    })),
  );
  return { transports, producers, consumers };
}
