export * from './rtp';
export * from './wrtc';
