import {
  backoffStrategy,
  defaultJobOptions,
  derivedId,
  isPersistJobName,
  parseJob,
  QueueName,
  queuePrefix,
} from '@trellis/jobs';
import { Jobs } from '@trellis/protocol';
import { throttledWarn } from '@trellis/telemetry';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { CallRecorder } from './CallRecorder';
import { MetricsWriter } from './MetricsWriter';
import { type PersisterMetrics, persisterMetrics } from './metrics';
import type { PersisterNodeOptions, PersisterState } from './PersisterNodeTypes';
import { WebhookSender } from './WebhookSender';
import { webhookBodyOf } from './webhookEvents';

/**
 * The persister: BullMQ workers for the call-event and metrics queues writing to PostgreSQL, and
 * one delivering webhooks. A job that throws is retried with exponential backoff (a database
 * outage is ridden out); one whose data is invalid fails at once and stays in the failed set for
 * inspection. close() stops taking jobs and waits for those in flight, so a restart loses none and
 * — writes being idempotent — a job interrupted by a crash is simply run again.
 */
export class PersisterNode {
  readonly #o: PersisterNodeOptions;
  readonly #recorder: CallRecorder;
  readonly #metricsWriter: MetricsWriter;
  readonly #metrics: PersisterMetrics;
  readonly #workers: Worker[] = [];
  readonly #webhookQueue: Queue | undefined;
  readonly #sender: WebhookSender | undefined;
  readonly #inspect: Queue[];
  #state: PersisterState = 'starting';

  constructor(options: PersisterNodeOptions) {
    this.#o = options;
    this.#recorder = new CallRecorder(options.db);
    this.#metricsWriter = new MetricsWriter(options.db);
    const prefix = queuePrefix(options.keyPrefix);
    const { urls, secret } = options.webhooks;
    if (urls.length > 0 && secret) {
      this.#webhookQueue = new Queue(QueueName.webhooks, {
        connection: options.connection,
        prefix,
        defaultJobOptions: defaultJobOptions[QueueName.webhooks],
      });
      this.#sender = new WebhookSender({ secret, timeoutMs: options.webhooks.timeoutMs });
    }
    this.#inspect = [QueueName.calls, QueueName.metrics].map(
      (name) => new Queue(name, { connection: options.connection, prefix }),
    );
    if (this.#webhookQueue) this.#inspect.push(this.#webhookQueue);
    this.#metrics = persisterMetrics(options.metrics, () => this.#inspect);
  }

  get state(): PersisterState {
    return this.#state;
  }

  start(): void {
    const { connection, keyPrefix, concurrency, metricsConcurrency } = this.#o;
    const prefix = queuePrefix(keyPrefix);
    const worker = (name: QueueName, n: number, run: (job: Job) => Promise<unknown>) => {
      const w = new Worker(name, (job) => this.#timed(name, job, run), {
        connection,
        prefix,
        concurrency: n,
        // A crashed persister's active jobs are taken back after this long without a lock renewal.
        settings: { backoffStrategy },
        lockDuration: this.#o.jobLockMs ?? 30_000,
        stalledInterval: this.#o.jobLockMs ?? 30_000,
        maxStalledCount: 3,
      });
      w.on('failed', (job, error) => {
        this.#metrics.failed.inc({ queue: name, job: job?.name ?? 'unknown' });
        const final =
          error instanceof UnrecoverableError ||
          (job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1));
        this.#o.logger[final ? 'error' : 'warn'](
          { queue: name, job: job?.name, jobId: job?.id, attempt: job?.attemptsMade, err: error.message },
          final ? 'job failed for good (kept in the failed set)' : 'job failed; will retry',
        );
      });
      const warn = throttledWarn(this.#o.logger, 'worker error');
      w.on('error', (error) => warn({ queue: name, err: error.message }));
      this.#workers.push(w);
    };
    worker(QueueName.calls, concurrency, (job) => this.#callEvent(job));
    worker(QueueName.metrics, metricsConcurrency, (job) => this.#metricsSample(job));
    if (this.#sender) worker(QueueName.webhooks, this.#o.webhooks.concurrency, (job) => this.#webhook(job));
    this.#state = 'serving';
    this.#o.logger.info(
      { concurrency, metricsConcurrency, webhooks: this.#o.webhooks.urls.length },
      'persister serving',
    );
  }

  /** Waits for the workers to connect (tests start producing only after this). */
  async ready(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.waitUntilReady()));
  }

  /** Stops taking jobs and lets the ones in flight finish. */
  async close(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    await Promise.all(this.#workers.map((w) => w.close()));
    await Promise.all(this.#inspect.map((q) => q.close()));
    this.#state = 'stopped';
    this.#o.logger.info('persister stopped');
  }

  async #timed(queue: QueueName, job: Job, run: (job: Job) => Promise<unknown>): Promise<unknown> {
    const end = this.#metrics.duration.startTimer({ queue, job: job.name });
    const result = await run(job);
    end();
    this.#metrics.processed.inc({ queue, job: job.name });
    this.#metrics.lag.observe({ queue }, Math.max(0, Date.now() - job.timestamp) / 1000);
    return result;
  }

  #parse<N extends Jobs.PersistJobName>(job: Job, name: N): Jobs.PersistJobData<N> {
    try {
      return parseJob(name, job.data);
    } catch (error) {
      // Retrying cannot make bad data good: fail now, keep it for inspection.
      throw new UnrecoverableError(`invalid ${name} job ${job.id}: ${String(error)}`);
    }
  }

  async #callEvent(job: Job): Promise<void> {
    const name = job.name;
    if (!isPersistJobName(name) || name === 'metrics.sample')
      throw new UnrecoverableError(`unknown job ${name} on ${QueueName.calls}`);
    const r = this.#recorder;
    switch (name) {
      case 'call.started':
        await r.callStarted(this.#parse(job, name));
        break;
      case 'participant.joined':
        await r.participantJoined(this.#parse(job, name));
        break;
      case 'participant.left':
        await r.participantLeft(this.#parse(job, name));
        break;
      case 'mode.changed':
        await r.modeChanged(this.#parse(job, name));
        break;
      case 'track.published':
        await r.trackPublished(this.#parse(job, name));
        break;
      case 'track.unpublished':
        await r.trackUnpublished(this.#parse(job, name));
        break;
      case 'call.ended':
        await r.callEnded(this.#parse(job, name));
        break;
    }
    await this.#announce(name, job.data);
  }

  async #metricsSample(job: Job): Promise<number> {
    if (job.name !== 'metrics.sample')
      throw new UnrecoverableError(`unknown job ${job.name} on ${QueueName.metrics}`);
    const rows = await this.#metricsWriter.write(this.#parse(job, 'metrics.sample'));
    this.#metrics.metricRows.inc(rows);
    return rows;
  }

  /**
   * After the event is stored, one delivery job per URL. Their ids derive from the event and the
   * URL, so a retried event job (stored, then failed before this) queues no second delivery.
   */
  async #announce(name: Jobs.PersistJobName, data: unknown): Promise<void> {
    if (!this.#webhookQueue) return;
    const body = webhookBodyOf(name, data as Jobs.PersistJobData<Jobs.PersistJobName>);
    if (!body) return;
    await this.#webhookQueue.addBulk(
      this.#o.webhooks.urls.map((url) => ({
        name: body.event,
        data: { url, body } satisfies Jobs.WebhookDeliveryJob,
        opts: { jobId: `webhook.${derivedId(body.id, url)}` },
      })),
    );
  }

  async #webhook(job: Job): Promise<number> {
    const parsed = Jobs.WebhookDeliveryJob.safeParse(job.data);
    if (!parsed.success)
      throw new UnrecoverableError(`invalid webhook job ${job.id}: ${parsed.error.message}`);
    try {
      const status = await (this.#sender as WebhookSender).deliver(parsed.data);
      this.#metrics.webhooks.inc({ event: parsed.data.body.event, outcome: 'delivered' });
      return status;
    } catch (error) {
      this.#metrics.webhooks.inc({ event: parsed.data.body.event, outcome: 'failed' });
      throw error;
    }
  }
}
