import { z } from 'zod';
import { type CommonConfig, commonEnv, metricsPortField, toCommonConfig } from '../common.js';
import { boolField, envField, parseList, parseString, portField, stringField, urlField } from '../fields.js';
import { type RedisConnectionConfig, redisEnv, toRedisConfig } from '../redis.js';

/** Public on purpose: only ever used outside production, and rejected in production. */
export const DEV_JWT_SECRET = 'trellis-dev-secret-do-not-use-in-production';
const JWT_SECRET_MIN = 32;

const parseOrigin = (raw: string) =>
  raw === '*' || (URL.canParse(raw) && new URL(raw).origin === raw.replace(/\/$/, ''))
    ? ({ ok: true, value: raw.replace(/\/$/, '') } as const)
    : ({ ok: false, expected: 'an origin like https://app.example.com or *' } as const);

export const signalingEnv = z.object({
  ...commonEnv.shape,
  ...redisEnv.shape,
  METRICS_PORT: metricsPortField(9464),
  HTTP_HOST: stringField({
    default: '127.0.0.1',
    description: 'Interface the REST + Socket.IO server binds',
  }),
  HTTP_PORT: portField({
    default: 3000,
    allowZero: true,
    description: 'REST + Socket.IO port (0 = ephemeral)',
  }),
  JWT_SECRET: envField(parseString(JWT_SECRET_MIN), {
    secret: true,
    description: `HS256 key, at least ${JWT_SECRET_MIN} characters; required when NODE_ENV=production`,
  }),
  JWT_ISSUER: stringField({ default: 'trellis', description: 'Expected "iss" claim' }),
  JWT_AUDIENCE: stringField({ default: 'trellis', description: 'Expected "aud" claim' }),
  JWKS_URL: urlField({
    protocols: ['https:', 'http:'],
    description: 'JWKS endpoint for asymmetric tokens from an external identity provider',
  }),
  DEV_TOKEN_ROUTE: boolField({
    defaultLabel: 'true unless NODE_ENV=production',
    description: 'Serve the development token route, which mints a token for anyone (local runs, tests)',
  }),
  CORS_ORIGINS: envField(parseList(parseOrigin, 'origins'), {
    default: ['http://localhost:3001', 'http://127.0.0.1:3001'],
    description: 'Browser origins allowed to call REST and open Socket.IO connections',
  }),
});

export interface SignalingConfig extends CommonConfig {
  redis: RedisConnectionConfig;
  http: { host: string; port: number };
  jwt: {
    secret: string;
    issuer: string;
    audience: string;
    jwksUrl?: string;
    /** True when running on DEV_JWT_SECRET, so startup can log a warning. */
    usingDevSecret: boolean;
  };
  devTokenRoute: boolean;
  corsOrigins: string[];
}

export const signalingConfig = signalingEnv.transform((e, ctx): SignalingConfig => {
  const redis = toRedisConfig(e, ctx);
  const production = e.NODE_ENV === 'production';
  if (production && e.JWT_SECRET === undefined) {
    ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'is required when NODE_ENV=production' });
  }
  if (production && e.JWT_SECRET === DEV_JWT_SECRET) {
    ctx.addIssue({
      code: 'custom',
      path: ['JWT_SECRET'],
      message: 'is the public development secret, which is not allowed when NODE_ENV=production',
    });
  }
  const jwt: SignalingConfig['jwt'] = {
    secret: e.JWT_SECRET ?? DEV_JWT_SECRET,
    issuer: e.JWT_ISSUER,
    audience: e.JWT_AUDIENCE,
    usingDevSecret: e.JWT_SECRET === undefined,
  };
  if (e.JWKS_URL !== undefined) jwt.jwksUrl = e.JWKS_URL;
  return {
    ...toCommonConfig(e),
    redis,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    jwt,
    devTokenRoute: e.DEV_TOKEN_ROUTE ?? !production,
    corsOrigins: e.CORS_ORIGINS,
  };
});
