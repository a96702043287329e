import { z } from 'zod';
import { CallId } from '../jobs/calls';
import { MetricRow } from '../jobs/metrics';
import { PeerId, RoomId } from '../sfu/media';
import { defineRequest } from './define';
import { CallMode } from './state';

/**
 * The call history the persister wrote, read back by a room's admin: the room's calls, and a call's
 * participants, mode transitions and metrics. Pages are ordered and resumed with an opaque cursor
 * (the last row's sort key), so a page is stable while new rows are written.
 */
const InRoom = { roomId: RoomId };
const history = { points: 10, perSeconds: 1 } as const;

const Page = {
  /** GET puts it in the query string: a string there, a number over Socket.IO. */
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
};
const NextCursor = { nextCursor: z.string().optional() };
const Time = z.number().int().nonnegative();

export const CallSummary = z.object({
  callId: CallId,
  roomId: RoomId,
  mode: CallMode,
  startedAt: Time,
  endedAt: Time.optional(),
  maxParticipants: z.number().int().optional(),
  sfuNodeIds: z.array(z.string()),
  routerIds: z.array(z.string()),
  transitionCount: z.number().int(),
  lastTransitionAt: Time.optional(),
});

export const CallParticipantRecord = z.object({
  participantId: PeerId,
  displayName: z.string(),
  joinedAt: Time,
  leftAt: Time.optional(),
  modeAtJoin: CallMode,
  nodeId: z.string().optional(),
  transportIds: z.array(z.string()),
  producerIds: z.array(z.string()),
  leaveReason: z.string().optional(),
});

export const ModeTransitionRecord = z.object({
  id: z.string(),
  from: CallMode,
  to: CallMode,
  attempt: z.number().int(),
  startedAt: Time,
  completedAt: Time.optional(),
  durationMs: z.number().int().optional(),
  mediaGaps: z.record(z.string(), z.number()).optional(),
  maxGapMs: z.number().int().optional(),
  result: z.enum(['pending', 'completed', 'rolled_back', 'aborted']),
});

export const CallMetricRecord = MetricRow.extend({
  nodeId: z.string(),
  sampledAt: Time,
  intervalMs: z.number().int(),
});

export const ListCalls = defineRequest({
  name: 'listCalls',
  summary: "The room's calls, newest first (`active=true`: only those not ended)",
  http: { method: 'GET', path: '/v1/rooms/{roomId}/calls' },
  access: 'admin',
  rateLimit: history,
  request: z.object({
    ...InRoom,
    ...Page,
    active: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).optional(),
  }),
  reply: z.object({ calls: z.array(CallSummary), ...NextCursor }),
});

export const ListCallParticipants = defineRequest({
  name: 'listCallParticipants',
  summary: "A call's participants in the order they joined",
  http: { method: 'GET', path: '/v1/rooms/{roomId}/calls/{callId}/participants' },
  access: 'admin',
  rateLimit: history,
  request: z.object({ ...InRoom, callId: CallId, ...Page }),
  reply: z.object({ participants: z.array(CallParticipantRecord), ...NextCursor }),
});

export const ListCallTransitions = defineRequest({
  name: 'listCallTransitions',
  summary: "A call's P2P↔SFU migrations with their result, duration and the media gaps reported",
  http: { method: 'GET', path: '/v1/rooms/{roomId}/calls/{callId}/transitions' },
  access: 'admin',
  rateLimit: history,
  request: z.object({ ...InRoom, callId: CallId, ...Page }),
  reply: z.object({ transitions: z.array(ModeTransitionRecord), ...NextCursor }),
});

export const ListCallMetrics = defineRequest({
  name: 'listCallMetrics',
  summary: "A call's metric samples in time order, optionally for one participant and a time range",
  http: { method: 'GET', path: '/v1/rooms/{roomId}/calls/{callId}/metrics' },
  access: 'admin',
  rateLimit: history,
  request: z.object({
    ...InRoom,
    callId: CallId,
    ...Page,
    limit: z.coerce.number().int().min(1).max(5000).default(500),
    participantId: PeerId.optional(),
    from: z.coerce.number().int().nonnegative().optional(),
    to: z.coerce.number().int().nonnegative().optional(),
  }),
  reply: z.object({ metrics: z.array(CallMetricRecord), ...NextCursor }),
});

export const historyRequests = [
  ListCalls,
  ListCallParticipants,
  ListCallTransitions,
  ListCallMetrics,
] as const;
