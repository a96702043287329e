import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  commonEnv,
  describeConfig,
  persisterConfig,
  redisEnv,
  sfuConfig,
  signalingConfig,
} from '../src/index.js';

const names = (schema: z.ZodType) => describeConfig(schema).map((v) => v.name);

describe('describeConfig', () => {
  it('lists common, redis and service variables for each service', () => {
    const shared = [...Object.keys(commonEnv.shape), ...Object.keys(redisEnv.shape)];
    expect(shared).toEqual(
      expect.arrayContaining(['NODE_ENV', 'LOG_LEVEL', 'NODE_ID', 'REGION', 'METRICS_PORT', 'REDIS_URL']),
    );
    for (const schema of [sfuConfig, signalingConfig, persisterConfig]) {
      expect(names(schema)).toEqual(expect.arrayContaining(shared));
    }
    expect(names(sfuConfig)).toEqual(
      expect.arrayContaining(['SFU_RTC_PORT', 'SFU_WORKERS', 'SFU_DRAIN_TIMEOUT_MS', 'SFU_HEARTBEAT_TTL_MS']),
    );
    expect(names(signalingConfig)).toEqual(
      expect.arrayContaining(['HTTP_PORT', 'JWT_SECRET', 'JWKS_URL', 'DEV_TOKEN_ROUTE', 'CORS_ORIGINS']),
    );
    expect(names(persisterConfig)).toEqual(expect.arrayContaining(['DATABASE_URL', 'PERSISTER_CONCURRENCY']));
    expect(new Set(names(sfuConfig)).size).toBe(names(sfuConfig).length);
  });

  it('reports defaults, computed defaults and secrets', () => {
    const sfu = Object.fromEntries(describeConfig(sfuConfig).map((v) => [v.name, v]));
    expect(sfu.SFU_RTC_PORT).toMatchObject({ default: '20000', required: false, secret: false });
    expect(sfu.SFU_WORKERS?.default).toBe('number of CPUs');
    expect(sfu.REDIS_KEY_PREFIX?.default).toBe('trellis:');
    expect(sfu.REDIS_SENTINELS?.default).toBeUndefined();
    expect(sfu.REDIS_PASSWORD?.secret).toBe(true);
    expect(sfu.SFU_RTC_PORT?.description).not.toBe('');
    const sig = Object.fromEntries(describeConfig(signalingConfig).map((v) => [v.name, v]));
    expect(sig.JWT_SECRET).toMatchObject({ secret: true });
    expect(sig.JWT_SECRET?.default).toBeUndefined();
    expect(sig.CORS_ORIGINS?.default).toContain(',');
  });

  it('accepts plain zod fields and rejects non-object schemas', () => {
    const custom = z.object({ PLAIN: z.string(), MAYBE: z.string().optional() });
    expect(describeConfig(custom)).toEqual([
      { name: 'PLAIN', description: '', required: true, secret: false },
      { name: 'MAYBE', description: '', required: false, secret: false },
    ]);
    expect(() => describeConfig(z.string())).toThrowError(ConfigError);
  });
});
