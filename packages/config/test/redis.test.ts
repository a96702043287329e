import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type RedisConnectionConfig, redisConfig } from '../src/index.js';

describe('redis connection modes', () => {
  it('defaults to a single local server', () => {
    expect(loadConfig(redisConfig, {})).toEqual<RedisConnectionConfig>({
      mode: 'single',
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'trellis:',
    });
  });

  it('adds REDIS_PASSWORD to a URL that has none, encoded', () => {
    const cfg = loadConfig(redisConfig, { REDIS_URL: 'rediss://cache:6380/2', REDIS_PASSWORD: 'p@ss' });
    expect(cfg).toMatchObject({ mode: 'single', url: 'rediss://:p%40ss@cache:6380/2' });
    const kept = loadConfig(redisConfig, { REDIS_URL: 'redis://:own@cache:6379', REDIS_PASSWORD: 'other' });
    expect(kept).toMatchObject({ url: 'redis://:own@cache:6379' });
  });

  it('parses sentinel mode', () => {
    const cfg = loadConfig(redisConfig, {
      REDIS_SENTINELS: 's1:26379, s2:26379,[::1]:26380',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_PASSWORD: 'pw',
      REDIS_KEY_PREFIX: 'x:',
    });
    expect(cfg).toEqual<RedisConnectionConfig>({
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'mymaster',
      password: 'pw',
      keyPrefix: 'x:',
    });
  });

  it('parses cluster mode, which wins over sentinels', () => {
    const cfg = loadConfig(redisConfig, {
      REDIS_CLUSTER_NODES: 'n1:7000,n2:7001',
      REDIS_SENTINELS: 's1:26379',
    });
    expect(cfg).toEqual<RedisConnectionConfig>({
      mode: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      keyPrefix: 'trellis:',
    });
    expect('password' in cfg).toBe(false);
  });

  it('requires REDIS_SENTINEL_NAME with sentinels', () => {
    expect(() => loadConfig(redisConfig, { REDIS_SENTINELS: 's1:26379' })).toThrowError(
      /^Invalid configuration: REDIS_SENTINEL_NAME: is required when REDIS_SENTINELS is set/,
    );
    expect(() => loadConfig(redisConfig, { REDIS_SENTINELS: 's1:26379' })).toThrowError(ConfigError);
  });

  it('rejects malformed host lists and ports', () => {
    expect(() => loadConfig(redisConfig, { REDIS_CLUSTER_NODES: 'n1:99999' })).toThrowError(
      'REDIS_CLUSTER_NODES: expected a comma-separated list of host:port; item "n1:99999" is not host:port, got "n1:99999"',
    );
    expect(() => loadConfig(redisConfig, { REDIS_SENTINELS: ',' })).toThrowError(
      /REDIS_SENTINELS: expected a non-empty/,
    );
  });
});
