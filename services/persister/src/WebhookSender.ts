import { signWebhook, WEBHOOK_SIGNATURE_HEADER } from '@trellis/jobs';
import type { Jobs } from '@trellis/protocol';

/** A receiver answered with something other than 2xx, or not at all: the job fails and is retried. */
export class WebhookDeliveryError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'WebhookDeliveryError';
  }
}

export interface WebhookSenderOptions {
  secret: string;
  timeoutMs: number;
}

/**
 * POSTs one signed body to one URL. The body is serialised once and those exact bytes are signed,
 * so a receiver verifies what it read off the wire. The event id travels in a header as well:
 * deliveries are at least once, and receivers dedupe on it.
 */
export class WebhookSender {
  readonly #o: WebhookSenderOptions;

  constructor(options: WebhookSenderOptions) {
    this.#o = options;
  }

  async deliver(job: Jobs.WebhookDeliveryJob): Promise<number> {
    const body = JSON.stringify(job.body);
    let response: Response;
    try {
      response = await fetch(job.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'trellis-webhooks/1',
          'x-trellis-event': job.body.event,
          'x-trellis-event-id': job.body.id,
          [WEBHOOK_SIGNATURE_HEADER]: signWebhook(this.#o.secret, body),
        },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
    } catch (error) {
      throw new WebhookDeliveryError(
        `webhook ${job.body.event} to ${job.url}: ${(error as Error).message}`,
        job.url,
      );
    }
    // The body is not needed; reading it frees the connection for reuse.
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) {
      throw new WebhookDeliveryError(
        `webhook ${job.body.event} to ${job.url} answered ${response.status}`,
        job.url,
        response.status,
      );
    }
    return response.status;
  }
}
