import { z } from 'zod';

/**
 * Every error Trellis reports, with the HTTP status a REST caller sees. Socket.IO acks and bus
 * replies carry the same codes, so a client handles one vocabulary whatever the transport.
 */
export const errorStatus = {
  VALIDATION_FAILED: 400,
  UNSUPPORTED_VERSION: 400,
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  ROOM_NOT_FOUND: 404,
  PEER_NOT_FOUND: 404,
  TRANSPORT_NOT_FOUND: 404,
  PRODUCER_NOT_FOUND: 404,
  CONSUMER_NOT_FOUND: 404,
  NODE_NOT_FOUND: 404,
  UNKNOWN_COMMAND: 404,
  CONFLICT: 409,
  TRANSITION_IN_PROGRESS: 409,
  UNSUPPORTED_MEDIA: 415,
  CANNOT_CONSUME: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  MEDIA_ERROR: 500,
  BAD_REPLY: 502,
  CAPACITY_EXCEEDED: 503,
  NODE_DRAINING: 503,
  BUS_UNAVAILABLE: 503,
  // A feature whose backing store this node is not configured with (call history without DATABASE_URL).
  UNAVAILABLE: 503,
  BUS_TIMEOUT: 504,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof errorStatus;
export const ErrorCode = z.enum(Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]]);

/** The wire form of an error: REST body, Socket.IO ack and bus reply alike. */
export const ErrorBody = z.object({
  code: ErrorCode,
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export class TrellisError extends Error {
  override readonly name = 'TrellisError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get httpStatus(): number {
    return errorStatus[this.code];
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromBody(body: ErrorBody): TrellisError {
    return new TrellisError(body.code, body.message, body.details);
  }

  /** Wraps anything thrown into a TrellisError; unknown errors become INTERNAL with their message. */
  static from(error: unknown, fallback: ErrorCode = 'INTERNAL'): TrellisError {
    if (error instanceof TrellisError) return error;
    if (error instanceof z.ZodError) return validationError(error);
    const message = error instanceof Error ? error.message : String(error);
    return new TrellisError(fallback, message, undefined, { cause: error });
  }
}

export function isTrellisError(error: unknown, code?: ErrorCode): error is TrellisError {
  return error instanceof TrellisError && (code === undefined || error.code === code);
}

/** A zod failure as VALIDATION_FAILED, naming each offending path so the caller can fix its input. */
export function validationError(error: z.ZodError, what = 'input'): TrellisError {
  const issues = error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return new TrellisError('VALIDATION_FAILED', `Invalid ${what}: ${summary}`, { issues });
}
