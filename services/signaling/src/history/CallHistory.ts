import { createDb, type Db } from '@trellis/db';
import { type Api, TrellisError } from '@trellis/protocol';

type Req<D extends Api.ApiRequest> = Api.ApiParsedRequestOf<D>;
type Reply<D extends Api.ApiRequest> = Api.ApiReplyInputOf<D>;

/** Cursor = the last row's sort key (time, id), opaque to clients. */
function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.getTime()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string | undefined): { at: Date; id: string } | undefined {
  if (cursor === undefined) return undefined;
  const [ms, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const at = Number(ms);
  if (!id || !Number.isSafeInteger(at))
    throw new TrellisError('VALIDATION_FAILED', 'invalid cursor', { cursor });
  return { at: new Date(at), id };
}

const ms = (d: Date | null | undefined) => (d ? d.getTime() : undefined);
const defined = <T extends object>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as T;

/**
 * The call history API: reads what the persister wrote. Without DATABASE_URL every request answers
 * UNAVAILABLE (signaling runs fine without a database; only history needs one). A call is only
 * shown in the room it belongs to, whatever id the caller names.
 */
export class CallHistory {
  readonly #db: Db | undefined;

  constructor(options: { databaseUrl?: string }) {
    this.#db = options.databaseUrl ? createDb({ databaseUrl: options.databaseUrl, poolSize: 4 }) : undefined;
  }

  async close(): Promise<void> {
    await this.#db?.$disconnect();
  }

  async listCalls(r: Req<typeof Api.ListCalls>): Promise<Reply<typeof Api.ListCalls>> {
    const db = this.#need();
    const after = decodeCursor(r.cursor);
    const rows = await db.callSession.findMany({
      where: {
        roomId: r.roomId,
        ...(r.active === undefined ? {} : r.active ? { endedAt: null } : { endedAt: { not: null } }),
        ...(after
          ? { OR: [{ startedAt: { lt: after.at } }, { startedAt: after.at, id: { lt: after.id } }] }
          : {}),
      },
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take: r.limit + 1,
    });
    const page = rows.slice(0, r.limit);
    const last = page.at(-1);
    return {
      calls: page.map((c) =>
        defined({
          callId: c.id,
          roomId: c.roomId,
          mode: c.mode,
          startedAt: c.startedAt.getTime(),
          endedAt: ms(c.endedAt),
          maxParticipants: c.maxParticipants ?? undefined,
          sfuNodeIds: c.sfuNodeIds,
          routerIds: c.routerIds,
          transitionCount: c.transitionCount,
          lastTransitionAt: ms(c.lastTransitionAt),
        }),
      ),
      ...(rows.length > r.limit && last ? { nextCursor: encodeCursor(last.startedAt, last.id) } : {}),
    };
  }

  async listParticipants(
    r: Req<typeof Api.ListCallParticipants>,
  ): Promise<Reply<typeof Api.ListCallParticipants>> {
    const db = await this.#call(r.roomId, r.callId);
    const after = decodeCursor(r.cursor);
    const rows = await db.callParticipant.findMany({
      where: {
        callId: r.callId,
        ...(after
          ? { OR: [{ joinedAt: { gt: after.at } }, { joinedAt: after.at, id: { gt: after.id } }] }
          : {}),
      },
      orderBy: [{ joinedAt: 'asc' }, { id: 'asc' }],
      take: r.limit + 1,
    });
    const page = rows.slice(0, r.limit);
    const last = page.at(-1);
    return {
      participants: page.map((p) =>
        defined({
          participantId: p.identity,
          displayName: p.displayName,
          joinedAt: p.joinedAt.getTime(),
          leftAt: ms(p.leftAt),
          modeAtJoin: p.modeAtJoin,
          nodeId: p.nodeId ?? undefined,
          transportIds: p.transportIds,
          producerIds: p.producerIds,
          leaveReason: p.leaveReason ?? undefined,
        }),
      ),
      ...(rows.length > r.limit && last ? { nextCursor: encodeCursor(last.joinedAt, last.id) } : {}),
    };
  }

  async listTransitions(
    r: Req<typeof Api.ListCallTransitions>,
  ): Promise<Reply<typeof Api.ListCallTransitions>> {
    const db = await this.#call(r.roomId, r.callId);
    const after = decodeCursor(r.cursor);
    const rows = await db.modeTransition.findMany({
      where: {
        callId: r.callId,
        ...(after
          ? { OR: [{ startedAt: { gt: after.at } }, { startedAt: after.at, id: { gt: after.id } }] }
          : {}),
      },
      orderBy: [{ startedAt: 'asc' }, { id: 'asc' }],
      take: r.limit + 1,
    });
    const page = rows.slice(0, r.limit);
    const last = page.at(-1);
    return {
      transitions: page.map((t) =>
        defined({
          id: t.id,
          from: t.fromMode,
          to: t.toMode,
          attempt: t.attempt,
          startedAt: t.startedAt.getTime(),
          completedAt: ms(t.completedAt),
          durationMs: t.durationMs ?? undefined,
          mediaGaps: (t.mediaGaps as Record<string, number> | null) ?? undefined,
          maxGapMs: t.maxGapMs ?? undefined,
          result: t.result,
        }),
      ),
      ...(rows.length > r.limit && last ? { nextCursor: encodeCursor(last.startedAt, last.id) } : {}),
    };
  }

  async listMetrics(r: Req<typeof Api.ListCallMetrics>): Promise<Reply<typeof Api.ListCallMetrics>> {
    const db = await this.#call(r.roomId, r.callId);
    const after = decodeCursor(r.cursor);
    const rows = await db.callMetrics.findMany({
      where: {
        callId: r.callId,
        ...(r.participantId ? { participantId: r.participantId } : {}),
        sampledAt: {
          ...(r.from === undefined ? {} : { gte: new Date(r.from) }),
          ...(r.to === undefined ? {} : { lte: new Date(r.to) }),
        },
        ...(after
          ? { OR: [{ sampledAt: { gt: after.at } }, { sampledAt: after.at, id: { gt: after.id } }] }
          : {}),
      },
      orderBy: [{ sampledAt: 'asc' }, { id: 'asc' }],
      take: r.limit + 1,
    });
    const page = rows.slice(0, r.limit);
    const last = page.at(-1);
    return {
      metrics: page.map((m) =>
        defined({
          participantId: m.participantId,
          source: m.source,
          sourceId: m.sourceId,
          kind: (m.kind as 'audio' | 'video' | null) ?? undefined,
          nodeId: m.nodeId,
          sampledAt: m.sampledAt.getTime(),
          intervalMs: m.intervalMs,
          bitrateIn: m.bitrateIn,
          bitrateOut: m.bitrateOut,
          packetLoss: m.packetLoss,
          jitterMs: m.jitterMs ?? undefined,
          rttMs: m.rttMs ?? undefined,
          framesDecoded: m.framesDecoded ?? undefined,
          framesDropped: m.framesDropped ?? undefined,
          spatialLayer: m.spatialLayer ?? undefined,
          temporalLayer: m.temporalLayer ?? undefined,
        }),
      ),
      ...(rows.length > r.limit && last ? { nextCursor: encodeCursor(last.sampledAt, last.id) } : {}),
    };
  }

  #need(): Db {
    if (!this.#db)
      throw new TrellisError('UNAVAILABLE', 'call history needs DATABASE_URL on this signaling node');
    return this.#db;
  }

  /** The call, if it belongs to the room the caller's grant is for. */
  async #call(roomId: string, callId: string): Promise<Db> {
    const db = this.#need();
    const call = await db.callSession.findUnique({ where: { id: callId }, select: { roomId: true } });
    if (!call || call.roomId !== roomId)
      throw new TrellisError('ROOM_NOT_FOUND', `no call ${callId} in room ${roomId}`, { roomId, callId });
    return db;
  }
}
