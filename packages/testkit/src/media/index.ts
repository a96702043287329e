export * from './mediasoupWorker';
export * from './rtp';
export * from './wrtc';
