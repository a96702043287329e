// bench/load: how large a single call this machine holds, measured with `trellis load` (werift
// participants, real signaling and WebRTC) against a local cluster this script starts: Redis, two
// sfu processes and one signaling process (rate limits off: all participants share one IP).
// The sweep grows one call (--sizes) until a size breaks (loss ≥ --max-loss %, failed joins, or
// subscriptions without media); the baseline, measured first in the same run, is the smallest SFU
// call (3). Each step records the machine's load average and the CPU the sfu processes (mediasoup
// workers included) and the load generator used. One JSON document on stdout, progress on stderr.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type SpawnedSfu, spawnSfu } from '@trellis/sfu/testing';
import { startRedis } from '@trellis/testkit';
import { ensureMediasoupWorkerBin } from '../common';
import { processCpuUs, progress, round } from '../sfu-forwarding/util';
import { spawnSignaling } from '../signaling/servers';

const ROOT = join(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,15,20,25,30,40,50' },
    duration: { type: 'string', default: '20' },
    'join-rate': { type: 'string', default: '5' },
    'max-loss': { type: 'string', default: '1' },
    /** Extra `trellis load` flags for every step, e.g. "--subscribe last-9 --speakers 1". */
    flags: { type: 'string', default: '' },
    /** The SFU's per-worker consumer cap (default 500) would stop a call at ~16 per worker first. */
    'max-consumers-per-worker': { type: 'string', default: '5000' },
    /** SFU_RTC_SOCKET_BUFFER_BYTES of the sfu nodes (0 = the kernel's ~208 KB). */
    'rtc-socket-buffer': { type: 'string', default: '4194304' },
    'keep-going': { type: 'boolean', default: false },
  },
});
const sizes = values.sizes
  .split(',')
  .map((s) => Math.floor(Number(s)))
  .filter((n) => n >= 3 && n <= 50);
const duration = Math.min(120, Math.max(5, Number(values.duration) || 20));
const maxLoss = Number(values['max-loss']) || 1;

/** The fields of `trellis load`'s JSON report this sweep reads (tools/loadtest/src/report.ts). */
interface LoadReportJson {
  joins: { attempted: number; succeeded: number; failed: number };
  received: { lossPercent: number; freezes: number; freezeSeconds: number; bitrateKbps: number };
  sent: { bitrateKbps: number; plis: number; nacked: number };
  rateLimitedRetries: number;
  loadGenerator: { cpuCores: number; eventLoopDelayP99Ms: number; eventLoopDelayMaxMs: number };
  joinToFirstFrameMs: { samples: number; p50?: number; p95?: number };
  subscriptions: { expected: number; withMedia: number };
  errors: Record<string, number>;
  errorExamples?: Record<string, string>;
}

interface Step {
  participants: number;
  loadAverageBefore: number[];
  report: LoadReportJson;
  cpu: { sfuCores: number; loadGeneratorCores: number };
  /** Machine-wide (other processes' sockets included): datagrams dropped at full receive buffers. */
  udpReceiveBufferDrops: number;
  broke: string | undefined;
}

/** utime+stime of a process and its descendants (an sfu node and its mediasoup workers). */
function treeCpuUs(pid: number): number {
  let total = 0;
  try {
    total += processCpuUs(pid);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const child of children ? children.split(' ') : []) total += treeCpuUs(Number(child));
  } catch {
    // exited meanwhile
  }
  return total;
}

function runLoad(url: string, secret: string, participants: number, out: string): Promise<number> {
  const args = [
    ...['--import', 'tsx', join(ROOT, 'tools/loadtest/src/main.ts'), '--url', url, '--secret', secret],
    ...['--calls', '1', '--participants', String(participants), '--duration', String(duration)],
    ...['--join-rate', values['join-rate'], '--quiet', '--output', out],
    ...values.flags.split(' ').filter(Boolean),
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

function brokeBecause(report: LoadReportJson): string | undefined {
  if (report.joins.failed > 0)
    return `${report.joins.failed} joins failed (${JSON.stringify(report.errors)})`;
  if (report.subscriptions.withMedia < report.subscriptions.expected) {
    return `${report.subscriptions.expected - report.subscriptions.withMedia} subscriptions without media`;
  }
  if (report.received.lossPercent >= maxLoss) return `loss ${report.received.lossPercent} % ≥ ${maxLoss} %`;
  return undefined;
}

async function main(): Promise<void> {
  ensureMediasoupWorkerBin();
  const dir = mkdtempSync(join(os.tmpdir(), 'trellis-bench-load-'));
  const redis = await startRedis();
  const sfus: SpawnedSfu[] = [];
  try {
    for (const id of ['bench-load-sfu1', 'bench-load-sfu2']) {
      sfus.push(
        await spawnSfu({
          redisUrl: redis.url,
          nodeId: id,
          workers: 1,
          env: {
            LOG_LEVEL: 'info',
            SFU_MAX_CONSUMERS_PER_WORKER: values['max-consumers-per-worker'],
            SFU_RTC_SOCKET_BUFFER_BYTES: values['rtc-socket-buffer'],
          },
        }),
      );
    }
    const signaling = await spawnSignaling(redis.url);
    const steps: Step[] = [];
    let largestOk: Step | undefined;
    for (const participants of [3, ...sizes]) {
      progress(
        `load: one call of ${participants} for ${duration} s (load average ${os
          .loadavg()
          .map((l) => round(l, 2))
          .join(' ')})`,
      );
      const loadAverageBefore = os.loadavg().map((l) => round(l, 2));
      const sfuBefore = sfus.reduce((n, s) => n + treeCpuUs(s.process.pid as number), 0);
      const generatorBefore = childrenCpuSeconds();
      const dropsBefore = udpReceiveBufferErrors();
      const started = performance.now();
      const out = join(dir, `load-${participants}.json`);
      const code = await runLoad(signaling.url, signaling.secret, participants, out);
      const seconds = (performance.now() - started) / 1000;
      const sfuCores =
        (sfus.reduce((n, s) => n + treeCpuUs(s.process.pid as number), 0) - sfuBefore) / 1e6 / seconds;
      let report: LoadReportJson;
      try {
        // The summary only: the per-participant detail of a 50-person call is megabytes.
        const { participants: _detail, ...summary } = JSON.parse(readFileSync(out, 'utf8'));
        report = summary as LoadReportJson;
      } catch {
        progress(`load: ${participants}: trellis load exited with ${code} and wrote no report; stopping`);
        break;
      }
      const step: Step = {
        participants,
        loadAverageBefore,
        report,
        cpu: {
          sfuCores: round(sfuCores, 2),
          loadGeneratorCores: round((childrenCpuSeconds() - generatorBefore) / seconds, 2),
        },
        udpReceiveBufferDrops: udpReceiveBufferErrors() - dropsBefore,
        broke: code > 1 ? `trellis load exited with ${code}` : brokeBecause(report),
      };
      steps.push(step);
      progress(
        `load: ${participants} → loss ${report.received.lossPercent} %, freezes ${report.received.freezes}, ` +
          `first frame p95 ${report.joinToFirstFrameMs.p95} ms, sfu ${step.cpu.sfuCores} cores${step.broke ? `; BROKE: ${step.broke}` : ''}`,
      );
      if (participants === 3) continue;
      if (step.broke && !values['keep-going']) break;
      if (!step.broke) largestOk = step;
    }
    const baseline = steps[0];
    const brokeAt = steps.find((s) => s.broke !== undefined && s.participants !== 3);
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'load',
          machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadAverageAtEnd: os.loadavg() },
          settings: {
            durationSeconds: duration,
            joinRate: Number(values['join-rate']),
            maxLossPercent: maxLoss,
            flags: values.flags,
            sfuNodes: 2,
            maxConsumersPerWorker: Number(values['max-consumers-per-worker']),
            rtcSocketBufferBytes: Number(values['rtc-socket-buffer']),
          },
          baseline: baseline && summary(baseline),
          // The largest call that held, and the first that broke, with `trellis load`'s whole report.
          largestAtUnderMaxLoss: largestOk ? { ...summary(largestOk), report: largestOk.report } : null,
          brokeAt: brokeAt ? { ...summary(brokeAt), report: brokeAt.report } : null,
          steps: steps.map(summary),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    for (const s of sfus) await s.process.stop('SIGINT').catch(() => undefined);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Datagrams the kernel dropped machine-wide because a UDP socket's receive buffer was full. */
function udpReceiveBufferErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const [names, counts] = lines.map((l) => l.split(/\s+/));
  const at = names?.indexOf('RcvbufErrors') ?? -1;
  return at > 0 ? Number(counts?.[at] ?? 0) : 0;
}

/** CPU of this process's waited-for children (each `trellis load` run, its workers included), in s. */
function childrenCpuSeconds(): number {
  const fields = readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // cutime and cstime: fields 16 and 17 of /proc/<pid>/stat (13 and 14 after the command name).
  const ticks = Number(fields[13] ?? 0) + Number(fields[14] ?? 0);
  return ticks / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
}

function summary(s: Step) {
  const r = s.report;
  return {
    participants: s.participants,
    broke: s.broke ?? null,
    joins: r.joins,
    lossPercent: r.received.lossPercent,
    freezes: r.received.freezes,
    freezeSeconds: r.received.freezeSeconds,
    receivedKbps: r.received.bitrateKbps,
    sentKbps: r.sent.bitrateKbps,
    retransmittedByPublishers: r.sent.nacked,
    joinToFirstFrameMs: r.joinToFirstFrameMs,
    subscriptions: { expected: r.subscriptions.expected, withMedia: r.subscriptions.withMedia },
    errors: r.errors,
    errorExamples: r.errorExamples ?? {},
    cpu: s.cpu,
    udpReceiveBufferDrops: s.udpReceiveBufferDrops,
    loadGenerator: r.loadGenerator,
    loadAverageBefore: s.loadAverageBefore,
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:load failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
