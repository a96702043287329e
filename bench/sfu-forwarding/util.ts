import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const progress = (message: string): void => {
  process.stderr.write(`==> ${message}\n`);
};

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

let clockTicks: number | undefined;
/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on Linux x86). */
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/** utime + stime of a process (all its threads), in microseconds, from /proc/<pid>/stat. */
export function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at state: utime is 14th overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / ticksPerSecond();
}

/**
 * The same CPU time at nanosecond resolution: the scheduler's run time of each thread, summed from
 * /proc/<pid>/task/<tid>/schedstat. /proc/<pid>/stat counts in 10 ms ticks, which is coarse for a
 * worker using 1 % of a core over a few seconds.
 */
export function processCpuUsPrecise(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return ns / 1000;
}

export interface CpuSample {
  /** From /proc/<pid>/stat utime+stime. */
  us: number;
  pctOfCore: number;
  /** From schedstat (ns resolution). */
  preciseUs: number;
}

/** CPU of a set of processes over a window: call stop() at its end. */
export function cpuMeter(pids: readonly number[]): { stop(): CpuSample } {
  const t0 = performance.now();
  const sum = () => pids.reduce((n, pid) => n + processCpuUs(pid), 0);
  const precise = () => pids.reduce((n, pid) => n + processCpuUsPrecise(pid), 0);
  const c0 = sum();
  const p0 = precise();
  return {
    stop() {
      const us = sum() - c0;
      const preciseUs = precise() - p0;
      return { us, preciseUs, pctOfCore: (100 * us) / ((performance.now() - t0) * 1000) };
    },
  };
}

export interface MachineCpu {
  /** All cores together, percent of the machine (100 = every core busy). */
  busy_pct: number;
  /** Of which softirq (loopback packet delivery is largely done there, charged to no process). */
  softirq_pct: number;
}

function readProcStat(): number[] {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  return line.trim().split(/\s+/).slice(1).map(Number);
}

/** Machine-wide CPU over a window, from /proc/stat: how close this 2-core box was to saturation. */
export function machineCpuMeter(): { stop(): MachineCpu } {
  const s0 = readProcStat();
  return {
    stop() {
      const d = readProcStat().map((v, i) => v - (s0[i] ?? 0));
      // user nice system idle iowait irq softirq steal (guest time is already in user).
      const total = d.slice(0, 8).reduce((a, b) => a + b, 0) || 1;
      const idle = (d[3] ?? 0) + (d[4] ?? 0);
      return {
        busy_pct: round((100 * (total - idle)) / total, 1),
        softirq_pct: round((100 * (d[6] ?? 0)) / total, 1),
      };
    },
  };
}

/** This process's CPU (the load generator: senders, receivers and, for the bare run, mediasoup's JS). */
export function selfCpuMeter(): { stop(): { pctOfCore: number } } {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  return {
    stop() {
      const d = process.cpuUsage(c0);
      return { pctOfCore: (100 * (d.user + d.system)) / ((performance.now() - t0) * 1000) };
    },
  };
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** Latency histogram in 10 µs buckets up to 2 s (bounded memory whatever the packet count). */
export class LatencyHistogram {
  static readonly BUCKET_MS = 0.01;
  readonly #buckets = new Uint32Array(200_000);
  #count = 0;
  #max = 0;

  add(ms: number): void {
    const i = Math.min(this.#buckets.length - 1, Math.max(0, Math.floor(ms / LatencyHistogram.BUCKET_MS)));
    this.#buckets[i]!++;
    this.#count++;
    if (ms > this.#max) this.#max = ms;
  }

  merge(other: LatencyHistogram): void {
    other.#buckets.forEach((n, i) => {
      if (n) this.#buckets[i]! += n;
    });
    this.#count += other.#count;
    this.#max = Math.max(this.#max, other.#max);
  }

  quantile(q: number): number {
    if (this.#count === 0) return Number.NaN;
    const target = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i]!;
      if (seen >= target) return (i + 0.5) * LatencyHistogram.BUCKET_MS;
    }
    return this.#max;
  }

  summary(): { n: number; p50_ms: number; p95_ms: number; p99_ms: number; max_ms: number } {
    return {
      n: this.#count,
      p50_ms: round(this.quantile(0.5)),
      p95_ms: round(this.quantile(0.95)),
      p99_ms: round(this.quantile(0.99)),
      max_ms: round(this.#max),
    };
  }
}
