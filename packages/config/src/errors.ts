export type ConfigErrorCode = 'CONFIG_INVALID' | 'CONFIG_SCHEMA_UNSUPPORTED';

/** One bad environment variable; `variable` is the env var name (schemas are keyed by them). */
export interface ConfigProblem {
  variable: string;
  message: string;
}

/**
 * Thrown at startup when the environment cannot be turned into a config. The message lists
 * every problem at once so an operator fixes a deployment in one round trip, not one per variable.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code: ConfigErrorCode;
  readonly problems: readonly ConfigProblem[];

  constructor(code: ConfigErrorCode, message: string, problems: readonly ConfigProblem[] = []) {
    super(message);
    this.code = code;
    this.problems = problems;
  }

  static invalid(problems: readonly ConfigProblem[]): ConfigError {
    const list = problems.map((p) => `${p.variable}: ${p.message}`).join('; ');
    return new ConfigError('CONFIG_INVALID', `Invalid configuration: ${list}`, problems);
  }
}
