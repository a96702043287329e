/**
 * One timer per process drives every publisher: hundreds of participants each with their own 10 ms
 * interval would cost more in timer churn than in packets. Unreferenced, so it never keeps a
 * finished worker alive.
 */
const TICK_MS = 10;
const listeners = new Set<(now: number) => void>();
let timer: ReturnType<typeof setInterval> | undefined;

export function onTick(listener: (now: number) => void): () => void {
  listeners.add(listener);
  if (!timer) {
    timer = setInterval(() => {
      const now = performance.now();
      for (const l of listeners) l(now);
    }, TICK_MS);
    timer.unref();
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}
