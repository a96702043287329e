import { z } from 'zod';
import { type CommonConfig, commonEnv, metricsPortField, toCommonConfig } from '../common.js';
import {
  boolField,
  envField,
  intField,
  parseList,
  parseString,
  parseUrl,
  portField,
  stringField,
  urlField,
} from '../fields.js';
import { type RedisConnectionConfig, redisEnv, toRedisConfig } from '../redis.js';

/** Public on purpose: only ever used outside production, and rejected in production. */
export const DEV_JWT_SECRET = 'trellis-dev-secret-do-not-use-in-production';
const JWT_SECRET_MIN = 32;

/** What signaling accepts: HS256 with the shared secret, RS256/ES256 with keys from JWKS_URL. */
export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';

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
    description: `HS256 key, at least ${JWT_SECRET_MIN} characters; required when NODE_ENV=production without JWKS_URL`,
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
  STUN_URLS: envField(parseList(parseUrl(['stun:', 'stuns:']), 'stun: URLs'), {
    default: [],
    defaultLabel: 'none',
    description: 'STUN servers handed to clients, e.g. stun:stun.example.com:3478',
  }),
  TURN_URLS: envField(parseList(parseUrl(['turn:', 'turns:']), 'turn:/turns: URLs'), {
    default: [],
    defaultLabel: 'none',
    description: 'TURN servers handed to clients, e.g. turn:turn.example.com:3478?transport=udp',
  }),
  TURN_SECRET: stringField({
    secret: true,
    description: "coturn's static-auth-secret: signaling derives short-lived TURN credentials from it",
  }),
  TURN_CREDENTIAL_TTL_S: intField({
    min: 60,
    max: 604_800,
    default: 86_400,
    description: 'Lifetime of the TURN credentials handed out at join; a rejoin gets fresh ones',
  }),
  // Jitsi's backToP2PDelay: a participant who drops and rejoins within it does not bounce the call
  // between SFU and P2P twice.
  P2P_HYSTERESIS_MS: intField({
    min: 0,
    max: 600_000,
    default: 5_000,
    description: 'How long a call must have two participants before it moves back from SFU to P2P',
  }),
  MIGRATION_TIMEOUT_MS: intField({
    min: 1_000,
    max: 120_000,
    default: 10_000,
    description: 'How long a P2P↔SFU migration waits for every participant to report the new path',
  }),
  MIGRATION_RETRY_MS: intField({
    min: 0,
    max: 120_000,
    default: 3_000,
    description: 'Pause after a timed-out migration before the next attempt',
  }),
  RESUME_GRACE_MS: intField({
    min: 0,
    max: 600_000,
    default: 20_000,
    description: 'How long a disconnected participant keeps its place and may resume its session',
  }),
  MAX_PARTICIPANTS: intField({
    min: 2,
    max: 50,
    default: 50,
    description: 'Participants per room unless the room was created with a lower limit',
  }),
  RATE_LIMITS: boolField({
    default: true,
    description:
      'Per-participant request limits (from the API table) and a per-IP limit; off only for load tests',
  }),
  PERSIST_CALL_EVENTS: boolField({
    default: true,
    description: 'Queue call, participant, track and mode events for the persister (BullMQ)',
  }),
  DATABASE_URL: urlField({
    protocols: ['postgresql:', 'postgres:'],
    secret: true,
    description:
      'PostgreSQL the persister writes to: serves the call history API (unset: it answers UNAVAILABLE)',
  }),
  RATE_LIMIT_IP_PER_SECOND: intField({
    min: 1,
    max: 1_000_000,
    default: 200,
    description: 'Requests per second one client IP may make across all participants behind it',
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
    /** Accepted "alg" values; HS256 only when the secret is in use, never the dev secret beside a JWKS. */
    algorithms: JwtAlgorithm[];
    /** True when running on DEV_JWT_SECRET, so startup can log a warning. */
    usingDevSecret: boolean;
  };
  devTokenRoute: boolean;
  corsOrigins: string[];
  stunUrls: string[];
  /** TURN REST API credentials (coturn use-auth-secret); no TURN entry is handed out without a secret. */
  turn: { urls: string[]; secret?: string; ttlSeconds: number };
  call: {
    p2pHysteresisMs: number;
    migrationTimeoutMs: number;
    migrationRetryMs: number;
    resumeGraceMs: number;
    maxParticipants: number;
  };
  rateLimits: { enabled: boolean; perIpPerSecond: number };
  persistCallEvents: boolean;
  databaseUrl?: string;
}

export const signalingConfig = signalingEnv.transform((e, ctx): SignalingConfig => {
  const redis = toRedisConfig(e, ctx);
  const production = e.NODE_ENV === 'production';
  // With a JWKS the operator's identity provider signs tokens; no shared secret is needed.
  if (production && e.JWT_SECRET === undefined && e.JWKS_URL === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['JWT_SECRET'],
      message: 'is required when NODE_ENV=production (unless JWKS_URL is set)',
    });
  }
  if (production && e.JWT_SECRET === DEV_JWT_SECRET) {
    ctx.addIssue({
      code: 'custom',
      path: ['JWT_SECRET'],
      message: 'is the public development secret, which is not allowed when NODE_ENV=production',
    });
  }
  if (e.TURN_URLS.length > 0 && e.TURN_SECRET === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['TURN_SECRET'],
      message: 'is required when TURN_URLS is set (clients would get TURN servers they cannot use)',
    });
  }
  // Beside a JWKS the dev secret would let anyone who read this repository mint tokens, so HS256
  // stays on only when the operator chose a secret.
  const algorithms: JwtAlgorithm[] =
    e.JWKS_URL === undefined
      ? ['HS256']
      : [...(e.JWT_SECRET === undefined ? [] : (['HS256'] as const)), 'RS256', 'ES256'];
  const jwt: SignalingConfig['jwt'] = {
    secret: e.JWT_SECRET ?? DEV_JWT_SECRET,
    issuer: e.JWT_ISSUER,
    audience: e.JWT_AUDIENCE,
    algorithms,
    usingDevSecret: e.JWT_SECRET === undefined && algorithms.includes('HS256'),
  };
  if (e.JWKS_URL !== undefined) jwt.jwksUrl = e.JWKS_URL;
  const turn: SignalingConfig['turn'] = { urls: e.TURN_URLS, ttlSeconds: e.TURN_CREDENTIAL_TTL_S };
  if (e.TURN_SECRET !== undefined) turn.secret = e.TURN_SECRET;
  return {
    ...toCommonConfig(e),
    redis,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    jwt,
    devTokenRoute: e.DEV_TOKEN_ROUTE ?? !production,
    corsOrigins: e.CORS_ORIGINS,
    stunUrls: e.STUN_URLS,
    turn,
    call: {
      p2pHysteresisMs: e.P2P_HYSTERESIS_MS,
      migrationTimeoutMs: e.MIGRATION_TIMEOUT_MS,
      migrationRetryMs: e.MIGRATION_RETRY_MS,
      resumeGraceMs: e.RESUME_GRACE_MS,
      maxParticipants: e.MAX_PARTICIPANTS,
    },
    rateLimits: { enabled: e.RATE_LIMITS, perIpPerSecond: e.RATE_LIMIT_IP_PER_SECOND },
    persistCallEvents: e.PERSIST_CALL_EVENTS,
    ...(e.DATABASE_URL === undefined ? {} : { databaseUrl: e.DATABASE_URL }),
  };
});
