export * from './ids';
export * from './JobPublisher';
export * from './JobPublisherTypes';
export * from './queues';
export * from './webhookSignature';
export * from './publisherMetrics';
