export * from './commands';
export * from './events';
export * from './media';
export * from './pipes';
