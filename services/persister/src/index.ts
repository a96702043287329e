export * from './CallRecorder';
export * from './MetricsWriter';
export * from './PersisterNode';
export * from './PersisterNodeTypes';
export * from './WebhookSender';
