import { round } from '../sfu-forwarding/util';

/** Latency summary in milliseconds from samples in nanoseconds (process.hrtime.bigint deltas). */
export function summarize(samplesNs: bigint[]): {
  n: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
} {
  const sorted = samplesNs.map((ns) => Number(ns) / 1e6).sort((a, b) => a - b);
  const at = (q: number) =>
    round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN);
  return {
    n: sorted.length,
    p50_ms: at(0.5),
    p90_ms: at(0.9),
    p99_ms: at(0.99),
    max_ms: round(sorted.at(-1) ?? Number.NaN),
  };
}

/** Runs `once` sequentially `count` times (bounded also by `maxMs`), recording each round trip. */
export async function sequential(
  count: number,
  maxMs: number,
  once: (i: number) => Promise<unknown>,
): Promise<bigint[]> {
  const samples: bigint[] = [];
  const deadline = Date.now() + maxMs;
  for (let i = 0; i < count && Date.now() < deadline; i++) {
    const t0 = process.hrtime.bigint();
    await once(i);
    samples.push(process.hrtime.bigint() - t0);
  }
  return samples;
}

/** Keeps `concurrency` calls in flight until `count` are done or `maxMs` passed; returns calls/s. */
export async function throughput(
  count: number,
  concurrency: number,
  maxMs: number,
  once: (i: number) => Promise<unknown>,
): Promise<{ requests: number; seconds: number; per_second: number }> {
  let next = 0;
  let done = 0;
  const started = process.hrtime.bigint();
  const deadline = Date.now() + maxMs;
  const lane = async () => {
    while (next < count && Date.now() < deadline) {
      await once(next++);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { requests: done, seconds: round(seconds), per_second: Math.round(done / seconds) };
}
