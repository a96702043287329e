import { z } from 'zod';

/** The events a webhook receiver can be told about (LiveKit's names, which receivers already know). */
export const WebhookEventName = z.enum([
  'room_started',
  'room_finished',
  'participant_joined',
  'participant_left',
  'track_published',
  'track_unpublished',
  'mode_changed',
]);
export type WebhookEventName = z.infer<typeof WebhookEventName>;

/** The signed JSON body POSTed to a webhook URL. `id` is stable across retries: receivers dedupe on it. */
export const WebhookBody = z.object({
  id: z.string().min(1).max(300),
  event: WebhookEventName,
  createdAt: z.number().int().nonnegative(),
  roomId: z.string(),
  callId: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
});
export type WebhookBody = z.infer<typeof WebhookBody>;

/** One delivery: the body to one URL. */
export const WebhookDeliveryJob = z.object({ url: z.string().url(), body: WebhookBody });
export type WebhookDeliveryJob = z.infer<typeof WebhookDeliveryJob>;
