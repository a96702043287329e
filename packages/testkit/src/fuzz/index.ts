export * from './zodArbitrary';
