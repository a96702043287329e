import { z } from 'zod';
import type { ParticipantResult, ParticipantSpec } from './LoadParticipantTypes';

/** Coordinator ↔ worker messages over the child-process IPC channel, checked on arrival. */
const Spec = z.object({
  url: z.string(),
  token: z.string(),
  roomId: z.string(),
  identity: z.string(),
  callIndex: z.number().int(),
  publishVideo: z.boolean(),
  publishAudio: z.boolean(),
  speaking: z.boolean(),
  subscribe: z.discriminatedUnion('mode', [
    z.object({ mode: z.literal('all') }),
    z.object({ mode: z.literal('none') }),
    z.object({ mode: z.literal('count'), count: z.number().int().nonnegative() }),
    z.object({ mode: z.literal('last'), count: z.number().int().nonnegative() }),
  ]),
  videoLayer: z.number().int(),
}) satisfies z.ZodType<ParticipantSpec>;

export const ToWorker = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('start'),
    /** Wall-clock ms (Date.now) at which each participant joins, and at which all leave. */
    joins: z.array(z.object({ at: z.number(), spec: Spec })),
    endAt: z.number(),
  }),
  /** Stop publishing, let in-flight media arrive, report results; stay joined until `leave`. */
  z.object({ type: z.literal('quiesce') }),
  z.object({ type: z.literal('leave') }),
]);
export type ToWorker = z.infer<typeof ToWorker>;

export const Progress = z.object({
  joined: z.number(),
  failed: z.number(),
  packets: z.number(),
  bytes: z.number(),
  expected: z.number(),
  lost: z.number(),
  freezes: z.number(),
});
export type Progress = z.infer<typeof Progress>;

/** How the worker process itself fared: a starved load generator reports loss and freezes of its own. */
export const WorkerHealth = z.object({
  cpuSeconds: z.number(),
  eventLoopDelayP99Ms: z.number(),
  eventLoopDelayMaxMs: z.number(),
  /** Intervals (epoch ms) over 100 ms in which this worker's event loop ran nothing. */
  stalls: z.array(z.tuple([z.number(), z.number()])),
});
export type WorkerHealth = z.infer<typeof WorkerHealth>;

export const FromWorker = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('progress'), progress: Progress }),
  // Results are built by our own worker code; their shape is ParticipantResult.
  z.object({
    type: z.literal('results'),
    health: WorkerHealth,
    results: z.array(z.custom<ParticipantResult>((v) => typeof v === 'object')),
  }),
  z.object({ type: z.literal('left') }),
  z.object({ type: z.literal('fatal'), message: z.string() }),
]);
export type FromWorker = z.infer<typeof FromWorker>;
