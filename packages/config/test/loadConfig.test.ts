import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  commonConfig,
  DEV_JWT_SECRET,
  describeConfig,
  loadConfig,
  persisterConfig,
  sfuConfig,
  signalingConfig,
} from '../src/index.js';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('parses an empty environment for every service', () => {
    const sfu = loadConfig(sfuConfig, {});
    expect(sfu.env).toBe('development');
    expect(sfu.logLevel).toBe('info');
    expect(sfu.region).toBe('local');
    expect(sfu.nodeId).toMatch(/^[A-Za-z0-9._-]+-[0-9a-f]{6}$/);
    expect(sfu.redis).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379', keyPrefix: 'trellis:' });
    expect(sfu.rtc.listenIp).toBe('127.0.0.1');
    expect(sfu.rtc.announcedAddress).toBeUndefined();
    expect(sfu.rtc.basePort).toBe(20000);
    expect(sfu.workers).toBeGreaterThanOrEqual(1);
    expect(sfu.rtc.ports).toHaveLength(sfu.workers);
    expect(sfu.maxConsumersPerWorker).toBe(500);
    expect(sfu.heartbeat.ttlMs).toBeGreaterThan(sfu.heartbeat.intervalMs);

    const sig = loadConfig(signalingConfig, {});
    expect(sig.http).toEqual({ host: '127.0.0.1', port: 3000 });
    expect(sig.jwt.secret).toBe(DEV_JWT_SECRET);
    expect(sig.jwt.usingDevSecret).toBe(true);
    expect(sig.devTokenRoute).toBe(true);
    expect(sig.corsOrigins.length).toBeGreaterThan(0);
    expect(sig.jwt.algorithms).toEqual(['HS256']);
    expect(sig.stunUrls).toEqual([]);
    expect(sig.turn).toEqual({ urls: [], ttlSeconds: 86_400 });
    expect(sig.call).toEqual({
      p2pHysteresisMs: 5_000,
      migrationTimeoutMs: 10_000,
      migrationRetryMs: 3_000,
      resumeGraceMs: 20_000,
      maxParticipants: 50,
    });
    expect(sig.rateLimits).toEqual({ enabled: true, perIpPerSecond: 200 });

    const per = loadConfig(persisterConfig, {});
    expect(per.databaseUrl).toBe('postgresql://postgres@127.0.0.1:5432/trellis');
    expect(per.concurrency).toBe(8);
  });

  it('gives each service its own metrics port so they can share a host', () => {
    const ports = [sfuConfig, signalingConfig, persisterConfig].map((s) => loadConfig(s, {}).metricsPort);
    expect(new Set(ports).size).toBe(3);
  });

  it('generates a fresh NODE_ID per load but honours an explicit one', () => {
    expect(loadConfig(commonConfig, {}).nodeId).not.toBe(loadConfig(commonConfig, {}).nodeId);
    expect(loadConfig(commonConfig, { NODE_ID: 'sfu-a' }).nodeId).toBe('sfu-a');
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig(sfuConfig, { SFU_RTC_PORT: '', LOG_LEVEL: ' ' }).rtc.basePort).toBe(20000);
  });

  it('reads process.env when no env is passed', () => {
    expect(loadConfig(commonConfig).env).toBe(process.env.NODE_ENV ?? 'development');
  });
});

describe('parsing values', () => {
  it('parses integers, booleans and lists from strings', () => {
    const sfu = loadConfig(sfuConfig, {
      SFU_RTC_PORT: '41000',
      SFU_WORKERS: '3',
      SFU_RTC_LISTEN_IP: '0.0.0.0',
      SFU_RTC_ANNOUNCED_ADDRESS: 'media.example.com',
    });
    expect(sfu.rtc.ports).toEqual([41000, 41001, 41002]);
    expect(sfu.rtc.announcedAddress).toBe('media.example.com');

    for (const [raw, value] of [
      ['true', true],
      ['1', true],
      ['FALSE', false],
      ['0', false],
    ] as const) {
      expect(loadConfig(signalingConfig, { DEV_TOKEN_ROUTE: raw }).devTokenRoute).toBe(value);
    }
    const sig = loadConfig(signalingConfig, { CORS_ORIGINS: ' https://a.example.com/ ,,http://b.test:8080' });
    expect(sig.corsOrigins).toEqual(['https://a.example.com', 'http://b.test:8080']);
  });

  it('configures production signaling from a real secret', () => {
    const secret = 's'.repeat(40);
    const sig = loadConfig(signalingConfig, {
      NODE_ENV: 'production',
      JWT_SECRET: secret,
      JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
    });
    expect(sig.jwt).toMatchObject({ secret, usingDevSecret: false, jwksUrl: expect.stringContaining('idp') });
    expect(sig.jwt.algorithms).toEqual(['HS256', 'RS256', 'ES256']);
    expect(sig.devTokenRoute).toBe(false);
  });

  it('accepts only asymmetric tokens when a JWKS replaces the secret', () => {
    const sig = loadConfig(signalingConfig, {
      NODE_ENV: 'production',
      JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
    });
    // The dev secret stays in the config object, but no HS256 token is ever checked against it.
    expect(sig.jwt.algorithms).toEqual(['RS256', 'ES256']);
    expect(sig.jwt.usingDevSecret).toBe(false);
  });

  it('reads TURN, STUN, call timing and rate limits', () => {
    const sig = loadConfig(signalingConfig, {
      STUN_URLS: 'stun:stun.example.com:3478',
      TURN_URLS: 'turn:turn.example.com:3478?transport=udp, turns:turn.example.com:5349?transport=tcp',
      TURN_SECRET: 'coturn-static-auth-secret',
      TURN_CREDENTIAL_TTL_S: '3600',
      P2P_HYSTERESIS_MS: '0',
      MIGRATION_TIMEOUT_MS: '4000',
      MIGRATION_RETRY_MS: '500',
      RESUME_GRACE_MS: '30000',
      MAX_PARTICIPANTS: '8',
      RATE_LIMITS: 'off',
      RATE_LIMIT_IP_PER_SECOND: '1000',
    });
    expect(sig.stunUrls).toEqual(['stun:stun.example.com:3478']);
    expect(sig.turn).toEqual({
      urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349?transport=tcp'],
      secret: 'coturn-static-auth-secret',
      ttlSeconds: 3600,
    });
    expect(sig.call).toEqual({
      p2pHysteresisMs: 0,
      migrationTimeoutMs: 4000,
      migrationRetryMs: 500,
      resumeGraceMs: 30_000,
      maxParticipants: 8,
    });
    expect(sig.rateLimits).toEqual({ enabled: false, perIpPerSecond: 1000 });
  });
});

describe('bad values name the variable', () => {
  it.each([
    [{ SFU_RTC_PORT: 'abc' }, 'SFU_RTC_PORT: expected an integer between 1 and 65535, got "abc"'],
    [{ SFU_RTC_PORT: '70000' }, 'SFU_RTC_PORT: expected an integer between 1 and 65535, got "70000"'],
    [{ SFU_WORKERS: '2.5' }, 'SFU_WORKERS: expected an integer'],
    [
      { LOG_LEVEL: 'loud' },
      'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV: expected one of development, test, production'],
    [{ NODE_ID: 'a{b}' }, 'NODE_ID: expected 1-64 characters'],
    [
      { REDIS_SENTINELS: 'h1:26379,h2:26379' },
      'REDIS_SENTINEL_NAME: is required when REDIS_SENTINELS is set',
    ],
    [
      { REDIS_CLUSTER_NODES: 'h1:7000,h2' },
      'REDIS_CLUSTER_NODES: expected a comma-separated list of host:port',
    ],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL: expected a URL with scheme redis or rediss'],
    [{ SFU_RTC_LISTEN_IP: 'localhost' }, 'SFU_RTC_LISTEN_IP: expected an IPv4 or IPv6 address'],
    [
      { SFU_RTC_LISTEN_IP: '0.0.0.0' },
      'SFU_RTC_ANNOUNCED_ADDRESS: is required when SFU_RTC_LISTEN_IP is 0.0.0.0',
    ],
    [{ SFU_RTC_PORT: '65535', SFU_WORKERS: '2' }, 'SFU_RTC_PORT: 65535 + 2 workers runs past port 65535'],
    [
      { SFU_HEARTBEAT_TTL_MS: '1000' },
      'SFU_HEARTBEAT_TTL_MS: must be greater than SFU_HEARTBEAT_INTERVAL_MS',
    ],
  ])('sfu %j', (env, message) => {
    const err = errorOf(() => loadConfig(sfuConfig, env));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('Invalid configuration: ');
    expect(err.message).toContain(message);
  });

  it('requires JWT_SECRET in production', () => {
    const err = errorOf(() => loadConfig(signalingConfig, { NODE_ENV: 'production' }));
    const message = 'is required when NODE_ENV=production (unless JWKS_URL is set)';
    expect(err.message).toBe(`Invalid configuration: JWT_SECRET: ${message}`);
    expect(err.problems).toEqual([{ variable: 'JWT_SECRET', message }]);
  });

  it('refuses the public dev secret in production', () => {
    const err = errorOf(() =>
      loadConfig(signalingConfig, { NODE_ENV: 'production', JWT_SECRET: DEV_JWT_SECRET }),
    );
    expect(err.message).toContain('JWT_SECRET: is the public development secret');
  });

  it('never echoes a secret value', () => {
    const err = errorOf(() => loadConfig(signalingConfig, { JWT_SECRET: 'hunter2' }));
    expect(err.message).toContain('JWT_SECRET: expected at least 32 characters (value hidden)');
    expect(err.message).not.toContain('hunter2');
    const db = errorOf(() => loadConfig(persisterConfig, { DATABASE_URL: 'mysql://u:pw@h/db' }));
    expect(db.message).not.toContain('pw@');
  });

  it('rejects bad booleans, lists and counts with clear messages', () => {
    const err = errorOf(() =>
      loadConfig(signalingConfig, {
        DEV_TOKEN_ROUTE: 'maybe',
        CORS_ORIGINS: 'not an origin',
        HTTP_PORT: '-1',
      }),
    );
    expect(err.problems.map((p) => p.variable)).toEqual(['HTTP_PORT', 'DEV_TOKEN_ROUTE', 'CORS_ORIGINS']);
    expect(err.message).toContain('DEV_TOKEN_ROUTE: expected a boolean (true/false/1/0), got "maybe"');
    expect(err.message).toContain('item "not an origin" is not an origin like');
    expect(errorOf(() => loadConfig(persisterConfig, { PERSISTER_CONCURRENCY: '0' })).message).toContain(
      'PERSISTER_CONCURRENCY: expected an integer between 1 and 256, got "0"',
    );
  });

  it.each([
    [
      { TURN_URLS: 'https://turn.example.com' },
      'TURN_URLS: expected a comma-separated list of turn:/turns: URLs',
    ],
    [{ STUN_URLS: 'turn:x.example.com' }, 'STUN_URLS: expected a comma-separated list of stun: URLs'],
    [{ TURN_URLS: 'turn:turn.example.com' }, 'TURN_SECRET: is required when TURN_URLS is set'],
    [{ TURN_CREDENTIAL_TTL_S: '10' }, 'TURN_CREDENTIAL_TTL_S: expected an integer between 60 and 604800'],
    [{ MAX_PARTICIPANTS: '1' }, 'MAX_PARTICIPANTS: expected an integer between 2 and 50, got "1"'],
    [{ MAX_PARTICIPANTS: '51' }, 'MAX_PARTICIPANTS: expected an integer between 2 and 50, got "51"'],
    [{ MIGRATION_TIMEOUT_MS: '10' }, 'MIGRATION_TIMEOUT_MS: expected an integer between 1000'],
    [{ RATE_LIMITS: 'sometimes' }, 'RATE_LIMITS: expected a boolean'],
    [{ RATE_LIMIT_IP_PER_SECOND: '0' }, 'RATE_LIMIT_IP_PER_SECOND: expected an integer between 1'],
  ])('signaling %j', (env, message) => {
    expect(errorOf(() => loadConfig(signalingConfig, env)).message).toContain(message);
  });

  it('never echoes the TURN secret', () => {
    const err = errorOf(() => loadConfig(signalingConfig, { TURN_SECRET: 'hunter2', MAX_PARTICIPANTS: 'x' }));
    expect(err.message).not.toContain('hunter2');
    const sig = Object.fromEntries(describeConfig(signalingConfig).map((v) => [v.name, v]));
    expect(sig.TURN_SECRET).toMatchObject({ secret: true });
    expect(sig.TURN_URLS?.default).toBe('none');
  });

  it('names every bad variable at once', () => {
    const err = errorOf(() =>
      loadConfig(sfuConfig, { SFU_RTC_PORT: 'abc', LOG_LEVEL: 'loud', METRICS_PORT: 'x' }),
    );
    expect(err.problems.map((p) => p.variable).sort()).toEqual(['LOG_LEVEL', 'METRICS_PORT', 'SFU_RTC_PORT']);
  });
});
