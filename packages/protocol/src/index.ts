export * as Api from './api/index';
export * from './bus/node';
export * from './catalog';
export * from './envelope';
export * from './errors';
export * from './sfu/index';
