import type { MetricsRegistry } from '@trellis/telemetry';
import type { SfuNode } from './SfuNode';

/**
 * Node gauges are read at scrape time from the live objects (no bookkeeping to drift); counters
 * count what happened.
 */
export function observeSfuMetrics(node: SfuNode, metrics: MetricsRegistry): void {
  const perWorker = (name: string, help: string, read: (i: number) => number) => {
    metrics.gauge(name, help, ['worker'], {
      collect() {
        this.reset();
        for (const [i, handle] of node.pool.handles.entries())
          this.set({ worker: String(handle.index) }, read(i));
      },
    });
  };
  const counts = (i: number) => node.pool.handles[i]!.counts;
  perWorker('sfu_routers', 'mediasoup routers per worker', (i) => counts(i).routers);
  perWorker('sfu_transports', 'WebRTC and pipe transports per worker', (i) => counts(i).transports);
  perWorker('sfu_producers', 'Producers per worker', (i) => counts(i).producers);
  perWorker('sfu_consumers', 'Consumers per worker', (i) => counts(i).consumers);
  perWorker(
    'sfu_worker_cpu_percent',
    'Worker CPU over the last heartbeat, percent of one core',
    (i) => node.pool.handles[i]!.cpuPercent,
  );
  metrics.gauge('sfu_rooms', 'Rooms on this node', [], {
    collect() {
      this.set(node.rooms.size);
    },
  });
  metrics.gauge('sfu_pipe_transports', 'PipeTransport pairs to other nodes, over all rooms', [], {
    collect() {
      let links = 0;
      for (const room of node.rooms.values()) links += room.span.nodeIds.length;
      this.set(links);
    },
  });
  metrics.gauge('sfu_piped_producers', 'Producers piped in from other nodes', [], {
    collect() {
      let piped = 0;
      for (const room of node.rooms.values()) piped += room.importedCount;
      this.set(piped);
    },
  });
  const deaths = metrics.counter('sfu_worker_deaths_total', 'mediasoup workers that died and were replaced');
  node.pool.on('workerdied', () => deaths.inc());
}
