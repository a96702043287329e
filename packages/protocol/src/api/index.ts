export * from './define';
export * from './events';
export * from './grants';
export * from './requests';
export * from './state';
