export * from './localCluster';
export * from './progress';
