import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionQuality, type ConnectionQualityEvent } from '../src/ConnectionQuality';
import type { StatsSource } from '../src/statsSources';

type Rate = { received: number; lost: number };

/**
 * A stats source whose inbound streams advance at every poll by the rate the test sets, the way a
 * receiver's counters grow; `flow({})` ends every stream, a new id starts one from zero.
 */
function streams(): { source: StatsSource; flow: (rates: Record<string, Rate>) => void } {
  let rates: Record<string, Rate> = {};
  const counters = new Map<string, { packetsReceived: number; packetsLost: number; bytesReceived: number }>();
  const source: StatsSource = async () => {
    const report = new Map<string, Record<string, unknown>>();
    for (const [id, rate] of Object.entries(rates)) {
      const c = counters.get(id) ?? { packetsReceived: 0, packetsLost: 0, bytesReceived: 0 };
      const next = {
        packetsReceived: c.packetsReceived + rate.received,
        packetsLost: c.packetsLost + rate.lost,
        bytesReceived: c.bytesReceived + rate.received * 1000,
      };
      counters.set(id, next);
      report.set(id, { type: 'inbound-rtp', id, ...next });
    }
    report.set('pair', {
      type: 'candidate-pair',
      nominated: true,
      state: 'succeeded',
      currentRoundTripTime: 0.02,
    });
    return report as unknown as RTCStatsReport;
  };
  return { source, flow: (next) => (rates = next) };
}

describe('ConnectionQuality', () => {
  let quality: ConnectionQuality | undefined;
  afterEach(() => quality?.close());

  const nextChange = (q: ConnectionQuality) =>
    new Promise<ConnectionQualityEvent>((resolve) => q.once('change', resolve));

  it('rates loss between two polls, and a path switch to fresh streams is not "lost"', async () => {
    const s = streams();
    s.flow({ a: { received: 100, lost: 0 } });
    quality = new ConnectionQuality({ sources: () => [s.source], intervalMs: 20 });
    const first = await nextChange(quality);
    expect(first.quality).toBe('excellent');
    expect(first.rttMs).toBe(20);
    expect(first.inboundKbps).toBeGreaterThan(0);

    // P2P → SFU: the old stream is gone and a new one starts. That poll has nothing to compare, so
    // the rating stays; afterwards the new stream is rated.
    const seen: string[] = [];
    quality.on('change', (e) => seen.push(e.quality));
    s.flow({ b: { received: 100, lost: 0 } });
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([]);
    expect(quality.current?.quality).toBe('excellent');

    s.flow({ b: { received: 90, lost: 10 } });
    expect((await nextChange(quality)).quality).toBe('poor');

    // Still reported, nothing arriving: lost.
    s.flow({ b: { received: 0, lost: 0 } });
    expect((await nextChange(quality)).quality).toBe('lost');
  });
});
