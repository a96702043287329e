export { LoadOptions, type LoadOptionsInput } from './LoadOptions';
export { LoadParticipant } from './LoadParticipant';
export type {
  ParticipantResult,
  ParticipantSpec,
  SubscribePolicy,
  SubscriptionResult,
} from './LoadParticipantTypes';
export { type LoadRunHooks, runLoad } from './LoadRun';
export type { PublisherFrames } from './media/FrameGaps';
export { loadMediaClip, type MediaClip } from './media/MediaClip';
export { buildReport, type LoadReport, percentiles, summaryText } from './report';
