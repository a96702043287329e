export * from './createNodeSelector';
export * from './interfaces';
export * from './LeastLoadedSelector';
export * from './load';
export * from './PowerOfTwoSelector';
export * from './RegionAwareSelector';
