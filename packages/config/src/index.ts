export {
  type CommonConfig,
  commonConfig,
  commonEnv,
  defaultNodeId,
  LOG_LEVELS,
  type LogLevel,
  NODE_ENVS,
  type NodeEnv,
  toCommonConfig,
} from './common.js';
export { describeConfig, type EnvVarDescription } from './describeConfig.js';
export { ConfigError, type ConfigErrorCode, type ConfigProblem } from './errors.js';
export {
  type EnvField,
  type EnvVarMeta,
  envField,
  type HostPort,
  parseBoolean,
  parseHostPort,
  parseInteger,
  parseList,
} from './fields.js';
export { type Env, loadConfig } from './loadConfig.js';
export { type RedisConnectionConfig, redisConfig, redisEnv, toRedisConfig } from './redis.js';
export { type PersisterConfig, persisterConfig, persisterEnv } from './services/persister.js';
export { type SfuConfig, sfuConfig, sfuEnv } from './services/sfu.js';
export { DEV_JWT_SECRET, type SignalingConfig, signalingConfig, signalingEnv } from './services/signaling.js';
