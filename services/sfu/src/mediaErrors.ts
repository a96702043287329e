import { TrellisError } from '@trellis/protocol';

/**
 * mediasoup reports bad parameters as TypeError, calls in the wrong state as InvalidStateError,
 * and unsupported media as UnsupportedError; each becomes the error code a caller can act on.
 */
export function fromMediasoupError(error: unknown, context: Record<string, unknown>): TrellisError {
  if (error instanceof TrellisError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.name : '';
  if (name === 'TypeError') return new TrellisError('VALIDATION_FAILED', message, context, { cause: error });
  if (name === 'InvalidStateError' || /already (called|connected)/i.test(message)) {
    return new TrellisError('CONFLICT', message, context, { cause: error });
  }
  if (name === 'UnsupportedError')
    return new TrellisError('UNSUPPORTED_MEDIA', message, context, { cause: error });
  return new TrellisError('MEDIA_ERROR', message, context, { cause: error });
}

/** Runs a mediasoup call, converting what it throws. */
export async function media<T>(context: Record<string, unknown>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw fromMediasoupError(error, context);
  }
}
