export * from './process';
export * from './services/containers';
export * from './services/findBinary';
export * from './services/postgres';
export * from './services/redis';
export * from './services/redisTopologies';
export * from './services/tcp';
export * from './waitFor';
