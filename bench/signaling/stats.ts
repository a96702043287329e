import { round } from '../sfu-forwarding/util';

export interface Summary {
  n: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
}

/** Nearest-rank percentiles of latencies in milliseconds (NaN when there are none). */
export function summarize(samplesMs: readonly number[]): Summary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => round(sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : Number.NaN;
  return {
    n: sorted.length,
    p50_ms: at(0.5),
    p95_ms: at(0.95),
    p99_ms: at(0.99),
    max_ms: round(sorted.at(-1) ?? Number.NaN),
    mean_ms: round(mean),
  };
}

export function ratio(a: number, b: number, digits = 2): number | null {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? round(a / b, digits) : null;
}

/** Failures by kind, with the first few messages kept verbatim for the report. */
export class Failures {
  readonly #counts = new Map<string, number>();
  readonly #samples: string[] = [];

  add(kind: string, error: unknown): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
    if (this.#samples.length < 5) {
      this.#samples.push(`${kind}: ${error instanceof Error ? error.message : JSON.stringify(error)}`);
    }
  }

  get total(): number {
    let n = 0;
    for (const c of this.#counts.values()) n += c;
    return n;
  }

  toJSON(): { total: number; by_kind: Record<string, number>; samples: string[] } {
    return { total: this.total, by_kind: Object.fromEntries(this.#counts), samples: this.#samples };
  }
}

/** Runs `once(i)` for i < count with `concurrency` lanes, none starting after `deadline` (ms epoch). */
export async function lanes(
  count: number,
  concurrency: number,
  deadline: number,
  once: (i: number) => Promise<void>,
): Promise<{ started: number; seconds: number }> {
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < count && Date.now() < deadline) await once(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane));
  return { started: next, seconds: (performance.now() - t0) / 1000 };
}
