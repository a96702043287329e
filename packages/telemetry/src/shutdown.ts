import type { Logger } from './logger.js';

export type ShutdownSignal = 'SIGTERM' | 'SIGINT';

export interface ShutdownOptions {
  logger: Logger;
  /**
   * From the start of a shutdown to the process's exit, whatever the stop steps wait on (a Redis
   * that is gone, a database that doesn't answer). A number, or one per signal (an SFU's SIGTERM
   * drains first and gets the drain's time on top).
   */
  deadlineMs: number | ((signal: ShutdownSignal | undefined) => number);
  /** Stops the service: resolved → exit 0; thrown or past the deadline → exit 1. */
  stop: (signal: ShutdownSignal | undefined) => Promise<void>;
  /** Replaces `process.exit` (tests). */
  exit?: (code: number) => void;
}

export interface ShutdownHandle {
  /** Starts the shutdown for a reason other than a signal (a drain finished); idempotent. */
  shutdown(reason: string): Promise<void>;
  /** Removes the signal handlers (an embedding process keeps its own). */
  dispose(): void;
}

/**
 * Every service's exit path: SIGTERM and SIGINT run `stop` under a hard deadline, so Kubernetes
 * never waits out its grace period on a process stuck behind an unreachable dependency. A second
 * signal exits at once: someone pressing Ctrl-C twice means it.
 */
export function exitOnSignals(options: ShutdownOptions): ShutdownHandle {
  const { logger } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let started: Promise<void> | undefined;

  const run = (reason: string, signal: ShutdownSignal | undefined): Promise<void> => {
    if (started) return started;
    const deadlineMs =
      typeof options.deadlineMs === 'function' ? options.deadlineMs(signal) : options.deadlineMs;
    logger.info({ reason, deadlineMs }, 'shutting down');
    const began = Date.now();
    started = new Promise<void>((resolve) => {
      let done = false;
      const finish = (code: number) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve();
        exit(code);
      };
      // Not unref'd: the deadline must fire even when nothing else keeps the event loop alive.
      const timer = setTimeout(() => {
        logger.error({ reason, deadlineMs }, 'shutdown deadline passed: exiting with work unfinished');
        finish(1);
      }, deadlineMs);
      options.stop(signal).then(
        () => {
          logger.info({ reason, ms: Date.now() - began }, 'stopped');
          finish(0);
        },
        (error: unknown) => {
          logger.error(
            { reason, err: error instanceof Error ? error.message : String(error) },
            'shutdown failed',
          );
          finish(1);
        },
      );
    });
    return started;
  };

  const onSignal = (signal: ShutdownSignal) => {
    if (started) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      exit(1);
      return;
    }
    void run(signal, signal);
  };
  const onTerm = () => onSignal('SIGTERM');
  const onInt = () => onSignal('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  return {
    shutdown: (reason) => run(reason, undefined),
    dispose() {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
    },
  };
}
