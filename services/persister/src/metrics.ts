import type { MetricsRegistry } from '@trellis/telemetry';
import type { Queue } from 'bullmq';

export type PersisterMetrics = ReturnType<typeof persisterMetrics>;

export function persisterMetrics(metrics: MetricsRegistry, queues: () => Queue[]) {
  metrics.gauge(
    'persister_queue_depth',
    'Jobs in a queue by state (waiting, active, delayed, failed)',
    ['queue', 'state'],
    {
      async collect() {
        this.reset();
        for (const queue of queues()) {
          const counts = await queue
            .getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized')
            .catch(() => undefined);
          if (!counts) continue;
          for (const [state, n] of Object.entries(counts)) this.set({ queue: queue.name, state }, n);
        }
      },
    },
  );
  return {
    processed: metrics.counter('persister_jobs_processed_total', 'Jobs completed, by queue and job name', [
      'queue',
      'job',
    ]),
    failed: metrics.counter(
      'persister_jobs_failed_total',
      'Job attempts that failed (each retry counts), by queue and job name',
      ['queue', 'job'],
    ),
    duration: metrics.histogram('persister_job_seconds', 'Time to run one job', ['queue', 'job'], {
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
    lag: metrics.histogram('persister_queue_lag_seconds', 'From enqueue to the end of the job', ['queue'], {
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    }),
    metricRows: metrics.counter('persister_metric_rows_total', 'CallMetrics rows inserted'),
    webhooks: metrics.counter('persister_webhook_deliveries_total', 'Webhook delivery attempts by outcome', [
      'event',
      'outcome',
    ]),
  };
}
