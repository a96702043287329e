// bench/chaos: the local cluster (2 SFU nodes, 2 signaling nodes behind a TCP balancer, Redis,
// PostgreSQL, the persister; production defaults) under `trellis load`, with faults injected at
// fixed times: kill -9 of an SFU node, SIGTERM drain of one, kill -9 of a signaling node, Redis
// killed and restarted, PostgreSQL stopped and started. Per fault: the longest frame gap per
// viewer→publisher pair (from per-frame receive times), when every picture moved again, and the
// errors participants saw; a fault-free window before the first fault is the baseline. Then
// PostgreSQL's rows are reconciled against what the load tester knows. JSON on stdout, progress on
// stderr. Usage: ./trellis bench chaos [--calls 3] [--participants 6] [--faults sfu-kill,...]
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type LoadReport, runLoad } from '@trellis/loadtest';
import { ensureMediasoupWorkerBin } from '../common';
import { progress, sleep } from '../sfu-forwarding/util';
import { ChaosCluster } from './ChaosCluster';
import { FAULTS, type FaultName, type FaultRecord } from './faults';
import { mediaInWindow, type Window } from './gaps';
import { reconcile } from './reconcile';

const ALL: FaultName[] = ['sfu-kill', 'sfu-drain', 'signaling-kill', 'redis-restart', 'postgres-restart'];
const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '3' },
    participants: { type: 'string', default: '6' },
    faults: { type: 'string', default: ALL.join(',') },
    /** Seconds of load before the first fault (joins, the move to the SFU, the baseline window). */
    'warm-up': { type: 'string', default: '25' },
    /** Seconds between faults: each window runs until the next fault. */
    spacing: { type: 'string', default: '18' },
  },
});
const faults = values.faults.split(',').filter((f): f is FaultName => (ALL as string[]).includes(f));
const warmUp = Math.max(15, Number(values['warm-up']) || 25);
const spacing = Math.max(10, Number(values.spacing) || 18);
// PostgreSQL is down 20 s: its window needs that and the catch-up after it.
const durationSeconds = warmUp + faults.length * spacing + (faults.includes('postgres-restart') ? 20 : 0) + 5;

async function main(): Promise<void> {
  ensureMediasoupWorkerBin();
  const cluster = await ChaosCluster.start({ sfuNodes: 2, signalingNodes: 2 });
  const abort = new AbortController();
  let reportForLogs: LoadReport | undefined;
  process.once('SIGINT', () => abort.abort());
  try {
    const records: FaultRecord[] = [];
    const loadStart = Date.now();
    const injecting = (async () => {
      for (const [i, name] of faults.entries()) {
        const at = loadStart + (warmUp + i * spacing) * 1000;
        while (Date.now() < at && !abort.signal.aborted) await sleep(Math.min(250, at - Date.now()));
        if (abort.signal.aborted) return;
        const rec: FaultRecord = { name, at: Date.now(), details: {} };
        records.push(rec);
        progress(`chaos: ${name} at ${Math.round((rec.at - loadStart) / 1000)} s`);
        await FAULTS[name](cluster, rec).catch((error: unknown) => {
          rec.details.error = error instanceof Error ? error.message : String(error);
        });
        progress(`chaos: ${name} done ${JSON.stringify(rec.details)}`);
      }
    })();
    progress(
      `chaos: ${values.calls} calls × ${values.participants} for ${durationSeconds} s; faults ${faults.join(', ')}`,
    );
    const report = await runLoad(
      {
        url: cluster.url,
        secret: cluster.secret,
        calls: Number(values.calls),
        participants: Number(values.participants),
        durationSeconds,
        joinRate: 5,
        workers: Math.max(1, os.availableParallelism()),
        roomPrefix: `chaos-${loadStart.toString(36)}`,
      },
      { log: progress, signal: abort.signal, progress: throttled() },
    );
    const loadEnd = loadStart + durationSeconds * 1000;
    reportForLogs = report;
    await injecting;
    const results = report.participants ?? [];
    const windows: Window[] = records.map((rec, i) => ({
      name: rec.name,
      from: rec.at,
      to: Math.min(records[i + 1]?.at ?? loadEnd, loadEnd - 1000),
    }));
    const firstFault = records[0]?.at ?? loadEnd;
    const baseline = mediaInWindow(results, report.loadGenerator.stalls, {
      name: 'baseline',
      from: firstFault - 8000,
      to: firstFault,
    });
    const pg = records.find((r) => r.name === 'postgres-restart');
    progress('chaos: reconciling PostgreSQL with what the load tester saw');
    const rows = await reconcile(
      cluster.databaseUrl,
      results,
      pg ? { from: pg.at, to: pg.at + Number(pg.details.downMs ?? 0) } : undefined,
    );
    const perFault = windows.map((w, i) => ({
      name: w.name,
      atSeconds: Math.round((w.from - loadStart) / 100) / 10,
      // To find the fault in the services' logs.
      atIso: new Date(w.from).toISOString(),
      windowSeconds: Math.round((w.to - w.from) / 100) / 10,
      details: records[i]!.details,
      media: mediaInWindow(results, report.loadGenerator.stalls, w),
    }));
    const media = (name: FaultName) => perFault.find((f) => f.name === name)?.media;
    const sfuKill = media('sfu-kill');
    const drain = media('sfu-drain');
    const redis = media('redis-restart');
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'chaos',
          machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadAverageAtEnd: os.loadavg() },
          settings: {
            calls: Number(values.calls),
            participantsPerCall: Number(values.participants),
            durationSeconds,
            warmUpSeconds: warmUp,
            spacingSeconds: spacing,
            sfuNodes: 2,
            signalingNodes: 2,
          },
          load: summaryOf(report),
          baseline,
          faults: perFault,
          reconciliation: rows,
          targets: {
            sfuKillP95GapUnder2s: sfuKill ? sfuKill.longestGapMs.p95 < 2000 : null,
            drainP95GapUnder250ms: drain ? drain.longestGapMs.p95 < 250 : null,
            redisOutageNoHungRequests: redis ? (redis.errors.REQUEST_TIMEOUT ?? 0) === 0 : null,
            redisOutageNoFreezesBeyondBaseline: redis
              ? redis.pairsWithGapOver['500ms'] <= baseline.pairsWithGapOver['500ms']
              : null,
            noGhostRows: rows.participants.ghosts.length === 0,
            reconciled: rows.pass,
          },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    const dir = mkdtempSync(join(os.tmpdir(), 'trellis-chaos-logs-'));
    for (const [name, text] of Object.entries(cluster.logs())) writeFileSync(join(dir, `${name}.log`), text);
    // Every participant's view (frame gaps, errors with times) for a closer look at a fault.
    if (reportForLogs) writeFileSync(join(dir, 'load-report.json'), JSON.stringify(reportForLogs));
    progress(`chaos: every process's log is in ${dir}`);
    progress('chaos: stopping the cluster');
    await cluster.stop();
  }
}

function summaryOf(r: LoadReport) {
  return {
    joins: r.joins,
    subscriptions: { expected: r.subscriptions.expected, withMedia: r.subscriptions.withMedia },
    rehomes: r.rehomes,
    resumes: r.resumes,
    unavailableRetries: r.unavailableRetries,
    errors: r.errors,
    errorExamples: r.errorExamples,
  };
}

/** The load's progress line, every 5 s (the faults' own lines stay readable). */
function throttled(): (line: string) => void {
  let last = 0;
  return (line) => {
    if (Date.now() - last < 5000) return;
    last = Date.now();
    process.stderr.write(`    ${line}\n`);
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:chaos failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
