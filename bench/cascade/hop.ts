// Part 1: what one pipe hop adds. A small call with publishers on every node; every participant
// is a probe that receives every other participant's audio and video, so each publisher's packets
// reach a subscriber on its own node (no hop) and subscribers on the other nodes (one SRTP pipe hop
// between two sfu processes) in the same window; latency is per packet, send to receive.
import type { CapturedMedia } from '../sfu-forwarding/media';
import { round, sleep } from '../sfu-forwarding/util';
import { buildCall } from './call';
import type { Cluster } from './cluster';
import { type CallWindow, measureCall } from './measure';
import { settleEmpty, settleLayout } from './settle';
import type { SinkKind } from './sink';

export interface HopOptions {
  participantsPerNode: number;
  warmupMs: number;
  windowMs: number;
  graceMs: number;
  setup: 'by-node' | 'concurrent';
  sink: SinkKind;
}

export interface HopResult {
  participants: number;
  participants_per_node: number;
  streams: { same_node: number; cross_node: number };
  setup_s: number;
  same_node: CallWindow['latency']['same_node'];
  cross_node: CallWindow['latency']['cross_node'];
  hop_added_ms: CallWindow['latency']['hop_added_ms'];
  loss_pct: { same_node: number; cross_node: number };
  layout_settled: boolean;
  pipe_transports_per_node: Record<string, number>;
  window: CallWindow;
}

export async function runHop(cluster: Cluster, media: CapturedMedia, o: HopOptions): Promise<HopResult> {
  const nodeIds = cluster.nodes.map((n) => n.nodeId);
  const participants = o.participantsPerNode * nodeIds.length;
  const call = await buildCall(cluster, media, {
    roomId: `hop-${Date.now()}`,
    participants,
    nodeIds,
    videosPerSubscriber: participants - 1,
    probes: new Set(Array.from({ length: participants }, (_, i) => i)),
    setup: o.setup,
    sink: o.sink,
  });
  try {
    const layout = await settleLayout(cluster, call);
    await sleep(o.warmupMs);
    const w = await measureCall(cluster, call, o);
    return {
      participants,
      participants_per_node: o.participantsPerNode,
      streams: {
        same_node: call.traffic.sameNode.consumers.length,
        cross_node: call.traffic.crossNode.consumers.length,
      },
      setup_s: round(call.setup_s, 2),
      same_node: w.latency.same_node,
      cross_node: w.latency.cross_node,
      hop_added_ms: w.latency.hop_added_ms,
      loss_pct: { same_node: w.loss.same_node_pct, cross_node: w.loss.cross_node_pct },
      layout_settled: layout.settled,
      pipe_transports_per_node: Object.fromEntries(
        Object.entries(w.nodes).map(([id, n]) => [id, n.pipe_transports.reported_by_node]),
      ),
      window: w,
    };
  } finally {
    await call.close();
    await settleEmpty(cluster);
  }
}
