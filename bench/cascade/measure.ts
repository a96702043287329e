// One measurement window over a built call: loss and latency at the probes (same-node and
// cross-node streams apart), the packets each node must forward (consumer counts x the measured
// packet rates of their sources), CPU per node from /proc, and what the nodes report of themselves.
import type { OutStream } from '../sfu-forwarding/traffic';
import {
  cpuMeter,
  type MachineCpu,
  machineCpuMeter,
  round,
  selfCpuMeter,
  sleep,
} from '../sfu-forwarding/util';
import { type BuiltCall, expectedLayout } from './call';
import type { Cluster } from './cluster';
import { dropsBetween, kernelCounters, udpSnapshot } from './kernel';

type LatencySummary = ReturnType<BuiltCall['traffic']['sameNode']['latency']['summary']>;

export interface NodeWindow {
  participants: number;
  consumers: { expected: number; reported_by_node: number };
  pipe_transports: { expected: number; reported_by_node: number };
  forwarded_packets_per_second: { to_subscribers: number; into_pipes: number; total: number };
  worker_cpu_pct_of_core: number;
  worker_us_per_forwarded_packet: number;
  /** The node's Node.js process: bus commands, pipe RPC, heartbeats. */
  node_process_cpu_pct: number;
}

export interface CallWindow {
  window_s: number;
  loss: {
    overall_pct: number;
    same_node_pct: number;
    cross_node_pct: number;
    worst_stream_pct: number;
    worst_stream: string;
    streams_measured: number;
    streams_over_1pct: number;
    /** "subscriber node < publisher node" → loss over the probes' streams on that path. */
    by_path_pct: Record<string, number>;
  };
  latency: {
    same_node: LatencySummary;
    cross_node: LatencySummary;
    /** cross-node minus same-node, quantile by quantile: what the pipe hop adds. */
    hop_added_ms: { p50: number; p95: number; p99: number };
  };
  nodes: Record<string, NodeWindow>;
  forwarded_packets_per_second_total: number;
  sent_packets_per_second: number;
  load_generator_cpu_pct: number;
  machine_cpu: MachineCpu;
  /**
   * Machine-wide, per second: ICMP port-unreachables (one per packet to an unbound sink port), UDP
   * datagrams to no socket, and datagrams dropped at a full socket buffer (an SFU input socket, a
   * probe, or the unread sink).
   */
  kernel_per_second: Record<string, number>;
  /**
   * Datagrams dropped at full receive buffers in the window, per socket group (/proc/net/udp): the
   * sfu pipe transports (port range 21000-21999), the probes' sockets, the unread sink, every other
   * UDP socket on 127.0.0.1 (the sfu PlainTransports' among them); and the fullest queue of each at the end.
   */
  udp_drops_in_window: Record<string, number>;
  udp_max_queue_bytes_at_end: Record<string, number>;
  odd_packets: Record<string, number>;
}

export async function measureCall(
  cluster: Cluster,
  call: BuiltCall,
  timing: { windowMs: number; graceMs: number },
): Promise<CallWindow> {
  const { publishers, sameNode, crossNode } = call.traffic;
  const nodeIds = call.plan.nodeIds;
  const meters = await Promise.all(
    nodeIds.map(async (nodeId) => ({
      worker: cpuMeter(await cluster.workerPids(nodeId)),
      node: cpuMeter([cluster.node(nodeId).nodePid]),
    })),
  );
  const streams = call.participants.flatMap((p) => [p.publisher.video, p.publisher.audio]);
  const sent0 = new Map(streams.map((s) => [s, s.sent]));
  const machine = machineCpuMeter();
  const self = selfCpuMeter();
  const kernel0 = kernelCounters();
  const sockets = { probePorts: new Set(call.probePorts), sinkPort: call.sinkPort };
  const udp0 = udpSnapshot(sockets);
  for (const t of [publishers, sameNode, crossNode]) t.openWindow();
  await sleep(timing.windowMs);
  const seconds = publishers.closeWindow();
  sameNode.closeWindow();
  crossNode.closeWindow();
  const cpu = meters.map((m) => ({ worker: m.worker.stop(), node: m.node.stop() }));
  const generator = self.stop();
  const busy = machine.stop();
  const kernel1 = kernelCounters();
  const udp1 = udpSnapshot(sockets);
  const rate = new Map<OutStream, number>(streams.map((s) => [s, (s.sent - sent0.get(s)!) / seconds]));
  await sleep(timing.graceMs);

  // Forwarding each node must do: its consumers' sources, and its producers into each pipe once.
  const toSubscribers: Record<string, number> = Object.fromEntries(nodeIds.map((n) => [n, 0]));
  const intoPipes: Record<string, number> = Object.fromEntries(nodeIds.map((n) => [n, 0]));
  const piped = new Set<string>();
  for (const c of call.consumers) {
    const r = rate.get(c.source) ?? 0;
    toSubscribers[c.nodeId]! += r;
    const key = `${c.producerId}>${c.nodeId}`;
    if (c.sourceNodeId !== c.nodeId && !piped.has(key)) {
      piped.add(key);
      intoPipes[c.sourceNodeId]! += r;
    }
  }
  const layout = expectedLayout(call);
  const nodes: Record<string, NodeWindow> = {};
  for (const [i, nodeId] of nodeIds.entries()) {
    const reported = await cluster.counts(nodeId);
    const forwarded = toSubscribers[nodeId]! + intoPipes[nodeId]!;
    nodes[nodeId] = {
      participants: call.participants.filter((p) => p.nodeId === nodeId).length,
      consumers: { expected: layout[nodeId]!.consumers, reported_by_node: reported.consumers },
      pipe_transports: {
        expected: layout[nodeId]!.pipes,
        reported_by_node: reported.transports - call.plainTransports[nodeId]!,
      },
      forwarded_packets_per_second: {
        to_subscribers: Math.round(toSubscribers[nodeId]!),
        into_pipes: Math.round(intoPipes[nodeId]!),
        total: Math.round(forwarded),
      },
      worker_cpu_pct_of_core: round(cpu[i]!.worker.pctOfCore, 1),
      worker_us_per_forwarded_packet: round(cpu[i]!.worker.preciseUs / seconds / forwarded, 2),
      node_process_cpu_pct: round(cpu[i]!.node.pctOfCore, 1),
    };
  }

  const label = new Map<OutStream, string>();
  for (const p of call.participants) {
    label.set(p.publisher.video, `video of p${p.index} (${p.nodeId})`);
    label.set(p.publisher.audio, `audio of p${p.index} (${p.nodeId})`);
  }
  const lossOf = (e: number, r: number) => (e ? Math.max(0, 1 - r / e) : 0);
  const totals = { all: [0, 0], same: [0, 0], cross: [0, 0] } as Record<string, [number, number]>;
  const paths = new Map<string, [number, number]>();
  let worst = { loss: 0, what: 'none' };
  let over = 0;
  let measured = 0;
  for (const [group, t] of [
    ['same', sameNode],
    ['cross', crossNode],
  ] as const) {
    for (const c of t.consumers) {
      const e = c.source.expected;
      measured++;
      for (const key of ['all', group]) {
        totals[key]![0] += e;
        totals[key]![1] += c.received;
      }
      const path = paths.get(c.call) ?? [0, 0];
      path[0] += e;
      path[1] += c.received;
      paths.set(c.call, path);
      const loss = lossOf(e, c.received);
      if (loss > 0.01) over++;
      if (loss > worst.loss)
        worst = { loss, what: `${label.get(c.source)} at a probe on ${c.call.split('<')[0]}` };
    }
  }
  const pct = ([e, r]: [number, number]) => round(100 * lossOf(e, r), 3);
  const same = sameNode.latency.summary();
  const cross = crossNode.latency.summary();
  const sent = call.participants.reduce(
    (n, p) => n + rate.get(p.publisher.video)! + rate.get(p.publisher.audio)!,
    0,
  );
  const odd: Record<string, number> = {};
  for (const t of [publishers, sameNode, crossNode]) {
    for (const [k, v] of Object.entries(t.odd)) odd[k] = (odd[k] ?? 0) + v;
  }
  return {
    window_s: round(seconds, 2),
    loss: {
      overall_pct: pct(totals.all!),
      same_node_pct: pct(totals.same!),
      cross_node_pct: pct(totals.cross!),
      worst_stream_pct: round(100 * worst.loss, 3),
      worst_stream: worst.what,
      streams_measured: measured,
      streams_over_1pct: over,
      by_path_pct: Object.fromEntries([...paths].sort().map(([k, v]) => [k, pct(v)])),
    },
    latency: {
      same_node: same,
      cross_node: cross,
      hop_added_ms: {
        p50: round(cross.p50_ms - same.p50_ms),
        p95: round(cross.p95_ms - same.p95_ms),
        p99: round(cross.p99_ms - same.p99_ms),
      },
    },
    nodes,
    forwarded_packets_per_second_total: Math.round(
      Object.values(nodes).reduce((n, x) => n + x.forwarded_packets_per_second.total, 0),
    ),
    sent_packets_per_second: Math.round(sent),
    load_generator_cpu_pct: round(generator.pctOfCore, 1),
    machine_cpu: busy,
    kernel_per_second: Object.fromEntries(
      Object.entries(kernel1).map(([k, v]) => [k, Math.round((v - kernel0[k]!) / seconds)]),
    ),
    udp_drops_in_window: dropsBetween(udp0, udp1),
    udp_max_queue_bytes_at_end: udp1.maxQueueBytes,
    odd_packets: odd,
  };
}
