import { sleep } from '../sfu-forwarding/util';
import type { ChaosCluster } from './ChaosCluster';

/** One fault as it happened: when (epoch ms) and what the harness saw of it. */
export interface FaultRecord {
  name: FaultName;
  at: number;
  details: Record<string, unknown>;
}

export type FaultName = 'sfu-kill' | 'sfu-drain' | 'signaling-kill' | 'redis-restart' | 'postgres-restart';

export interface FaultPlan {
  name: FaultName;
  /** Seconds after the load started. */
  atSeconds: number;
}

/**
 * The faults, in order, each leaving the cluster whole again for the next (a killed node is
 * replaced, a stopped store restarted), as a supervisor would. The SFU faults take the node hosting
 * the most participants, so most of the calls are hit.
 */
export const FAULTS: Record<FaultName, (cluster: ChaosCluster, rec: FaultRecord) => Promise<void>> = {
  async 'sfu-kill'(cluster, rec) {
    const victim = await busiestSfu(cluster);
    rec.details.nodeId = victim.nodeId;
    rec.details.roomsRegistered = await cluster.registeredRooms(victim.nodeId);
    await victim.process.kill();
    rec.details.replacement = (await cluster.addSfu()).nodeId;
  },

  async 'sfu-drain'(cluster, rec) {
    const victim = await busiestSfu(cluster);
    rec.details.nodeId = victim.nodeId;
    // The spare is there first: the drained node's participants need somewhere to go.
    if (cluster.sfus.size < 2) rec.details.spare = (await cluster.addSfu()).nodeId;
    const end = await victim.process.signalAndTime('SIGTERM', 60_000);
    rec.details.exitedAfterMs = end.ms;
    rec.details.exitCode = end.code;
    rec.details.killedAtCap = end.killed;
    rec.details.replacement = (await cluster.addSfu()).nodeId;
  },

  async 'signaling-kill'(cluster, rec) {
    const node = cluster.signalingNode(0);
    rec.details.nodeId = node.nodeId;
    await node.process?.kill();
    // A supervisor brings it back; its clients have resumed on the other node meanwhile.
    await sleep(3000);
    await cluster.startSignaling(0);
    rec.details.restartedAfterMs = Date.now() - rec.at;
  },

  async 'redis-restart'(cluster, rec) {
    await cluster.redis.kill();
    await sleep(8000);
    await cluster.redis.start();
    rec.details.downMs = Date.now() - rec.at;
  },

  async 'postgres-restart'(cluster, rec) {
    await cluster.postgres.pause();
    await sleep(20_000);
    await cluster.postgres.start();
    rec.details.downMs = Date.now() - rec.at;
  },
};

/** The SFU node with the most producers (its `trellis_sfu_producers`, summed over workers). */
async function busiestSfu(cluster: ChaosCluster) {
  let best: { sfu: ReturnType<ChaosCluster['sfus']['get']>; peers: number } = { sfu: undefined, peers: -1 };
  for (const sfu of cluster.sfus.values()) {
    const peers = await producersOf(sfu.metricsPort);
    if (peers > best.peers) best = { sfu, peers };
  }
  if (!best.sfu) throw new Error('no SFU node left to break');
  return best.sfu;
}

async function producersOf(metricsPort: number): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith('trellis_sfu_producers{'))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  } catch {
    return 0;
  }
}
