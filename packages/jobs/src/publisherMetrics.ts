import type { MetricsRegistry } from '@trellis/telemetry';
import type { JobPublisher } from './JobPublisher';

/**
 * The publisher never blocks its caller, so a Redis outage shows up only here: a growing backlog,
 * then drops. Read at scrape time from the publisher's own counters (nothing to keep in sync).
 */
export function observeJobPublisher(publisher: JobPublisher, metrics: MetricsRegistry): void {
  metrics.gauge('jobs_publisher_backlog', 'Persistence jobs waiting to be sent to Redis', [], {
    collect() {
      this.set(publisher.stats.backlog);
    },
  });
  metrics.gauge(
    'jobs_publisher_jobs',
    'Persistence jobs by fate since start: sent, dropped (backlog full or closed), invalid',
    ['outcome'],
    {
      collect() {
        const { sent, dropped, invalid } = publisher.stats;
        this.set({ outcome: 'sent' }, sent);
        this.set({ outcome: 'dropped' }, dropped);
        this.set({ outcome: 'invalid' }, invalid);
      },
    },
  );
}
