// The SFU's own view of a peer, asked over the cluster bus as signaling asks it.
// @trellis/bus and @trellis/telemetry are not (yet) devDependencies of this package, so their
// sources are imported by path; their own dependencies resolve from their package directories.

import { RedisBus } from '@trellis/bus';
import { GetPeerStats } from '@trellis/protocol';
import { createLogger, createMetricsRegistry } from '@trellis/telemetry';

export type PeerStats = Awaited<ReturnType<SfuStatsReader['peer']>>;

export class SfuStatsReader {
  private constructor(private readonly bus: RedisBus) {}

  static async connect(redisUrl: string): Promise<SfuStatsReader> {
    const nodeId = `loadtest-stats-${process.pid}`;
    const bus = await RedisBus.connect({
      nodeId,
      redis: { mode: 'single', url: redisUrl, keyPrefix: 'trellis:' },
      logger: createLogger({ service: 'loadtest-test', nodeId, level: 'warn' }),
      metrics: createMetricsRegistry({ service: 'loadtest-test', nodeId }),
    });
    return new SfuStatsReader(bus);
  }

  peer(nodeId: string, roomId: string, peerId: string) {
    return this.bus.commands.request(nodeId, GetPeerStats, { roomId, peerId }, { timeoutMs: 10_000 });
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}

/** A counter of mediasoup's stats entries of `type`, summed (a simulcast producer has one per layer). */
export function sumOf(
  stats: Array<Record<string, unknown>>,
  type: 'inbound-rtp' | 'outbound-rtp',
  field: 'packetCount' | 'packetsLost' | 'byteCount',
): number {
  return stats
    .filter((s) => s.type === type)
    .reduce((n, s) => n + (typeof s[field] === 'number' ? (s[field] as number) : 0), 0);
}
