import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ManagedProcess, spawnProcess } from '@trellis/testkit';
import { installWrtcGlobals } from '@trellis/testkit/media';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type InProcessSignaling,
  type Stack,
  startSignaling,
  startStack,
  uid,
} from '../../services/signaling/test/support/stack';
import { joiner, type TestParticipant } from '../../services/signaling/test/support/TestParticipant';
import { REPO_ROOT } from './support/configEnv';

type Stats = Map<string, Record<string, unknown>>;

/** Every RTCPeerConnection the clients make, forced to relay-only ICE: only TURN candidates. */
const connections: RTCPeerConnection[] = [];

function forceRelayOnly(): void {
  const Base = installWrtcGlobals().RTCPeerConnection as unknown as typeof RTCPeerConnection;
  class RelayOnlyPeerConnection extends Base {
    constructor(config: RTCConfiguration = {}) {
      super({ ...config, iceTransportPolicy: 'relay' });
      connections.push(this);
    }
  }
  // mediasoup-client and the SDK's P2P sessions construct peer connections by the global name.
  globalThis.RTCPeerConnection = RelayOnlyPeerConnection;
}

/** The candidate types of a connection's selected pair (from getStats), e.g. ['relay', 'relay']. */
async function selectedPair(pc: RTCPeerConnection): Promise<{ local: string; remote: string } | undefined> {
  const stats = new Map([...((await pc.getStats()) as unknown as Stats)]);
  const all = [...stats.values()];
  const transport = all.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
  const pair =
    (transport && stats.get(String(transport.selectedCandidatePairId))) ??
    all.find((s) => s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated);
  if (!pair) return undefined;
  const local = stats.get(String(pair.localCandidateId));
  const remote = stats.get(String(pair.remoteCandidateId));
  return { local: String(local?.candidateType), remote: String(remote?.candidateType) };
}

describe('relay-only ICE through coturn (infra/coturn/turnserver.conf), with real media', () => {
  const secret = randomBytes(24).toString('hex');
  let coturn: ManagedProcess;
  let coturnDir: string;
  let stack: Stack;
  let signaling: InProcessSignaling;
  const people: TestParticipant[] = [];
  const report: Record<string, unknown> = {};

  beforeAll(async () => {
    forceRelayOnly();
    const port = await getPort({ host: '127.0.0.1' });
    const relayMin = 40_000 + Math.floor(Math.random() * 400) * 50;
    coturnDir = mkdtempSync(join(tmpdir(), 'trellis-coturn-'));
    // The deployment's own config; the command line overrides what a loopback test needs: one
    // address for listening and relaying, loopback peers (the SFU and the other client are on
    // 127.0.0.1, which coturn refuses by default) and a free port range.
    coturn = spawnProcess(
      'turnserver',
      [
        '-c',
        join(REPO_ROOT, 'infra/coturn/turnserver.conf'),
        `--listening-port=${port}`,
        '--listening-ip=127.0.0.1',
        '--relay-ip=127.0.0.1',
        `--min-port=${relayMin}`,
        `--max-port=${relayMin + 49}`,
        `--static-auth-secret=${secret}`,
        '--allow-loopback-peers',
        '--no-tcp-relay',
        `--pidfile=${join(coturnDir, 'turnserver.pid')}`,
        `--userdb=${join(coturnDir, 'turndb')}`,
      ],
      { name: 'coturn' },
    );
    await coturn.waitForOutput(/IO method \(auth thread\)/, 15_000);
    stack = await startStack({ sfuNodes: 1 });
    signaling = await startSignaling(stack.redis.url, {
      TURN_URLS: `turn:127.0.0.1:${port}?transport=udp`,
      TURN_SECRET: secret,
      TURN_CREDENTIAL_TTL_S: '600',
    });
  }, 60_000);

  afterAll(async () => {
    for (const p of people) p.close();
    await signaling?.close();
    await stack?.close();
    await coturn?.stop('SIGTERM');
    if (coturnDir) rmSync(coturnDir, { recursive: true, force: true });
    console.log(`turn relay ${JSON.stringify(report)}`);
  });

  it('two peers talk P2P, then three on the SFU, every connection relayed, frames decoding', async () => {
    const join = joiner(stack, uid('room'), people);

    const alice = await join('alice', signaling.url);
    const bob = await join('bob', signaling.url);
    await alice.waitForMode('p2p');
    const p2pStart = performance.now();
    await alice.waitForFrames('bob', 'p2p', 60, 30_000);
    await bob.waitForFrames('alice', 'p2p', 60, 30_000);
    const p2pPairs = await Promise.all(connections.map(selectedPair));
    report.p2p = {
      fps_alice_sees_bob: fps(alice, 'bob', p2pStart),
      longest_gap_ms: alice.longestGap('bob', p2pStart + 1000),
      selected_pairs: p2pPairs,
    };

    const carol = await join('carol', signaling.url);
    for (const p of [alice, bob, carol]) await p.waitForMode('sfu', 30_000);
    const sfuStart = performance.now();
    for (const [viewer, other] of [
      [alice, 'carol'],
      [bob, 'alice'],
      [carol, 'alice'],
      [carol, 'bob'],
    ] as const) {
      await viewer.waitForFrames(other, 'sfu', 60, 30_000);
    }
    const live = connections.filter((pc) => pc.connectionState === 'connected');
    const pairs = await Promise.all(live.map(selectedPair));
    report.sfu = {
      fps_carol_sees_alice: fps(carol, 'alice', sfuStart),
      longest_gap_ms_after_switch: carol.longestGap('alice', sfuStart + 1000),
      connected_peer_connections: live.length,
      selected_pairs: pairs,
    };

    // P2P: both ends relayed. SFU: each client's send and receive transport (6) through the relay.
    expect(p2pPairs.filter(Boolean).length).toBeGreaterThanOrEqual(2);
    for (const pair of p2pPairs.filter(Boolean)) expect(pair).toEqual({ local: 'relay', remote: 'relay' });
    expect(live.length).toBeGreaterThanOrEqual(6);
    expect(pairs.filter(Boolean)).toHaveLength(live.length);
    // The SFU end is mediasoup's ICE-lite host candidate; the client end only ever a TURN relay.
    for (const pair of pairs) expect(pair).toEqual({ local: 'relay', remote: 'host' });
    expect(fps(carol, 'alice', sfuStart)).toBeGreaterThan(15);
  }, 150_000);
});

/** Frames per second `viewer` showed of `other` since `from`. */
function fps(viewer: TestParticipant, other: string, from: number): number {
  const shown = viewer.views.get(other)?.shown.filter((t) => t >= from) ?? [];
  if (shown.length < 2) return 0;
  return Math.round(((shown.length - 1) / ((shown.at(-1)! - shown[0]!) / 1000)) * 10) / 10;
}
