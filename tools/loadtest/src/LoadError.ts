/** A request that failed, with signaling's error code (or the load tester's own: TIMEOUT, ...). */
export class LoadError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'LoadError';
  }

  static from(error: unknown, fallbackCode = 'INTERNAL'): LoadError {
    if (error instanceof LoadError) return error;
    return new LoadError(fallbackCode, error instanceof Error ? error.message : String(error));
  }
}
