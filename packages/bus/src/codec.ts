import { CommandEnvelope, EventEnvelope, ReplyEnvelope } from '@trellis/protocol';
import type { z } from 'zod';

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
