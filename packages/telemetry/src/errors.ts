export type TelemetryErrorCode = 'METRIC_CONFLICT';

export class TelemetryError extends Error {
  override readonly name = 'TelemetryError';
  readonly code: TelemetryErrorCode;

  constructor(code: TelemetryErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
