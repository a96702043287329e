import { afterEach, describe, expect, it } from 'vitest';
import {
  createMetricsRegistry,
  type MetricsServer,
  startMetricsServer,
  TelemetryError,
} from '../src/index.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('metric helpers', () => {
  it('prefixes names and returns the same metric for the same name', () => {
    const m = createMetricsRegistry({ service: 'sfu', nodeId: 'a' });
    const c1 = m.counter('producers_total', 'Producers created', ['kind']);
    const c2 = m.counter('producers_total', 'Producers created', ['kind']);
    expect(c2).toBe(c1);
    expect(m.gauge('rooms', 'Rooms open')).toBe(m.gauge('rooms', 'Rooms open'));
    expect(m.histogram('rtt_seconds', 'RTT', [], { buckets: [0.1, 1] })).toBe(
      m.histogram('rtt_seconds', 'RTT'),
    );
    expect(m.registry.getSingleMetric('trellis_producers_total')).toBe(c1);
  });

  it('refuses a same-named metric of another type or label set', () => {
    const m = createMetricsRegistry({ service: 'sfu', nodeId: 'a', prefix: 'x_' });
    m.counter('events_total', 'Events', ['type']);
    expect(() => m.gauge('events_total', 'Events')).toThrowError(TelemetryError);
    expect(() => m.counter('events_total', 'Events', ['kind'])).toThrowError(
      /METRIC_CONFLICT|exists as counter/,
    );
    try {
      m.counter('events_total', 'Events');
    } catch (err) {
      expect((err as TelemetryError).code).toBe('METRIC_CONFLICT');
    }
  });

  it('keeps registries of different services apart', async () => {
    const a = createMetricsRegistry({ service: 'sfu', nodeId: 'a' });
    const b = createMetricsRegistry({ service: 'signaling', nodeId: 'b' });
    a.counter('same_total', 'x').inc();
    b.counter('same_total', 'x').inc(2);
    expect(await a.registry.getSingleMetricAsString('trellis_same_total')).toContain(
      'service="sfu",node="a"} 1',
    );
    expect(await b.registry.getSingleMetricAsString('trellis_same_total')).toContain(
      'service="signaling",node="b"} 2',
    );
  });
});

describe('metrics server', () => {
  it('serves custom and process metrics over HTTP, and /healthz', async () => {
    const m = createMetricsRegistry({ service: 'sfu', nodeId: 'node-1' });
    m.counter('consumers_created_total', 'Consumers created', ['kind']).inc({ kind: 'video' }, 3);
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: m.registry });
    servers.push(server);
    expect(server.port).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${server.port}`;

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const body = await res.text();
    expect(body).toContain('# HELP trellis_consumers_created_total Consumers created');
    expect(body).toMatch(/trellis_consumers_created_total\{kind="video",service="sfu",node="node-1"\} 3/);
    expect(body).toMatch(/^process_cpu_user_seconds_total\{service="sfu",node="node-1"\} /m);
    expect(body).toContain('nodejs_eventloop_lag_seconds');

    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok\n');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('reports unhealthy from the health check, and 500 when collection fails', async () => {
    let healthy = false;
    const m = createMetricsRegistry({ service: 'sfu', nodeId: 'n' });
    m.gauge('broken', 'Throws on collect', [], {
      collect() {
        throw new Error('boom');
      },
    });
    const server = await startMetricsServer({ port: 0, registry: m.registry, healthCheck: () => healthy });
    servers.push(server);
    const base = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(503);
    healthy = true;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('boom');
  });

  it('rejects when the port is taken and closes promptly with keep-alive clients', async () => {
    const m = createMetricsRegistry({ service: 's', nodeId: 'n' });
    const first = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: m.registry });
    await expect(
      startMetricsServer({ host: '127.0.0.1', port: first.port, registry: m.registry }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await fetch(`http://127.0.0.1:${first.port}/metrics`, { headers: { connection: 'keep-alive' } });
    await first.close();
  });
});
