import { NodeState } from '@trellis/protocol';
import type { MetricsRegistry } from '@trellis/telemetry';
import { MediaStatsSampler } from './MediaStatsSampler';
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
  metrics.gauge('sfu_node_state', "This node's state: 1 for the current one", ['state'], {
    collect() {
      for (const state of NodeState.options) this.set({ state }, state === node.state ? 1 : 0);
    },
  });
  observeMediaStats(new MediaStatsSampler(node), metrics);
}

function observeMediaStats(sampler: MediaStatsSampler, metrics: MetricsRegistry): void {
  metrics.gauge(
    'sfu_bitrate_bps',
    'Bits/s through client transports, in (from clients) and out',
    ['direction'],
    {
      async collect() {
        const s = await sampler.sample();
        this.set({ direction: 'in' }, s.bitrateIn);
        this.set({ direction: 'out' }, s.bitrateOut);
      },
    },
  );
  metrics.gauge(
    'sfu_packet_loss_ratio',
    'RTCP fraction lost (0-1), mean over inbound (producer) and outbound (consumer) streams',
    ['direction'],
    {
      async collect() {
        const s = await sampler.sample();
        this.set({ direction: 'in' }, s.lossIn);
        this.set({ direction: 'out' }, s.lossOut);
      },
    },
  );
  metrics.gauge(
    'sfu_packets_lost',
    'Packets lost so far on the streams alive now, inbound and outbound',
    ['direction'],
    {
      async collect() {
        const s = await sampler.sample();
        this.set({ direction: 'in' }, s.packetsLostIn);
        this.set({ direction: 'out' }, s.packetsLostOut);
      },
    },
  );
  metrics.gauge(
    'sfu_rtt_seconds',
    'Round trip to receiving clients (RTCP), mean and max over consumers',
    ['stat'],
    {
      async collect() {
        const s = await sampler.sample();
        this.set({ stat: 'mean' }, s.rttMean);
        this.set({ stat: 'max' }, s.rttMax);
      },
    },
  );
  metrics.gauge('sfu_sampled_streams', 'RTP streams the last scrape read stats of (capped per scrape)', [], {
    async collect() {
      this.set((await sampler.sample()).streams);
    },
  });
}
