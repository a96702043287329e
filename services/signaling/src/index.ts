export * from './auth/mintToken';
export * from './auth/TokenVerifier';
export * from './call/CallStateTypes';
export * from './call/CallStore';
export * from './SignalingNode';
