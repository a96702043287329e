export * from './createDb';
export type {
  CallMetrics,
  CallParticipant,
  CallSession,
  ModeTransition,
} from './generated/client';
export { CallMode, MetricSource, Prisma, TransitionResult } from './generated/client';
export * from './Migrator';
export * from './MigratorTypes';
