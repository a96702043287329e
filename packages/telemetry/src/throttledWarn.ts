import type { Logger } from 'pino';

/**
 * A warning that may fire many times a second while a dependency is down (every reconnect attempt
 * of a Redis client, every poll of a BullMQ queue): logged at once, then at most once per
 * `everyMs`, each line saying how many were left out since the last one.
 */
export function throttledWarn(
  logger: Logger | undefined,
  message: string,
  everyMs = 5_000,
): (fields: Record<string, unknown>) => void {
  let last = 0;
  let suppressed = 0;
  return (fields) => {
    const now = Date.now();
    if (now - last < everyMs) {
      suppressed += 1;
      return;
    }
    last = now;
    logger?.warn(suppressed > 0 ? { ...fields, suppressed } : fields, message);
    suppressed = 0;
  };
}
