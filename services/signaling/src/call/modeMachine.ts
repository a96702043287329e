import type { Api } from '@trellis/protocol';
import type { CallDraft } from './CallDraft';
import { transitionInfo } from './CallDraft';
import type { CallState, CallTimings, TransitionRecord } from './CallStateTypes';

type Reason = Api.ClientEventPayload<'mode-changed'>['reason'];
const onSfu = new Set<Api.CallMode>(['migrating_to_sfu', 'sfu', 'migrating_to_p2p']);

/** True in the modes where participants have (or are building) an SFU path. */
export function usesSfu(mode: Api.CallMode): boolean {
  return onSfu.has(mode);
}

/**
 * The call-mode machine: idle → p2p (2) → migrating_to_sfu → sfu (3..50) → migrating_to_p2p → p2p.
 * Called after every change and at every deadline; it moves the call as far as its participant count,
 * reported paths and clocks allow, and is idempotent, so any node may run it at any time.
 *
 * Make-before-break: a migration only ends when every participant it waits for reported the new path
 * delivering media; until then the old path keeps running. A migration past its deadline rolls back
 * to the mode it came from and is retried after `migrationRetryMs`.
 */
export function reconcile(draft: CallDraft, timings: CallTimings, newId: () => string): void {
  // Each step may enable another (a rollback can make a retry due); the bound guards against cycles.
  for (let step = 0; step < 4; step += 1) {
    if (!reconcileOnce(draft, timings, newId)) return;
  }
}

function reconcileOnce(draft: CallDraft, timings: CallTimings, newId: () => string): boolean {
  const s = draft.state;
  const n = draft.count;
  const now = draft.now;
  const retryDue = s.retryAt === undefined || s.retryAt <= now;

  switch (s.mode) {
    case 'idle':
      if (n === 2) return enter(draft, 'p2p', 'joined');
      if (n >= 3) return enter(draft, 'sfu', 'joined');
      return false;

    case 'p2p':
      if (n <= 1) return enter(draft, 'idle', 'left');
      if (n < 3 && s.retryAt !== undefined) return forgetRetry(draft);
      if (n >= 3 && retryDue)
        return startMigration(draft, 'sfu', timings, newId, s.retryAt ? 'retry' : 'joined');
      return false;

    case 'migrating_to_sfu': {
      const t = s.transition as TransitionRecord;
      if (n <= 1) return endMigration(draft, 'idle', 'left', 'aborted');
      if (t.awaiting.length === 0) return endMigration(draft, 'sfu', 'completed', 'completed');
      if (now >= t.deadline) {
        s.retryAt = now + timings.migrationRetryMs;
        return endMigration(draft, 'p2p', 'timed-out', 'rolled-back');
      }
      return false;
    }

    case 'sfu':
      // Everyone left: the call is over, there is nobody for the hysteresis to wait for.
      if (n === 0) return enter(draft, 'idle', 'left');
      if (n >= 3 && s.retryAt !== undefined) return forgetRetry(draft);
      if (n >= 3) {
        if (s.shrunkAt === undefined) return false;
        delete s.shrunkAt;
        draft.touch();
        return true;
      }
      if (s.shrunkAt === undefined) {
        s.shrunkAt = now;
        draft.touch();
        return true;
      }
      if (now < s.shrunkAt + timings.p2pHysteresisMs || !retryDue) return false;
      if (n <= 1) return enter(draft, 'idle', 'left');
      return startMigration(draft, 'p2p', timings, newId, s.retryAt ? 'retry' : 'hysteresis');

    case 'migrating_to_p2p': {
      const t = s.transition as TransitionRecord;
      if (n >= 3) return endMigration(draft, 'sfu', 'aborted', 'aborted');
      if (n <= 1) return endMigration(draft, 'idle', 'left', 'aborted');
      if (t.awaiting.length === 0) return endMigration(draft, 'p2p', 'completed', 'completed');
      if (now >= t.deadline) {
        s.retryAt = now + timings.migrationRetryMs;
        return endMigration(draft, 'sfu', 'timed-out', 'rolled-back');
      }
      return false;
    }
  }
}

/** A path report from a participant; stale reports (another transition, other path) change nothing. */
export function reportPathReady(
  draft: CallDraft,
  participantId: string,
  transitionId: string,
  path: Api.MediaPath,
  mediaGapMs: number | undefined,
): boolean {
  const t = draft.state.transition;
  if (!t || t.id !== transitionId || t.to !== path || !t.awaiting.includes(participantId)) return false;
  t.awaiting = t.awaiting.filter((id) => id !== participantId);
  if (mediaGapMs !== undefined) t.gaps[participantId] = mediaGapMs;
  draft.touch();
  return true;
}

/** The next time the machine (or the resume grace) needs to run for this call, if any. */
export function nextDeadline(state: CallState, timings: CallTimings): number | undefined {
  const times: number[] = [];
  if (state.transition) times.push(state.transition.deadline);
  if (state.retryAt !== undefined) times.push(state.retryAt);
  if (state.shrunkAt !== undefined && state.mode === 'sfu')
    times.push(state.shrunkAt + timings.p2pHysteresisMs);
  for (const p of Object.values(state.participants)) {
    if (p.disconnectedAt !== undefined) times.push(p.disconnectedAt + timings.resumeGraceMs);
  }
  return times.length === 0 ? undefined : Math.min(...times);
}

/** Removes participants whose resume grace ran out. */
export function expireDisconnected(draft: CallDraft, timings: CallTimings): void {
  for (const p of Object.values(draft.state.participants)) {
    if (p.disconnectedAt !== undefined && draft.now >= p.disconnectedAt + timings.resumeGraceMs) {
      draft.removeParticipant(p.id, 'disconnected');
    }
  }
}

function startMigration(
  draft: CallDraft,
  to: Api.MediaPath,
  timings: CallTimings,
  newId: () => string,
  reason: Reason,
): boolean {
  const s = draft.state;
  const attempt = s.retryAt === undefined ? 1 : (s.lastAttempt ?? 0) + 1;
  s.transition = {
    id: newId(),
    from: s.mode,
    to,
    attempt,
    startedAt: draft.now,
    deadline: draft.now + timings.migrationTimeoutMs,
    awaiting: draft.participantIds,
    gaps: {},
  };
  s.lastAttempt = attempt;
  delete s.retryAt;
  delete s.shrunkAt;
  s.transitions += 1;
  if (to === 'p2p') s.p2pOfferer = draft.participantIds[0] as string;
  return enter(draft, to === 'sfu' ? 'migrating_to_sfu' : 'migrating_to_p2p', reason);
}

/** The reason for a pending retry went away (the call shrank or grew back). */
function forgetRetry(draft: CallDraft): boolean {
  delete draft.state.retryAt;
  delete draft.state.lastAttempt;
  draft.touch();
  return true;
}

function endMigration(
  draft: CallDraft,
  mode: Api.CallMode,
  reason: Reason,
  result: 'completed' | 'rolled-back' | 'aborted',
): boolean {
  const s = draft.state;
  const t = s.transition as TransitionRecord;
  delete s.transition;
  if (result === 'completed') delete s.lastAttempt;
  draft.emit({ type: 'transition-ended', transition: { ...t, awaiting: [...t.awaiting] }, result });
  return enter(draft, mode, reason);
}

/** Changes mode and does what the new mode implies for the SFU. */
function enter(draft: CallDraft, mode: Api.CallMode, reason: Reason): boolean {
  const s = draft.state;
  const previous = s.mode;
  s.mode = mode;
  if (mode === 'p2p') {
    // The pair that talks directly: the earlier joiner offers, so the two never both do.
    s.p2pOfferer = draft.participantIds[0] as string;
  } else if (mode !== 'migrating_to_p2p') {
    delete s.p2pOfferer;
  }
  // Leaving the SFU for good (not a rollback into p2p while a third waits): release its resources.
  if ((mode === 'p2p' || mode === 'idle') && usesSfu(previous)) draft.releaseSfu();
  if (mode === 'idle') {
    delete s.retryAt;
    delete s.shrunkAt;
  }
  draft.touch();
  const transition = transitionInfo(s);
  draft.emit({
    type: 'emit',
    to: 'room',
    event: 'mode-changed',
    payload: {
      version: s.version + 1,
      mode,
      previous,
      reason,
      ...(transition ? { transition } : {}),
      ...(s.p2pOfferer ? { p2pOfferer: s.p2pOfferer } : {}),
    },
  });
  return true;
}
