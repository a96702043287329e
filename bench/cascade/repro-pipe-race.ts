// Reproduces a race in RoomSpan (services/sfu): two nodes of one call that each need the other's
// producer at the same moment both open a PipeTransport pair towards the other. Two real sfu
// processes; each trial is a new call with a producer on each node, then `Consume` on A of B's
// producer and on B of A's, issued together (B's delayed by a varying skew). Prints one JSON
// document: per trial, how each Consume ended, how long it took, the transports each node holds
// afterwards (2 plain + 1 pipe expected on each), and whether both were empty once the peers left.
// Seen on a 2-core machine, about 1 trial in 5 fails, two ways: (1) A's sfu.pipe-connect gets no
// reply within 5 s and B's Consume fails after 10 s ("the other node never opened its pipe"), B
// keeping an orphan pipe transport; (2) A's Consume fails at once (MEDIA_ERROR "Channel request
// handler ... not found [method:transport.produce]": the pair it was importing on was closed under
// it) and B ends up with two pipe transports to A.
//   pnpm exec tsx bench/cascade/repro-pipe-race.ts [--trials 12]
import { parseArgs } from 'node:util';
import { ClosePeer, Consume, CreatePlainTransport, GetRouterCapabilities, Produce } from '@trellis/protocol';
import { startRedis } from '@trellis/testkit';
import { connectBenchBus, ensureMediasoupWorkerBin } from '../common';
import { producerParameters } from '../sfu-forwarding/drivers';
import { loadMedia } from '../sfu-forwarding/media';
import { progress, sleep } from '../sfu-forwarding/util';
import { Cluster } from './cluster';
import { settleEmpty } from './settle';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '12' } } });
const TRIALS = Math.min(40, Math.max(1, Number(values.trials) || 12));
ensureMediasoupWorkerBin();

const media = await loadMedia();
const redis = await startRedis({ dedicated: true });
const bus = await connectBenchBus(redis.url, 'bench-race-client');
const cluster = await Cluster.start(bus, redis.url, 2);
const [a, b] = cluster.nodes.map((n) => n.nodeId) as [string, string];
try {
  const trials = [];
  for (let t = 0; t < TRIALS; t++) {
    const roomId = `race-${t}-${Date.now()}`;
    const skewMs = t % 4; // 0, 1, 2, 3 ms between the two Consume commands
    const side = async (nodeId: string) => {
      const { rtpCapabilities } = await cluster.request(nodeId, GetRouterCapabilities, { roomId });
      const send = await cluster.request(nodeId, CreatePlainTransport, {
        roomId,
        peerId: 'pub',
        direction: 'send',
        comedia: true,
        rtcpMux: true,
        enableSrtp: false,
      });
      const { producerId } = await cluster.request(nodeId, Produce, {
        roomId,
        peerId: 'pub',
        transportId: send.transportId,
        kind: 'audio',
        rtpParameters: producerParameters(media.audio, 1000 + t) as never,
        paused: false,
      });
      const recv = await cluster.request(nodeId, CreatePlainTransport, {
        roomId,
        peerId: 'sub',
        direction: 'recv',
        comedia: false,
        rtcpMux: true,
        enableSrtp: false,
      });
      return { nodeId, producerId, rtpCapabilities, recvId: recv.transportId };
    };
    const [sa, sb] = await Promise.all([side(a), side(b)]);
    const consume = async (at: typeof sa, from: typeof sa, delay: number) => {
      if (delay) await sleep(delay);
      const t0 = performance.now();
      try {
        await cluster.request(at.nodeId, Consume, {
          roomId,
          peerId: 'sub',
          transportId: at.recvId,
          producerId: from.producerId,
          rtpCapabilities: at.rtpCapabilities,
          producerNodeId: from.nodeId,
        });
        return { ok: true, ms: Math.round(performance.now() - t0) };
      } catch (error) {
        const e = error as { code?: string; message?: string };
        return { ok: false, ms: Math.round(performance.now() - t0), code: e.code, message: e.message };
      }
    };
    const [onA, onB] = await Promise.all([consume(sa, sb, 0), consume(sb, sa, skewMs)]);
    await sleep(1200); // two heartbeats: the counts below are current
    const transports = {
      [a]: (await cluster.counts(a)).transports,
      [b]: (await cluster.counts(b)).transports,
    };
    const trial = {
      trial: t,
      skew_ms: skewMs,
      [`consume_on_${a}`]: onA,
      [`consume_on_${b}`]: onB,
      transports_after: transports,
      empty_after_peers_left: false,
    };
    for (const nodeId of [a, b]) {
      for (const peerId of ['pub', 'sub']) {
        await cluster.request(nodeId, ClosePeer, { roomId, peerId });
      }
    }
    // The room closes with its last peer: every transport, pipes included, should go with it.
    trial.empty_after_peers_left = (await settleEmpty(cluster, 4_000)).settled;
    progress(JSON.stringify(trial));
    trials.push(trial);
  }
  const failed = trials.filter(
    (t) => !(t[`consume_on_${a}`] as { ok: boolean }).ok || !(t[`consume_on_${b}`] as { ok: boolean }).ok,
  );
  process.stdout.write(
    `${JSON.stringify({ repro: 'simultaneous pipe open', nodes: [a, b], trials: TRIALS, failed: failed.length, results: trials }, null, 2)}\n`,
  );
} finally {
  await cluster.stop();
  await bus.close();
  await redis.stop();
}
process.exit(0);
