export * from './codecs';
export * from './Peer';
export * from './Room';
export * from './SfuNode';
export * from './WorkerHandle';
export * from './WorkerPool';
