import { z } from 'zod';
import { MediaId, PeerId, RoomId } from '../sfu/media';
import { EventId } from './calls';

/**
 * One sampling tick of one room on one SFU node: a row per producer, consumer and transport, with
 * rates computed over the interval since the previous tick (mediasoup's counters are cumulative).
 */
export const MetricSource = z.enum(['producer', 'consumer', 'transport']);
export type MetricSource = z.infer<typeof MetricSource>;

const Rate = z.number().nonnegative();

export const MetricRow = z.object({
  participantId: PeerId,
  source: MetricSource,
  /** The producer, consumer or transport id. */
  sourceId: MediaId,
  kind: z.enum(['audio', 'video']).optional(),
  bitrateIn: Rate,
  bitrateOut: Rate,
  /** Fraction 0..1 over the interval (from lost / expected packet counters). */
  packetLoss: z.number().min(0).max(1),
  jitterMs: Rate.optional(),
  rttMs: Rate.optional(),
  framesDecoded: z.number().int().nonnegative().optional(),
  framesDropped: z.number().int().nonnegative().optional(),
  /** Consumers of simulcast/SVC producers: the spatial layer being forwarded. */
  spatialLayer: z.number().int().min(0).max(15).optional(),
  temporalLayer: z.number().int().min(0).max(15).optional(),
});
export type MetricRow = z.infer<typeof MetricRow>;

export const MetricsSampleJob = z.object({
  eventId: EventId,
  roomId: RoomId,
  nodeId: z.string().min(1).max(128),
  routerId: MediaId,
  /** End of the interval the rates cover. */
  sampledAt: z.number().int().nonnegative(),
  intervalMs: z.number().int().positive(),
  rows: z.array(MetricRow).max(20_000),
});
export type MetricsSampleJob = z.infer<typeof MetricsSampleJob>;
