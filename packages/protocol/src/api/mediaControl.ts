import { z } from 'zod';
import { ConsumerLayers, IceParameters, MediaId, MediaKind, RoomId } from '../sfu/media';
import { defineRequest } from './define';
import { ParticipantInfo } from './state';

/**
 * Requests for a call in progress: mute (seen by everyone, and on the SFU a paused producer, so a
 * muted camera costs no bandwidth), receive preferences (paused consumers for off-page tiles, the
 * simulcast layer that fits a tile) and ICE restart of a failed SFU transport.
 */
const InRoom = { roomId: RoomId };
const media = { points: 100, perSeconds: 1 } as const;

export const SetMuted = defineRequest({
  name: 'setMuted',
  summary: "Mute or unmute the caller's microphone or camera: others are told, SFU producers pause",
  http: { method: 'POST', path: '/v1/rooms/{roomId}/mute' },
  access: 'publish',
  rateLimit: { points: 20, perSeconds: 1 },
  request: z.object({ ...InRoom, kind: MediaKind, muted: z.boolean() }),
  reply: z.object({ participant: ParticipantInfo }),
});

export const SetConsumerPreferences = defineRequest({
  name: 'setConsumerPreferences',
  summary: "Pause or resume one of the caller's consumers, choose its simulcast layer and priority",
  http: { method: 'POST', path: '/v1/rooms/{roomId}/consumers/{consumerId}/preferences' },
  access: 'subscribe',
  rateLimit: media,
  // At least one of paused, preferredLayers, priority: checked by the handler (a refinement here
  // would keep the schema from being split into path and body for REST).
  request: z.object({
    ...InRoom,
    consumerId: MediaId,
    /** Off-page tiles are paused: the SFU stops forwarding them. */
    paused: z.boolean().optional(),
    preferredLayers: ConsumerLayers.optional(),
    /** Bandwidth share under congestion, 1-255 (the active speaker gets more). */
    priority: z.number().int().min(1).max(255).optional(),
  }),
  reply: z.object({ consumerId: MediaId, paused: z.boolean().optional() }),
});

export const RestartIce = defineRequest({
  name: 'restartIce',
  summary: "New ICE credentials for one of the caller's SFU transports (after it failed)",
  http: { method: 'POST', path: '/v1/rooms/{roomId}/transports/{transportId}/restart-ice' },
  access: 'participant',
  rateLimit: { points: 10, perSeconds: 1 },
  request: z.object({ ...InRoom, transportId: MediaId }),
  reply: z.object({ iceParameters: IceParameters }),
});

export const mediaControlRequests = [SetMuted, SetConsumerPreferences, RestartIce] as const;
