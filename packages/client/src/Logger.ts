/** What the SDK logs through; pass pino/console adapters or a test spy. */
export interface TrellisLogger {
  debug(message: string, context?: Record<string, unknown>): void;
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * A console logger above `level` (default `warn`): a call in a browser tab must not flood the
 * console, but dropped events and failed paths should still be visible without configuration.
 */
export function consoleLogger(level: LogLevel = 'warn', prefix = '[trellis]'): TrellisLogger {
  const at = (l: Exclude<LogLevel, 'silent'>) =>
    order[l] < order[level]
      ? () => undefined
      : (message: string, context?: Record<string, unknown>) =>
          context === undefined
            ? console[l](`${prefix} ${message}`)
            : console[l](`${prefix} ${message}`, context);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: TrellisLogger = consoleLogger('silent');
