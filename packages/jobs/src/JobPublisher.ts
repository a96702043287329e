import type { Jobs } from '@trellis/protocol';
import { throttledWarn } from '@trellis/telemetry';
import { Queue } from 'bullmq';
import { jobIdOf } from './ids';
import type { JobPublisherOptions, JobPublisherStats, PublishableJob } from './JobPublisherTypes';
import { defaultJobOptions, parseJob, QueueName, queueOf, queuePrefix } from './queues';

const MAX_SEND_BACKOFF_MS = 5000;

/**
 * How signaling and the SFU nodes hand events to the persister. `publish()` is synchronous and
 * never waits on Redis: the job joins a bounded in-memory backlog that one loop sends in batches
 * (one round trip per batch). A request or the media path therefore never stalls on persistence;
 * if Redis is slow or down, the backlog fills, and past `maxBacklog` jobs are dropped and counted
 * rather than growing the heap without bound. Job ids come from event ids, so a job sent twice
 * (a retried batch) is stored once.
 */
export class JobPublisher {
  readonly #o: Required<Omit<JobPublisherOptions, 'logger' | 'connection'>> & JobPublisherOptions;
  readonly #queues: Map<QueueName, Queue>;
  readonly #backlog: PublishableJob[] = [];
  readonly #stats = { sent: 0, dropped: 0, invalid: 0 };
  #sending: Promise<void> | undefined;
  #closed = false;
  #lastDropLog = 0;

  constructor(options: JobPublisherOptions) {
    this.#o = { maxBacklog: 10_000, batchSize: 500, ...options };
    const prefix = queuePrefix(options.keyPrefix);
    this.#queues = new Map(
      [QueueName.calls, QueueName.metrics].map((name) => [
        name,
        new Queue(name, {
          connection: options.connection,
          prefix,
          defaultJobOptions: defaultJobOptions[name],
        }),
      ]),
    );
    for (const queue of this.#queues.values()) {
      // BullMQ reports each failed reconnect attempt: one line per few seconds says it all.
      const warn = throttledWarn(this.#o.logger, 'job queue error');
      queue.on('error', (error) => warn({ err: error.message, queue: queue.name }));
    }
  }

  get stats(): JobPublisherStats {
    return { ...this.#stats, backlog: this.#backlog.length };
  }

  /** Queues a job for sending; returns false if it was dropped (backlog full, invalid, closed). */
  publish<N extends Jobs.PersistJobName>(name: N, data: Jobs.PersistJobData<N>): boolean {
    if (this.#closed) return false;
    try {
      parseJob(name, data);
    } catch (error) {
      this.#stats.invalid += 1;
      this.#o.logger.error({ job: name, err: String(error) }, 'invalid job not published');
      return false;
    }
    if (this.#backlog.length >= this.#o.maxBacklog) {
      this.#stats.dropped += 1;
      const now = Date.now();
      if (now - this.#lastDropLog > 5000) {
        this.#lastDropLog = now;
        this.#o.logger.warn(
          { dropped: this.#stats.dropped, backlog: this.#backlog.length },
          'job backlog full: dropping',
        );
      }
      return false;
    }
    this.#backlog.push({ name, data } as PublishableJob);
    this.#sending ??= this.#send().finally(() => {
      this.#sending = undefined;
    });
    return true;
  }

  /** Resolves once everything published so far was sent (or `timeoutMs` passed). */
  async flush(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while ((this.#backlog.length > 0 || this.#sending) && Date.now() < deadline) {
      await Promise.race([this.#sending, new Promise((r) => setTimeout(r, 20))]);
    }
    return this.#backlog.length === 0;
  }

  /** Sends what it can within `timeoutMs`, then closes the queues (not the connection). */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.#closed) return;
    await this.flush(timeoutMs);
    this.#closed = true;
    if (this.#backlog.length > 0) {
      this.#o.logger.warn({ lost: this.#backlog.length }, 'jobs not sent before close');
      this.#stats.dropped += this.#backlog.length;
      this.#backlog.length = 0;
    }
    await Promise.all([...this.#queues.values()].map((q) => q.close()));
  }

  async #send(): Promise<void> {
    let failures = 0;
    while (this.#backlog.length > 0 && !this.#closed) {
      const batch = this.#backlog.slice(0, this.#o.batchSize);
      try {
        await Promise.all(
          [QueueName.calls, QueueName.metrics].map((queueName) => {
            const jobs = batch.filter((j) => queueOf(j.name) === queueName);
            if (jobs.length === 0) return undefined;
            return this.#queues.get(queueName)?.addBulk(
              jobs.map((j) => ({
                name: j.name,
                data: j.data,
                opts: { jobId: jobIdOf(j.name, j.data.eventId) },
              })),
            );
          }),
        );
        this.#backlog.splice(0, batch.length);
        this.#stats.sent += batch.length;
        failures = 0;
      } catch (error) {
        // Kept and re-sent: ids make a batch that did land partly harmless to send again.
        failures += 1;
        this.#o.logger.warn(
          { err: String(error), backlog: this.#backlog.length },
          'could not send jobs; retrying',
        );
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** failures, MAX_SEND_BACKOFF_MS)));
      }
    }
  }
}
