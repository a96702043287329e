import { z } from 'zod';
import { ErrorBody } from './errors';

/**
 * Envelopes of everything that crosses the bus. The payload is validated separately against the
 * schema its `type` and `version` name (see catalog.ts), so a consumer can dead-letter an entry
 * whose envelope is fine but whose payload is not, and still answer the caller.
 */
const base = {
  /** Unique per message; a command keeps its id across redeliveries, which makes it the idempotency key. */
  id: z.string().min(1).max(128),
  type: z.string().min(1).max(128),
  version: z.number().int().positive(),
  /** Milliseconds since the epoch at the sender. */
  ts: z.number().int().nonnegative(),
  /** Node id of the sender (a signaling node, an SFU node, a persister). */
  source: z.string().min(1).max(128),
};

export const CommandEnvelope = z.object({
  ...base,
  kind: z.literal('command'),
  /** Carried through the chain a client request starts: request → commands → events. */
  correlationId: z.string().min(1).max(128),
  /** The stream the reply goes to. */
  replyTo: z.string().min(1).max(256),
  /** After this instant (ms since epoch) the caller has given up; the command is dropped unrun. */
  deadline: z.number().int().positive(),
  payload: z.unknown(),
});
export type CommandEnvelope = z.infer<typeof CommandEnvelope>;

const replyBase = {
  ...base,
  kind: z.literal('reply'),
  /** The id of the command answered. */
  correlationId: z.string().min(1).max(128),
};
export const ReplyEnvelope = z.discriminatedUnion('ok', [
  z.object({ ...replyBase, ok: z.literal(true), result: z.unknown() }),
  z.object({ ...replyBase, ok: z.literal(false), error: ErrorBody }),
]);
export type ReplyEnvelope = z.infer<typeof ReplyEnvelope>;

export const EventEnvelope = z.object({
  ...base,
  kind: z.literal('event'),
  /** What the event is about, e.g. a room id; also selects the stream for per-room events. */
  subject: z.string().min(1).max(256).optional(),
  correlationId: z.string().min(1).max(128).optional(),
  payload: z.unknown(),
});
export type EventEnvelope = z.infer<typeof EventEnvelope>;

// A plain union: the two reply shapes share kind 'reply', which a discriminated union refuses.
export const BusEnvelope = z.union([CommandEnvelope, ReplyEnvelope, EventEnvelope]);
export type BusEnvelope = z.infer<typeof BusEnvelope>;
