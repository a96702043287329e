import type { ErrorCode } from '@trellis/protocol';

/** Codes only the client produces: the server never sends these. */
export type ClientOnlyErrorCode =
  | 'REQUEST_TIMEOUT'
  | 'CONNECTION_FAILED'
  | 'DISCONNECTED'
  | 'CLOSED'
  | 'SESSION_REPLACED'
  | 'MEDIA_FAILED'
  | 'INVALID_STATE';

/**
 * Server codes (the protocol's `ErrorCode`, shared by REST and Socket.IO acks) plus the client's own.
 * Kept open (`string & {}`) so a newer server's code reaches the application instead of failing here.
 */
export type TrellisClientErrorCode = ErrorCode | ClientOnlyErrorCode | (string & {});

/** Every error the SDK rejects with or emits: a `code` to branch on and the ids it concerns. */
export class TrellisClientError extends Error {
  override readonly name = 'TrellisClientError';

  constructor(
    readonly code: TrellisClientErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Wraps anything thrown; `fallback` is the code for errors that are not ours. */
  static from(error: unknown, fallback: TrellisClientErrorCode = 'MEDIA_FAILED'): TrellisClientError {
    if (error instanceof TrellisClientError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new TrellisClientError(fallback, message, undefined, { cause: error });
  }
}

export function isTrellisClientError(
  error: unknown,
  code?: TrellisClientErrorCode,
): error is TrellisClientError {
  return error instanceof TrellisClientError && (code === undefined || error.code === code);
}
