// Part 2: one call spread over the nodes, built at growing sizes (a fresh call each step) until loss
// at the probes reaches the limit, confirmed by a second window; then at most one step between the
// last size that held and the first that did not. Each step records what every process used.
import type { CapturedMedia } from '../sfu-forwarding/media';
import { progress, round, sleep } from '../sfu-forwarding/util';
import { buildCall } from './call';
import type { Cluster, NodeCounts } from './cluster';
import { type CallWindow, measureCall } from './measure';
import { settleEmpty, settleLayout } from './settle';
import type { SinkKind } from './sink';

export interface RampOptions {
  sizes: number[];
  videosPerSubscriber: number;
  probesPerNode: number;
  warmupMs: number;
  windowMs: number;
  graceMs: number;
  lossLimitPct: number;
  setup: 'by-node' | 'concurrent';
  sink: SinkKind;
  /** No new step starts after this (performance.now()). */
  deadline: number;
  /**
   * After the ramp: the target size, and the first size that failed, built again with this other
   * sink, to tell the SFUs' limit from the sink's cost (see call.ts: openSink).
   */
  sinkCheck?: { sink: SinkKind; target: number; deadline: number };
}

export interface CallStep {
  participants: number;
  participants_per_node: Record<string, number>;
  consumers_total: number;
  setup_s: number;
  /** Every node held the expected consumers and pipe transports before the window. */
  layout_settled: boolean;
  held: boolean;
  window: CallWindow;
  /** A second window, taken when the first passed the loss limit. */
  confirm?: CallWindow;
  /** What the nodes still held after the call's peers left (should be nothing). */
  left_after_close?: Record<string, NodeCounts>;
}

export interface RampResult {
  sizes_planned: number[];
  /** The largest call with loss below the limit. */
  largest_held: number;
  first_failed: number | null;
  stopped_by: 'loss' | 'all-held' | 'time' | 'error';
  error?: string;
  steps: CallStep[];
  /** The same calls with the other sink (one window each, confirmed when it loses). */
  sink_check?: { sink: SinkKind; steps: CallStep[] };
}

export async function runCallRamp(
  cluster: Cluster,
  media: CapturedMedia,
  o: RampOptions,
): Promise<RampResult> {
  const nodeIds = cluster.nodes.map((n) => n.nodeId);
  const steps: CallStep[] = [];
  let largest = 0;
  let failed: number | null = null;
  let stoppedBy: RampResult['stopped_by'] = 'all-held';
  let error: string | undefined;
  const queue = [...o.sizes];
  let refined = false;
  while (queue.length) {
    const size = queue.shift()!;
    if (performance.now() > o.deadline) {
      stoppedBy = 'time';
      break;
    }
    try {
      const step = await runStep(cluster, media, nodeIds, size, o);
      steps.push(step);
      if (step.held) {
        largest = Math.max(largest, size);
        continue;
      }
      failed = failed === null ? size : Math.min(failed, size);
      stoppedBy = 'loss';
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      progress(`call of ${size}: failed: ${error}`);
      stoppedBy = 'error';
      failed = failed === null ? size : Math.min(failed, size);
    }
    // Past the limit: one step halfway back, if the gap is wide enough to say more, then stop.
    const mid = Math.round((largest + (failed ?? 0)) / 2);
    queue.length = 0;
    if (!refined && stoppedBy === 'loss' && failed !== null && failed - largest > 5 && mid > largest) {
      refined = true;
      queue.push(mid);
    }
  }
  let sinkCheck: RampResult['sink_check'];
  if (o.sinkCheck) {
    const check = o.sinkCheck;
    sinkCheck = { sink: check.sink, steps: [] };
    const sizes = [check.target, ...(failed === null ? [] : [failed])].filter(
      (n, i, all) => all.indexOf(n) === i,
    );
    for (const size of sizes) {
      if (performance.now() > check.deadline) break;
      progress(`sink check: the call of ${size} again with the ${check.sink} sink`);
      const step = await runStep(cluster, media, nodeIds, size, { ...o, sink: check.sink }).catch(
        (e: unknown) => {
          progress(`sink check at ${size} failed: ${String(e)}`);
          return undefined;
        },
      );
      if (step) sinkCheck.steps.push(step);
    }
  }
  return {
    sizes_planned: o.sizes,
    largest_held: largest,
    first_failed: failed,
    stopped_by: stoppedBy,
    ...(error === undefined ? {} : { error }),
    steps,
    ...(sinkCheck ? { sink_check: sinkCheck } : {}),
  };
}

async function runStep(
  cluster: Cluster,
  media: CapturedMedia,
  nodeIds: string[],
  size: number,
  o: RampOptions,
): Promise<CallStep> {
  const probes = new Set(
    Array.from({ length: Math.min(size, o.probesPerNode * nodeIds.length) }, (_, i) => i),
  );
  progress(`call of ${size} over ${nodeIds.length} nodes: setting up (${probes.size} probes)`);
  const call = await buildCall(cluster, media, {
    roomId: `call${size}-${Date.now()}`,
    participants: size,
    nodeIds,
    videosPerSubscriber: o.videosPerSubscriber,
    probes,
    setup: o.setup,
    sink: o.sink,
  });
  let step: CallStep;
  try {
    const layout = await settleLayout(cluster, call);
    await sleep(o.warmupMs);
    const window = await measureCall(cluster, call, o);
    report(size, call.setup_s, window);
    let held = window.loss.overall_pct < o.lossLimitPct;
    let confirm: CallWindow | undefined;
    if (!held) {
      // One bad window may be a hiccup of this shared machine: measure again before calling it.
      confirm = await measureCall(cluster, call, o);
      report(size, call.setup_s, confirm, 'confirm');
      held = confirm.loss.overall_pct < o.lossLimitPct;
    }
    const perNode: Record<string, number> = {};
    for (const p of call.participants) perNode[p.nodeId] = (perNode[p.nodeId] ?? 0) + 1;
    step = {
      participants: size,
      participants_per_node: perNode,
      consumers_total: call.consumers.length,
      setup_s: round(call.setup_s, 2),
      layout_settled: layout.settled,
      held,
      window,
      ...(confirm ? { confirm } : {}),
    };
  } finally {
    await call.close();
  }
  const empty = await settleEmpty(cluster);
  if (!empty.settled) step.left_after_close = empty.counts;
  return step;
}

function report(size: number, setup: number, w: CallWindow, which = 'window'): void {
  const nodes = Object.entries(w.nodes)
    .map(
      ([id, n]) => `${id.slice(-1)}: ${n.worker_cpu_pct_of_core} % ${n.forwarded_packets_per_second.total}/s`,
    )
    .join(', ');
  progress(
    `call of ${size} (${which}, setup ${round(setup, 1)} s): loss ${w.loss.overall_pct} % ` +
      `(worst stream ${w.loss.worst_stream_pct} %), latency p95 same ${w.latency.same_node.p95_ms} ms ` +
      `cross ${w.latency.cross_node.p95_ms} ms; workers ${nodes}; generator ${w.load_generator_cpu_pct} %, ` +
      `machine ${w.machine_cpu.busy_pct} % busy (softirq ${w.machine_cpu.softirq_pct} %)`,
  );
}
