export * from './define';
export * from './events';
export * from './grants';
export * from './history';
export * from './mediaControl';
export * from './requests';
export * from './state';
