export * from './ids';
export * from './JobPublisher';
export * from './JobPublisherTypes';
export * from './publisherMetrics';
export * from './queues';
export * from './webhookSignature';
