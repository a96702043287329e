export * as Api from './api/index';
export * from './bus/node';
export * from './catalog';
export * from './envelope';
export * from './errors';
export * as Jobs from './jobs/index';
export * from './sfu/index';
