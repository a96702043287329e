import { execFileSync } from 'node:child_process';
import { GetRouterCapabilities } from '@trellis/protocol';
import { type PostgresServer, startPostgres } from '@trellis/testkit';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type InProcessPersister,
  migratedDatabase,
  startPersister,
} from '../../services/persister/test/support';
import {
  connectSocket,
  type InProcessSignaling,
  type Stack,
  startSignaling,
  startStack,
  uid,
} from '../../services/signaling/test/support/stack';
import { joiner, type TestParticipant } from '../../services/signaling/test/support/TestParticipant';
import { alertQueries, dashboardQueries } from './support/dashboards';
import { type DocumentedMetric, documentedMetrics } from './support/metricsDoc';
import { metricNames } from './support/promql';
import { metricTypes, parsePrometheusText, scrape } from './support/promText';

/** One scrape of every process of the cluster, by service. */
type Snapshot = Record<'signaling' | 'sfu' | 'persister', string[]>;

const EVENTS = [
  'call',
  'bad-token',
  'rate-limit',
  'dead-letter',
  'bus-timeout',
  'drain',
  'worker-death',
] as const;
type EventName = (typeof EVENTS)[number];
type Around = { before: Snapshot; after: Snapshot; during?: Snapshot };

describe('every metric in docs/METRICS.md is exported and moves during a real call', () => {
  const documented = documentedMetrics();
  let stack: Stack;
  let signaling: InProcessSignaling;
  let postgres: PostgresServer;
  let persister: InProcessPersister;
  let signalingUrl = '';
  const people: TestParticipant[] = [];
  /** Per event: the cluster's metrics before it, after it, and (for gauges) while it happened. */
  const around = new Map<EventName, Around>();
  const report: Record<string, unknown> = {};

  async function snapshot(): Promise<Snapshot> {
    return {
      signaling: [await scrape(`${signalingUrl}/metrics`)],
      // A drained node is gone: it simply has no metrics any more.
      sfu: await Promise.all(
        stack.sfus.map((s) => scrape(`http://127.0.0.1:${s.metricsPort}/metrics`).catch(() => '')),
      ),
      persister: [await persister.metrics.registry.metrics()],
    };
  }

  beforeAll(async () => {
    // A node takes a participant when it has room for 2 consumers per other participant: at 8, the
    // first node takes a call of three (4 each) but not a fourth (6 more), who spills to the
    // second node. That is what makes pipe transports (and their metrics) exist.
    stack = await startStack({
      sfuNodes: 1,
      sfuEnv: {
        SFU_MAX_CONSUMERS_PER_WORKER: '8',
        SFU_STATS_INTERVAL_MS: '1000',
        SFU_DRAIN_TIMEOUT_MS: '500',
      },
    });
    signaling = await startSignaling(stack.redis.url);
    signalingUrl = signaling.url;
    postgres = await startPostgres();
    const databaseUrl = await migratedDatabase((name) => postgres.createDatabase(name), 'trellis_metrics');
    // Its webhook endpoint refuses connections: deliveries fail and back up, as in an outage.
    const closedPort = await getPort({ host: '127.0.0.1' });
    persister = await startPersister(stack.redis.url, databaseUrl, signaling.config.redis.keyPrefix, {
      webhooks: {
        urls: [`http://127.0.0.1:${closedPort}/hook`],
        secret: 'x'.repeat(32),
        timeoutMs: 500,
        concurrency: 2,
      },
    });
  }, 60_000);

  afterAll(async () => {
    for (const p of people) p.close();
    await signaling?.close();
    await persister?.close();
    await postgres?.stop();
    await stack?.close();
    console.log(`metrics scrape test ${JSON.stringify(report)}`);
  });

  it('lists at least 20 custom metrics, each with a type, labels and the services that export it', () => {
    expect(documented.length).toBeGreaterThanOrEqual(20);
    expect(new Set(documented.map((m) => m.name)).size).toBe(documented.length);
    for (const m of documented) {
      expect([...EVENTS, '—']).toContain(m.movesOn);
      for (const s of m.services) expect(['signaling', 'sfu', 'persister']).toContain(s);
    }
  });

  it('scrapes a cluster through a call, a spill to a second node, refusals, failures and a drain', async () => {
    const roomId = uid('room');
    const join = joiner(stack, roomId, people);

    // call: P2P, then the SFU, then a spill to a second node.
    const callStart = await snapshot();
    const alice = await join('alice', signalingUrl);
    const bob = await join('bob', signalingUrl);
    await alice.waitForFrames('bob', 'p2p', 15);
    const carol = await join('carol', signalingUrl);
    for (const p of [alice, bob, carol]) await p.waitForMode('sfu', 30_000);
    await carol.waitForFrames('alice', 'sfu', 15);
    await stack.addSfu({ SFU_MAX_CONSUMERS_PER_WORKER: '500' });
    await new Promise((r) => setTimeout(r, 1500)); // both nodes' load reports reach the registry
    const dave = await join('dave', signalingUrl);
    await dave.waitForMode('sfu', 30_000);
    await dave.waitForFrames('alice', 'sfu', 30);
    await alice.waitForFrames('dave', 'sfu', 30);
    // RTCP receiver reports (RTT, loss) and the bitrate estimates need a few seconds of media.
    await new Promise((r) => setTimeout(r, 3000));
    const during = await snapshot();
    around.set('call', { before: callStart, after: during });
    report.during_call = {
      pipe_transports: total(during.sfu, 'trellis_sfu_pipe_transports'),
      bitrate_in_bps: total(during.sfu, 'trellis_sfu_bitrate_bps', { direction: 'in' }),
      bitrate_out_bps: total(during.sfu, 'trellis_sfu_bitrate_bps', { direction: 'out' }),
      rtt_max_s: max(during.sfu, 'trellis_sfu_rtt_seconds', { stat: 'max' }),
      participants_sfu: total(during.signaling, 'trellis_signaling_participants', { mode: 'sfu' }),
      persister_jobs_processed: total(during.persister, 'trellis_persister_jobs_processed_total'),
      persister_metric_rows: total(during.persister, 'trellis_persister_metric_rows_total'),
      webhook_backlog: samples(during.persister, 'trellis_persister_queue_depth', {
        queue: 'trellis-webhooks',
      })
        .filter((x) => x.value > 0)
        .map((x) => `${x.labels.state}=${x.value}`),
    };

    await measure('bad-token', async () => {
      await expect(connectSocket(signalingUrl, 'not.a.token')).rejects.toThrow();
    });

    await measure('rate-limit', async () => {
      const flooded = uid('room');
      const socket = await connectSocket(signalingUrl, await stack.token(flooded, 'flood'));
      // getRoom's budget is 30 a second per participant: 60 at once overrun it.
      const replies = await Promise.all(
        Array.from({ length: 60 }, () => socket.timeout(10_000).emitWithAck('getRoom', { roomId: flooded })),
      );
      socket.close();
      report.rate_limit_refusals = replies.filter((r) => r?.error?.code === 'RATE_LIMITED').length;
      expect(report.rate_limit_refusals).toBeGreaterThan(0);
    });

    await measure('dead-letter', async () => {
      // What a buggy or hostile writer could put on a node's command stream: no envelope at all.
      const target = signaling.bus.keys.commandStream(stack.sfus[0]!.nodeId);
      await signaling.bus.redis.xadd(target, '*', 'garbage', 'not an envelope');
      await waitUntil(async () => total((await snapshot()).sfu, 'trellis_bus_dead_letters_total') > 0);
    });

    await measure('bus-timeout', async () => {
      const pending = signaling.bus.commands.request(
        'nobody-home',
        GetRouterCapabilities,
        { roomId },
        { timeoutMs: 1500 },
      );
      // The pending gauge is up only while the request waits: that scrape is the one it is judged on.
      const whilePending = await snapshot();
      await expect(pending).rejects.toMatchObject({ code: 'BUS_TIMEOUT' });
      return whilePending;
    });

    await measure('drain', async () => {
      // SIGTERM drains the first node: signaling moves its participants to the second.
      const first = stack.sfus[0]!;
      first.process.child.kill('SIGTERM');
      const metricsUrl = `http://127.0.0.1:${first.metricsPort}/metrics`;
      await waitUntil(async () => {
        const text = await scrape(metricsUrl).catch(() => '');
        return text === '' || total([text], 'trellis_sfu_node_state', { state: 'draining' }) === 1;
      });
      await waitUntil(
        async () => total((await snapshot()).signaling, 'trellis_signaling_rehomed_participants_total') > 0,
        20_000,
      );
      await alice.waitForFrames('bob', 'sfu', 15, 30_000);
      await first.process.exited;
    });

    // And back to P2P once only two are left, which the transition metrics must show too.
    await dave.leave();
    await carol.leave();
    await alice.waitForMode('p2p', 30_000);
    await alice.waitForFrames('bob', 'p2p', 15);

    await measure('worker-death', async () => {
      // The remaining node's only worker (now idle: the call is P2P again) is killed and replaced.
      const sfu = stack.sfus[1]!;
      const pids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(sfu.process.pid)], {
        encoding: 'utf8',
      });
      const worker = pids.trim().split(/\s+/)[0]!;
      expect(worker).toMatch(/^\d+$/);
      process.kill(Number(worker), 'SIGKILL');
      const url = `http://127.0.0.1:${sfu.metricsPort}/metrics`;
      await waitUntil(async () => total([await scrape(url)], 'trellis_sfu_worker_deaths_total') > 0);
    });

    const end = await snapshot();
    report.transitions = samples(end.signaling, 'trellis_signaling_mode_transitions_total').map(
      (s) => `${s.labels.to}/${s.labels.result}=${s.value}`,
    );
    report.switch_gap_s = {
      sum: total(end.signaling, 'trellis_signaling_switch_media_gap_seconds_sum'),
      count: total(end.signaling, 'trellis_signaling_switch_media_gap_seconds_count'),
    };
    report.join_s = {
      sum: total(end.signaling, 'trellis_signaling_join_seconds_sum'),
      count: total(end.signaling, 'trellis_signaling_join_seconds_count'),
    };
    expect(total(end.signaling, 'trellis_signaling_mode_transitions_total', { to: 'p2p' })).toBeGreaterThan(
      0,
    );

    const problems: string[] = [];
    for (const metric of documented) problems.push(...exported(metric, [during, end]));
    for (const metric of documented) {
      if (metric.movesOn === '—') continue;
      const seen = around.get(metric.movesOn as EventName);
      if (!seen || !moves(metric, seen)) problems.push(`${metric.name} did not move on ${metric.movesOn}`);
    }
    // The dashboard and the alerts read these names: each must be declared in a live scrape (any
    // node, any moment of the run), not only in the docs.
    const scrapes = [end, ...[...around.values()].flatMap((a) => [a.before, a.after])];
    const declared = new Set(
      scrapes.flatMap((snap) =>
        [...snap.signaling, ...snap.sfu, ...snap.persister].flatMap((text) => [...metricTypes(text).keys()]),
      ),
    );
    for (const q of [...dashboardQueries(), ...alertQueries()]) {
      for (const name of metricNames(q.expr)) {
        const family = name.replace(/_(bucket|sum|count)$/, '');
        if (name !== 'up' && !declared.has(name) && !declared.has(family))
          problems.push(`${q.where}: ${name} is not exported`);
      }
    }
    report.checked = documented.length;
    report.problems = problems;
    expect(problems).toEqual([]);

    async function measure(event: EventName, run: () => Promise<unknown>): Promise<void> {
      const before = await snapshot();
      const during = (await run()) as Snapshot | undefined;
      around.set(event, { before, after: await snapshot(), ...(during ? { during } : {}) });
    }
  }, 240_000);
});

function samples(texts: string[], name: string, labels: Record<string, string> = {}) {
  return texts
    .flatMap((t) => parsePrometheusText(t))
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function total(texts: string[], name: string, labels: Record<string, string> = {}): number {
  return samples(texts, name, labels).reduce((sum, s) => sum + s.value, 0);
}

function max(texts: string[], name: string, labels: Record<string, string> = {}): number {
  return Math.max(0, ...samples(texts, name, labels).map((s) => s.value));
}

/** Problems with how `metric` is exported: missing from a service, another type, other labels. */
function exported(metric: DocumentedMetric, snapshots: Snapshot[]): string[] {
  const problems: string[] = [];
  for (const service of metric.services as Array<keyof Snapshot>) {
    const texts = snapshots.flatMap((s) => s[service]);
    const types = texts.map((t) => metricTypes(t).get(metric.name));
    if (!types.some((t) => t !== undefined)) {
      problems.push(`${metric.name} is not exported by ${service}`);
      continue;
    }
    if (!types.includes(metric.type))
      problems.push(`${metric.name} is a ${types.find(Boolean)}, not a ${metric.type}`);
    const sampleName = metric.type === 'histogram' ? `${metric.name}_count` : metric.name;
    const expected = [...metric.labels, 'node', 'service'].sort().join(',');
    for (const s of samples(texts, sampleName)) {
      const got = Object.keys(s.labels).sort().join(',');
      if (got !== expected) {
        problems.push(`${metric.name} has labels ${got}, documented ${expected}`);
        break;
      }
    }
  }
  return problems;
}

/**
 * Gauges: the cluster-wide total differs from before. Counters and histograms: some node's total
 * grew (per node, because a node that drained and exited takes its counters with it).
 */
function moves(metric: DocumentedMetric, seen: Around): boolean {
  const services = metric.services as Array<keyof Snapshot>;
  const texts = (s: Snapshot) => services.flatMap((svc) => s[svc]);
  if (metric.type === 'gauge')
    return total(texts(seen.during ?? seen.after), metric.name) !== total(texts(seen.before), metric.name);
  const name = metric.type === 'histogram' ? `${metric.name}_count` : metric.name;
  const perNode = (s: Snapshot) => {
    const byNode = new Map<string, number>();
    for (const x of samples(texts(s), name))
      byNode.set(x.labels.node!, (byNode.get(x.labels.node!) ?? 0) + x.value);
    return byNode;
  };
  const before = perNode(seen.before);
  return [...perNode(seen.after)].some(([node, value]) => value > (before.get(node) ?? 0));
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
