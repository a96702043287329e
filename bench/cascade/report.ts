// The JSON's fixed parts: how things were measured, and the verdicts against the targets
// (one pipe hop adds p95 < 2 ms; a 50-participant call over 3 sfu processes at < 1 % loss).
import { round } from '../sfu-forwarding/util';
import type { HopResult } from './hop';
import type { CallWindow } from './measure';
import type { CallStep, RampResult } from './ramp';

export const METHOD = {
  topology:
    'participant i is a peer on node i mod 3 (17/17/16 for 50); it publishes VP8 + Opus into a comedia ' +
    'PlainTransport and consumes every other participant’s audio plus the videos of the next 9 ' +
    'participants (i+1 … i+9 mod N, so each video has 9 subscribers spread over all nodes); every ' +
    'participant publishes video',
  cross_node:
    'a consumer of a producer on another node names it (Consume.producerNodeId); the consuming node ' +
    'opens one SRTP+RTX PipeTransport pair per (call, node pair) and imports the producer under its id',
  probes:
    'probe participants receive for real on two sockets (same-node streams, cross-node streams); the ' +
    'others’ recv transports send to an unbound 127.0.0.1 port where the kernel drops the packets (and ' +
    'answers each with an ICMP port-unreachable, unrated on loopback: machine softirq time that a real NIC ' +
    'would not cost): the SFUs do the full work, the generator reads only the probes',
  loss:
    'per stream at the probes: packets its publisher sent inside the window (after a warm-up past a key ' +
    'frame) vs those received, matched by payload; < 1 % overall is the criterion, the worst stream is reported',
  latency:
    'receive time minus send time of the same payload, both in the load generator (includes its event-loop ' +
    'delay on a machine it shares with the SFUs); hop_added = cross-node minus same-node, quantile by quantile',
  forwarded_packets_per_second:
    'from counts x rates: each consumer on the node times the packet rate its source sent in the window, ' +
    'plus each of the node’s producers once per node that imported it (its pipe consumer)',
  worker_cpu:
    'utime+stime of the node’s mediasoup worker from /proc/<pid>/stat over the window (percent of one ' +
    'core); per-packet figures use per-thread schedstat (ns) over the forwarded packets',
  node_counts:
    'consumers and transports each node reports in its heartbeat (mediasoup observer counts); pipe ' +
    'transports = reported transports minus the PlainTransports the bench made there',
  load_generator_cpu_pct:
    'this process (pacer, 2 sockets per probe, publishers’ sockets) via process.cpuUsage()',
  machine_cpu: '/proc/stat over the window, all cores: 100 % = both cores busy',
};

const SATURATED_WORKER_PCT = 85;
const SATURATED_MACHINE_PCT = 90;

/** Which process ran out of CPU in a window that lost packets. */
export function diagnose(w: CallWindow): Record<string, unknown> {
  const nodes = Object.entries(w.nodes);
  const workers = nodes.map(([id, n]) => ({ id, pct: n.worker_cpu_pct_of_core }));
  const busiest = workers.reduce((a, b) => (b.pct > a.pct ? b : a));
  const workersSum = round(
    workers.reduce((n, x) => n + x.pct, 0),
    1,
  );
  const nodeProcesses = round(
    nodes.reduce((n, [, x]) => n + x.node_process_cpu_pct, 0),
    1,
  );
  const cores = w.machine_cpu.busy_pct / 50; // of 2 cores, in cores
  let verdict: string;
  if (busiest.pct >= SATURATED_WORKER_PCT) {
    verdict = `the mediasoup worker of ${busiest.id} saturated its core (${busiest.pct} % of a core)`;
  } else if (w.machine_cpu.busy_pct >= SATURATED_MACHINE_PCT) {
    verdict =
      `the machine: both cores busy (${w.machine_cpu.busy_pct} %) with 3 workers (${workersSum} % of a ` +
      `core together), the sfu Node processes (${nodeProcesses} %), the load generator ` +
      `(${w.load_generator_cpu_pct} %) and kernel softirq (${w.machine_cpu.softirq_pct} % of the machine); ` +
      'no single worker was at its core’s limit, so the workers starved each other';
  } else if (w.load_generator_cpu_pct >= SATURATED_WORKER_PCT) {
    verdict = `the load generator (${w.load_generator_cpu_pct} % of a core)`;
  } else {
    verdict = 'no process saturated: see loss.by_path_pct for where it was lost';
  }
  const drops = w.udp_drops_in_window;
  const where =
    w.loss.cross_node_pct > 2 * w.loss.same_node_pct
      ? `The loss was on streams that crossed a pipe (${w.loss.cross_node_pct} % vs ${w.loss.same_node_pct} % ` +
        `same-node); in the window the kernel dropped ${drops.sfu_pipe_transports} datagrams at the sfu pipe ` +
        `transports' full receive buffers (one socket per node pair carries every imported stream), ` +
        `${drops.other_udp_sockets} at other sockets (the sfu PlainTransports among them) and ` +
        `${drops.probe_receivers} at the probes.`
      : `Loss same-node ${w.loss.same_node_pct} %, cross-node ${w.loss.cross_node_pct} %; datagrams dropped at ` +
        `full buffers: ${JSON.stringify(drops)}.`;
  return {
    verdict: `${verdict}. ${where}`,
    machine_busy_pct: w.machine_cpu.busy_pct,
    machine_busy_cores: round(cores, 2),
    softirq_pct: w.machine_cpu.softirq_pct,
    worker_cpu_pct_of_core: Object.fromEntries(workers.map((x) => [x.id, x.pct])),
    workers_sum_pct_of_core: workersSum,
    sfu_node_processes_sum_pct: nodeProcesses,
    load_generator_cpu_pct: w.load_generator_cpu_pct,
    loss_pct: w.loss.overall_pct,
    loss_same_node_pct: w.loss.same_node_pct,
    loss_cross_node_pct: w.loss.cross_node_pct,
    cross_node_latency_p95_ms: w.latency.cross_node.p95_ms,
    same_node_latency_p95_ms: w.latency.same_node.p95_ms,
    udp_drops_in_window: drops,
    udp_max_queue_bytes_at_end: w.udp_max_queue_bytes_at_end,
  };
}

/** The ramp's sizes again with the other sink: does the limit move when the sink costs differ? */
function sinkCheckSummary(ramp: RampResult, sink: string): Record<string, unknown> | undefined {
  const check = ramp.sink_check;
  if (!check) return undefined;
  return {
    note:
      `the same calls rebuilt with the ${check.sink} sink instead of the ${sink} one: the SFUs forward the ` +
      'same packets; what changes is the kernel work behind the sink (ICMP or none)',
    steps: check.steps.map((s) => {
      const w = s.confirm ?? s.window;
      return {
        participants: s.participants,
        held: s.held,
        loss_pct: w.loss.overall_pct,
        worker_cpu_pct_of_core_per_node: Object.fromEntries(
          Object.entries(w.nodes).map(([id, n]) => [id, n.worker_cpu_pct_of_core]),
        ),
        machine_busy_pct: w.machine_cpu.busy_pct,
        softirq_pct: w.machine_cpu.softirq_pct,
        latency_p95_ms: { same_node: w.latency.same_node.p95_ms, cross_node: w.latency.cross_node.p95_ms },
      };
    }),
  };
}

/** The figures the issue asks for, from one step. */
export function stepSummary(step: CallStep): Record<string, unknown> {
  const w = step.confirm ?? step.window;
  const per = <T>(pick: (n: CallWindow['nodes'][string]) => T) =>
    Object.fromEntries(Object.entries(w.nodes).map(([id, n]) => [id, pick(n)]));
  return {
    participants: step.participants,
    participants_per_node: step.participants_per_node,
    loss_pct: w.loss.overall_pct,
    worst_stream_loss_pct: w.loss.worst_stream_pct,
    worst_stream: w.loss.worst_stream,
    forwarded_packets_per_second_per_node: per((n) => n.forwarded_packets_per_second.total),
    forwarded_packets_per_second_total: w.forwarded_packets_per_second_total,
    worker_cpu_pct_of_core_per_node: per((n) => n.worker_cpu_pct_of_core),
    sfu_node_process_cpu_pct_per_node: per((n) => n.node_process_cpu_pct),
    worker_us_per_forwarded_packet_per_node: per((n) => n.worker_us_per_forwarded_packet),
    latency_ms: {
      same_node: { p50: w.latency.same_node.p50_ms, p95: w.latency.same_node.p95_ms },
      cross_node: { p50: w.latency.cross_node.p50_ms, p95: w.latency.cross_node.p95_ms },
    },
    pipe_transports_per_node: per((n) => n.pipe_transports.reported_by_node),
    /** Each pair has one end on each of its two nodes. */
    pipe_pairs_total: Object.values(w.nodes).reduce((n, x) => n + x.pipe_transports.reported_by_node, 0) / 2,
    consumers_per_node: per((n) => n.consumers.reported_by_node),
    load_generator_cpu_pct: w.load_generator_cpu_pct,
    machine_busy_pct: w.machine_cpu.busy_pct,
  };
}

export function buildReport(
  hop: HopResult | undefined,
  ramp: RampResult | undefined,
  target: number,
  sink: string,
): Record<string, unknown> {
  const held = ramp?.steps.filter((s) => s.held && s.participants === ramp.largest_held).at(-1);
  const atTarget = ramp?.steps.find((s) => s.participants === target);
  const failed = ramp?.steps.find((s) => !s.held && s.participants === ramp.first_failed);
  return {
    pipe_hop_added_latency: hop
      ? {
          target: 'p95 added < 2 ms',
          p50_added_ms: hop.hop_added_ms.p50,
          p95_added_ms: hop.hop_added_ms.p95,
          p99_added_ms: hop.hop_added_ms.p99,
          same_node_p95_ms: hop.same_node.p95_ms,
          cross_node_p95_ms: hop.cross_node.p95_ms,
          pass: hop.hop_added_ms.p95 < 2,
        }
      : undefined,
    call_over_3_nodes: ramp
      ? {
          target: `${target} participants at < 1 % loss`,
          largest_held_below_1pct_loss: ramp.largest_held,
          first_size_at_or_over_1pct: ramp.first_failed,
          stopped_by: ramp.stopped_by,
          pass: ramp.largest_held >= target,
          at_target: atTarget ? stepSummary(atTarget) : undefined,
          at_largest_held: held && held !== atTarget ? stepSummary(held) : undefined,
          at_first_failed: failed ? stepSummary(failed) : undefined,
          limited_by: failed
            ? diagnose(failed.confirm ?? failed.window)
            : `nothing within the ramp: every size up to ${Math.max(...ramp.sizes_planned)} held`,
          pipes_reused:
            ramp.steps.every((s) => s.layout_settled) &&
            ramp.steps.every((s) =>
              Object.values(s.window.nodes).every(
                (n) => n.pipe_transports.reported_by_node === n.pipe_transports.expected,
              ),
            ),
          nodes_empty_after_each_call: ramp.steps.every((s) => s.left_after_close === undefined),
          sink_check: sinkCheckSummary(ramp, sink),
        }
      : undefined,
  };
}
