export { LoadOptions, type LoadOptionsInput } from './LoadOptions';
export { LoadParticipant } from './LoadParticipant';
export type {
  ParticipantResult,
  ParticipantSpec,
  SubscribePolicy,
  SubscriptionResult,
} from './LoadParticipantTypes';
export { type LoadRunHooks, runLoad } from './LoadRun';
export { loadMediaClip, type MediaClip } from './media/MediaClip';
export { buildReport, type LoadReport, summaryText } from './report';
