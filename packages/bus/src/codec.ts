import { randomUUID } from 'node:crypto';
import { CommandEnvelope, type EventDef, EventEnvelope, ReplyEnvelope } from '@trellis/protocol';
import type { z } from 'zod';
import type { EventMeta } from './interfaces';

/** Every stream entry and pub/sub message carries one JSON envelope under this field. */
export const FIELD = 'm';

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

function decodeWith<S extends z.ZodType>(schema: S, raw: string | undefined): Decoded<z.output<S>> {
  if (raw === undefined) return { ok: false, reason: `missing field "${FIELD}"` };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { ok: false, reason: `bad envelope: ${first?.path.join('.') || '(root)'}: ${first?.message}` };
  }
  return { ok: true, value: parsed.data };
}

/** Stream entries arrive as a flat [field, value, field, value, …] list. */
export function fieldOf(fields: readonly string[], name = FIELD): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

export const decodeCommand = (raw: string | undefined) => decodeWith(CommandEnvelope, raw);
export const decodeReply = (raw: string | undefined) => decodeWith(ReplyEnvelope, raw);
export const decodeEvent = (raw: string | undefined) => decodeWith(EventEnvelope, raw);

/** The envelope of an event (room stream or broadcast); `payload` already validated by the caller. */
export function eventEnvelope(
  def: EventDef,
  payload: unknown,
  source: string,
  opts: { subject?: string | undefined; correlationId?: string | undefined } = {},
): EventEnvelope {
  return {
    id: randomUUID(),
    kind: 'event',
    type: def.type,
    version: def.version,
    ts: Date.now(),
    source,
    ...(opts.subject === undefined ? {} : { subject: opts.subject }),
    ...(opts.correlationId === undefined ? {} : { correlationId: opts.correlationId }),
    payload,
  };
}

export function eventMeta(event: EventEnvelope): EventMeta {
  return {
    id: event.id,
    type: event.type,
    source: event.source,
    ts: event.ts,
    subject: event.subject,
    correlationId: event.correlationId,
  };
}
