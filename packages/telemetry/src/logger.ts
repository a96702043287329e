import { type DestinationStream, type Level, type Logger, pino } from 'pino';

export type { Logger } from 'pino';
export type LogLevel = Level | 'silent';

export interface LoggerOptions {
  service: string;
  nodeId: string;
  level?: LogLevel;
  /** Where JSON lines go; stdout when absent. Tests pass an in-memory stream. */
  destination?: DestinationStream;
}

/**
 * Paths whose values never reach the logs. pino's wildcard matches one level, so the common
 * nestings (request headers, Socket.IO handshakes, a config object logged at startup) are
 * listed explicitly; anything deeper must be logged through a child with safe fields.
 */
export const REDACT_PATHS: readonly string[] = [
  ...[
    'authorization',
    'cookie',
    'token',
    'accessToken',
    'refreshToken',
    'password',
    'secret',
    'jwt',
    'apiKey',
  ],
  ...['jwtSecret', 'databaseUrl', 'connectionString'].flatMap((k) => [k, `*.${k}`]),
  ...['*.authorization', '*.cookie', '*.token', '*.accessToken', '*.refreshToken', '*.password'],
  ...['*.secret', '*.jwt', '*.apiKey'],
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'handshake.auth.token',
  'handshake.headers.authorization',
  'socket.handshake.auth.token',
  'config.jwt.secret',
  'config.redis.password',
];

/**
 * One JSON logger per process, every line tagged { service, node } so lines from many pods can
 * be told apart. Scope it per call/participant with a child rather than repeating ids:
 *
 *   const log = createLogger({ service: 'sfu', nodeId: config.nodeId });
 *   const callLog = log.child({ callId });            // every line about this call
 *   const peerLog = callLog.child({ participantId }); // ... and this participant
 *   peerLog.info({ transportId }, 'transport connected');
 *
 * Children share the parent's stream and redaction, and cost one object allocation.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const options = {
    level: opts.level ?? 'info',
    base: { service: opts.service, node: opts.nodeId },
    // ISO time and level names: readable by people tailing pods and by log pipelines alike.
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
  };
  // pino's own default is synchronous stdout, so the last lines before a crash are not lost.
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
