// The SFU cluster the benchmark drives: several real sfu processes on this machine, one bus client
// that commands them, and what each node reports about itself (worker pids, object counts).
import type { RedisBus } from '@trellis/bus';
import type { CommandDef, RequestOf } from '@trellis/protocol';
import { type SpawnedSfu, spawnSfu } from '../../services/sfu/test/support/spawnSfu';
import { sleep } from '../sfu-forwarding/util';

export interface SfuNodeHandle {
  readonly nodeId: string;
  readonly sfu: SpawnedSfu;
  /** The node's Node.js process (signaling side: bus commands, pipe RPC, heartbeats). */
  readonly nodePid: number;
}

export interface NodeCounts {
  routers: number;
  transports: number;
  producers: number;
  consumers: number;
  /** Worker CPU as the node itself last reported it (getResourceUsage over one heartbeat). */
  cpuPercent: number;
}

export class Cluster {
  readonly nodes: SfuNodeHandle[];
  readonly bus: RedisBus;

  private constructor(bus: RedisBus, nodes: SfuNodeHandle[]) {
    this.bus = bus;
    this.nodes = nodes;
  }

  /** Spawns `count` one-worker sfu processes in parallel (each under tsx: a few seconds). */
  static async start(bus: RedisBus, redisUrl: string, count: number): Promise<Cluster> {
    const nodes: SfuNodeHandle[] = [];
    const spawned = await Promise.allSettled(
      Array.from({ length: count }, (_, i) =>
        spawnSfu({
          redisUrl,
          nodeId: `bench-cascade-${String.fromCharCode(97 + i)}`,
          workers: 1,
          // The call puts thousands of consumers on one worker, past the default placement cap.
          env: {
            SFU_MAX_CONSUMERS_PER_WORKER: '100000',
            SFU_DRAIN_TIMEOUT_MS: '0',
          },
        }),
      ),
    );
    for (const s of spawned) {
      if (s.status === 'fulfilled')
        nodes.push({ nodeId: s.value.nodeId, sfu: s.value, nodePid: s.value.process.pid! });
    }
    const cluster = new Cluster(bus, nodes);
    const failed = spawned.find((s) => s.status === 'rejected');
    if (failed) {
      await cluster.stop();
      throw failed.reason;
    }
    // Wait until every node's heartbeat names its worker (pids for the CPU meters).
    for (const node of nodes) {
      for (let i = 0; i < 100 && !(await cluster.workerPids(node.nodeId).catch(() => undefined)); i++) {
        await sleep(100);
      }
    }
    return cluster;
  }

  node(nodeId: string): SfuNodeHandle {
    const node = this.nodes.find((n) => n.nodeId === nodeId);
    if (!node) throw new Error(`no node ${nodeId}`);
    return node;
  }

  request<C extends CommandDef>(nodeId: string, def: C, payload: RequestOf<C>) {
    return this.bus.commands.request(nodeId, def, payload, { timeoutMs: 30_000 });
  }

  async workerPids(nodeId: string): Promise<number[]> {
    const info = await this.bus.registry.get(nodeId);
    if (!info?.workers?.length) throw new Error(`no registry entry with workers for ${nodeId}`);
    return info.workers.map((w) => w.pid);
  }

  /** The node's object counts summed over its workers, from its last heartbeat (every 500 ms). */
  async counts(nodeId: string): Promise<NodeCounts> {
    const info = await this.bus.registry.get(nodeId);
    const sum: NodeCounts = { routers: 0, transports: 0, producers: 0, consumers: 0, cpuPercent: 0 };
    for (const w of info?.workers ?? []) {
      sum.routers += w.routers;
      sum.transports += w.transports;
      sum.producers += w.producers;
      sum.consumers += w.consumers;
      sum.cpuPercent += w.cpuPercent;
    }
    return sum;
  }

  /**
   * Waits (bounded) until every node reports what `want` accepts, e.g. the counts of a call just
   * built or torn down; returns the last counts either way, with whether they settled.
   */
  async settle(
    want: (nodeId: string, counts: NodeCounts) => boolean,
    timeoutMs: number,
  ): Promise<{ settled: boolean; counts: Record<string, NodeCounts> }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const counts: Record<string, NodeCounts> = {};
      for (const { nodeId } of this.nodes) counts[nodeId] = await this.counts(nodeId);
      const settled = this.nodes.every(({ nodeId }) => want(nodeId, counts[nodeId]!));
      if (settled || performance.now() > deadline) return { settled, counts };
      await sleep(250);
    }
  }

  /** Nodes still running (a crashed node is a finding the report must show). */
  running(): Record<string, boolean> {
    return Object.fromEntries(this.nodes.map((n) => [n.nodeId, n.sfu.process.running]));
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.sfu.process.stop('SIGTERM', 5_000).catch(() => {})));
  }
}
