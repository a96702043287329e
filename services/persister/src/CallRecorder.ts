import type { Db } from '@trellis/db';
import { participantRowId } from '@trellis/jobs';
import type { Jobs } from '@trellis/protocol';

type CallRef = Pick<Jobs.CallStartedJob, 'callId' | 'roomId' | 'callStartedAt'>;

const resultColumn = { completed: 'completed', 'rolled-back': 'rolled_back', aborted: 'aborted' } as const;

/**
 * Writes call events to PostgreSQL. Jobs run concurrently and may arrive in any order (a retried
 * call.started after the participant.joined that followed it), so every write is an upsert that
 * creates whatever row it needs and only sets the fields its event owns: applying any event
 * twice, or any set of events in any order, gives the same rows.
 */
export class CallRecorder {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async callStarted(e: Jobs.CallStartedJob): Promise<void> {
    await this.#ensureSession(e);
    await this.#db.callSession.update({
      where: { id: e.callId },
      data: { maxParticipants: e.maxParticipants },
    });
  }

  async participantJoined(e: Jobs.ParticipantJoinedJob): Promise<void> {
    await this.#ensureSession(e);
    const id = participantRowId(e.callId, e.participantId, e.joinedAt);
    await this.#db.callParticipant.upsert({
      where: { id },
      create: {
        id,
        callId: e.callId,
        identity: e.participantId,
        displayName: e.displayName,
        joinedAt: new Date(e.joinedAt),
        modeAtJoin: e.modeAtJoin,
      },
      update: { displayName: e.displayName, modeAtJoin: e.modeAtJoin },
    });
    await this.#backfillTransports(id);
  }

  async participantLeft(e: Jobs.ParticipantLeftJob): Promise<void> {
    await this.#ensureSession(e);
    const id = participantRowId(e.callId, e.participantId, e.joinedAt);
    const left = {
      leftAt: new Date(e.leftAt),
      leaveReason: e.reason,
      ...(e.nodeId === undefined ? {} : { nodeId: e.nodeId }),
    };
    await this.#db.callParticipant.upsert({
      where: { id },
      create: {
        id,
        callId: e.callId,
        identity: e.participantId,
        displayName: e.displayName,
        joinedAt: new Date(e.joinedAt),
        ...left,
      },
      update: left,
    });
    await this.#backfillTransports(id);
  }

  /**
   * Metrics and call events run on separate queues, so a stay's samples can be written before its
   * row exists (a backlog on the calls queue): the row then collects the transports from them.
   */
  async #backfillTransports(id: string): Promise<void> {
    await this.#db.$executeRaw`
      UPDATE call_participant p SET transport_ids = ARRAY(
        SELECT DISTINCT unnest(coalesce(p.transport_ids, '{}') || ARRAY(
          SELECT m.source_id FROM call_metrics m
          WHERE m.call_id = p.call_id AND m.participant_id = p.identity AND m.source::text = 'transport'
            AND m.sampled_at >= p.joined_at AND (p.left_at IS NULL OR m.sampled_at <= p.left_at))))
      WHERE p.id = ${id}`;
  }

  async modeChanged(e: Jobs.ModeChangedJob): Promise<void> {
    await this.#ensureSession(e);
    // Only a newer version moves the mode: a late retry of an old change leaves the current one.
    await this.#db.callSession.updateMany({
      where: { id: e.callId, modeVersion: { lt: e.version } },
      data: { mode: e.mode, modeVersion: e.version },
    });
    const t = e.transition;
    if (!t) return;
    const base = {
      id: t.id,
      callId: e.callId,
      fromMode: t.from,
      toMode: t.to,
      attempt: t.attempt,
      startedAt: new Date(t.startedAt),
    };
    if (t.result === undefined || t.endedAt === undefined) {
      await this.#db.modeTransition.createMany({ data: [base], skipDuplicates: true });
    } else {
      const gaps = t.gaps ?? {};
      const gapValues = Object.values(gaps);
      const ended = {
        completedAt: new Date(t.endedAt),
        durationMs: Math.max(0, t.endedAt - t.startedAt),
        result: resultColumn[t.result],
        mediaGaps: gaps,
        maxGapMs: gapValues.length > 0 ? Math.round(Math.max(...gapValues)) : null,
      };
      await this.#db.modeTransition.upsert({
        where: { id: t.id },
        create: { ...base, ...ended },
        update: ended,
      });
    }
    // Recomputed from the rows rather than incremented, so a replay cannot count twice.
    await this.#db.$executeRaw`
      UPDATE call_session SET
        transition_count = (SELECT count(*) FROM mode_transition WHERE call_id = ${e.callId}),
        last_transition_at = (SELECT max(coalesce(completed_at, started_at)) FROM mode_transition WHERE call_id = ${e.callId}),
        updated_at = now()
      WHERE id = ${e.callId}`;
  }

  async trackPublished(e: Jobs.TrackJob): Promise<void> {
    await this.#ensureSession(e);
    const id = participantRowId(e.callId, e.participantId, e.participantJoinedAt);
    await this.#db.callParticipant.createMany({
      data: [
        {
          id,
          callId: e.callId,
          identity: e.participantId,
          displayName: e.participantId,
          joinedAt: new Date(e.participantJoinedAt),
        },
      ],
      skipDuplicates: true,
    });
    await this.#db.$executeRaw`
      UPDATE call_participant SET
        producer_ids = array_append(coalesce(producer_ids, '{}'), ${e.producerId}::text),
        node_id = ${e.nodeId}
      WHERE id = ${id} AND NOT (${e.producerId}::text = ANY(coalesce(producer_ids, '{}')))`;
    await this.#db.$executeRaw`
      UPDATE call_session SET sfu_node_ids = array_append(coalesce(sfu_node_ids, '{}'), ${e.nodeId}::text), updated_at = now()
      WHERE id = ${e.callId} AND NOT (${e.nodeId}::text = ANY(coalesce(sfu_node_ids, '{}')))`;
  }

  /** Nothing to store beyond the session (the producer id stays on the participant); webhooks only. */
  async trackUnpublished(e: Jobs.TrackJob): Promise<void> {
    await this.#ensureSession(e);
  }

  async callEnded(e: Jobs.CallEndedJob): Promise<void> {
    await this.#ensureSession(e);
    await this.#db.callSession.update({ where: { id: e.callId }, data: { endedAt: new Date(e.endedAt) } });
  }

  /** Any event may be the first of its call to arrive: each creates the session row if missing. */
  async #ensureSession(e: CallRef): Promise<void> {
    await this.#db.callSession.createMany({
      data: [{ id: e.callId, roomId: e.roomId, startedAt: new Date(e.callStartedAt) }],
      skipDuplicates: true,
    });
  }
}
