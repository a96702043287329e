import type { NodeInfo } from '@trellis/protocol';
import { describe, expect, it } from 'vitest';
import {
  availableNodes,
  consumerLoad,
  createNodeSelector,
  hasRoomFor,
  LeastLoadedSelector,
  loadScore,
} from '../src/selector/index';

function node(
  nodeId: string,
  opts: {
    region?: string;
    consumers?: number[];
    cpu?: number[];
    state?: NodeInfo['state'];
    age?: number;
  } = {},
): NodeInfo {
  const consumers = opts.consumers ?? [0, 0];
  return {
    nodeId,
    kind: 'sfu',
    region: opts.region ?? 'eu-west',
    state: opts.state ?? 'serving',
    startedAt: 0,
    updatedAt: 10_000 - (opts.age ?? 0),
    rtc: [],
    workers: consumers.map((c, i) => ({
      pid: i,
      routers: 1,
      transports: 1,
      producers: 1,
      consumers: c,
      cpuPercent: opts.cpu?.[i] ?? 0,
    })),
    maxConsumersPerWorker: 100,
  };
}

describe('node selection', () => {
  it('never offers draining, stopped, stale or full nodes', () => {
    const nodes = [
      node('ok'),
      node('draining', { state: 'draining' }),
      node('starting', { state: 'starting' }),
      node('stale', { age: 7000 }),
      node('full', { consumers: [100, 95] }),
    ];
    expect(
      availableNodes(nodes, { now: 10_000, maxAgeMs: 6000, consumers: 10 }).map((n) => n.nodeId),
    ).toEqual(['ok']);
    expect(hasRoomFor(node('x', { consumers: [100, 90] }), 10)).toBe(true);
    expect(hasRoomFor(node('x', { consumers: [100, 90] }), 11)).toBe(false);
  });

  it('least-loaded takes the scarcer of consumer share and CPU', () => {
    const busyCpu = node('busy-cpu', { consumers: [10, 10], cpu: [90, 80] });
    const manyConsumers = node('many', { consumers: [60, 60] });
    const idle = node('idle', { consumers: [20, 20], cpu: [10, 10] });
    expect(consumerLoad(manyConsumers)).toBe(0.6);
    expect(loadScore(busyCpu)).toBeCloseTo(0.85);
    expect(new LeastLoadedSelector().select([busyCpu, manyConsumers, idle])?.nodeId).toBe('idle');
    expect(new LeastLoadedSelector().select([node('b'), node('a')])?.nodeId).toBe('a');
    expect(new LeastLoadedSelector().select([])).toBeUndefined();
  });

  it('power-of-two picks the less loaded of two random candidates', () => {
    const nodes = [
      node('a', { consumers: [90, 90] }),
      node('b', { consumers: [10, 10] }),
      node('c', { consumers: [50, 50] }),
    ];
    const draws = [0.0, 0.0]; // i = 0 (a), j = 0 -> skips i -> 1 (b)
    const selector = createNodeSelector('power-of-two', { random: () => draws.shift() ?? 0 });
    expect(selector.select(nodes, {})?.nodeId).toBe('b');
    expect(selector.select([nodes[0]!], {})?.nodeId).toBe('a');
    // Over many draws the most loaded node is never chosen when a lighter one is drawn with it.
    const p2c = createNodeSelector('power-of-two');
    const picks = new Set(Array.from({ length: 200 }, () => p2c.select(nodes, {})?.nodeId));
    expect(picks.has('a')).toBe(false);
  });

  it('region-aware prefers the caller region, then the nearest, then anything', () => {
    const nodes = [
      node('us-1', { region: 'us-east' }),
      node('eu-1', { region: 'eu-central', consumers: [50, 50] }),
    ];
    const selector = createNodeSelector('region-aware', {
      nearest: { 'eu-west': ['eu-central', 'us-east'] },
    });
    expect(selector.select(nodes, { region: 'us-east' })?.nodeId).toBe('us-1');
    expect(selector.select(nodes, { region: 'eu-west' })?.nodeId).toBe('eu-1');
    expect(selector.select([nodes[0]!], { region: 'ap-south' })?.nodeId).toBe('us-1');
    expect(selector.select(nodes, {})?.nodeId).toBeDefined();
    expect(createNodeSelector('least-loaded').name).toBe('least-loaded');
  });
});
