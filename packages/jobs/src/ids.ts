import { createHash } from 'node:crypto';

/**
 * Ids derived from what identifies a thing, so every producer and every replay of an event names
 * the same row or job: 32 hex digits of sha256 over the parts.
 */
export function derivedId(...parts: (string | number)[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/** A call: one life of a room's call document, named by the room and when the document was made. */
export function callIdOf(roomId: string, createdAt: number): string {
  return derivedId('call', roomId, createdAt);
}

export function participantRowId(callId: string, identity: string, joinedAt: number): string {
  return derivedId('participant', callId, identity, joinedAt);
}

/** BullMQ job ids may not contain ':' and must not look like integers: a prefix and a hash. */
export function jobIdOf(name: string, eventId: string): string {
  return `${name}.${derivedId(eventId)}`;
}
