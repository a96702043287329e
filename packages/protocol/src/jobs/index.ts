import type { z } from 'zod';
import {
  CallEndedJob,
  CallStartedJob,
  ModeChangedJob,
  ParticipantJoinedJob,
  ParticipantLeftJob,
  TrackJob,
} from './calls';
import { MetricsSampleJob } from './metrics';

export * from './calls';
export * from './metrics';
export * from './webhooks';

/** Every persistence job by its BullMQ job name: the one table producers and the persister share. */
export const persistJobs = {
  'call.started': CallStartedJob,
  'participant.joined': ParticipantJoinedJob,
  'mode.changed': ModeChangedJob,
  'track.published': TrackJob,
  'track.unpublished': TrackJob,
  'participant.left': ParticipantLeftJob,
  'call.ended': CallEndedJob,
  'metrics.sample': MetricsSampleJob,
} as const;

export type PersistJobName = keyof typeof persistJobs;
export type PersistJobData<N extends PersistJobName> = z.infer<(typeof persistJobs)[N]>;
export const persistJobNames = Object.keys(persistJobs) as PersistJobName[];
