import { z } from 'zod';
import { PeerId, RoomId } from '../sfu/media';

/**
 * What a token allows, as LiveKit's video grants: one room, one identity, and what that identity may
 * do there. Signed by the operator's backend (HS256 shared secret, or RS256/ES256 keys published as a
 * JWKS); signaling checks issuer, audience and expiry before it reads the grant.
 */
export const RoomGrant = z.object({
  room: RoomId,
  canPublish: z.boolean().default(true),
  canSubscribe: z.boolean().default(true),
  /** Room administration: create rooms ahead of time, read call history, remove participants. */
  admin: z.boolean().default(false),
});
export type RoomGrant = z.output<typeof RoomGrant>;

/** The claims Trellis reads from a verified token. `sub` is the participant's identity in the room. */
export const TokenClaims = z.object({
  sub: PeerId,
  name: z.string().min(1).max(128).optional(),
  trellis: RoomGrant,
});
export type TokenClaims = z.output<typeof TokenClaims>;

/** Who is asking, once the token checked out. */
export interface Principal {
  identity: string;
  name: string;
  grant: RoomGrant;
}
