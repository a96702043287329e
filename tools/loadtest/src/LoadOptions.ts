import { z } from 'zod';
import type { SubscribePolicy } from './LoadParticipantTypes';

/**
 * A load run, as the CLI and the programmatic API take it. Everything is bounded: counts, rates and
 * the duration have ceilings, and the only host contacted is `url`'s.
 */
export const LoadOptions = z
  .object({
    /** The signaling node: http(s)://host[:port], nothing else. */
    url: z
      .string()
      .url()
      .transform((u) => new URL(u))
      .refine((u) => u.protocol === 'http:' || u.protocol === 'https:', 'url must be http(s)://')
      .refine((u) => u.pathname === '/' && !u.search && !u.hash && !u.username && !u.password, {
        message: 'url must be only scheme://host[:port] (no path, query, fragment or credentials)',
      })
      .transform((u) => u.origin),
    /** HS256 secret to mint one token per participant (JWT_SECRET of the cluster). */
    secret: z.string().min(1).optional(),
    /** Ready-made tokens instead: one per participant, their rooms and identities are used as is. */
    tokens: z.array(z.string().min(10)).optional(),
    issuer: z.string().default('trellis'),
    audience: z.string().default('trellis'),
    calls: z.number().int().min(1).max(100).default(1),
    participants: z
      .number()
      .int()
      .min(3, 'participants per call must be 3 or more: a 1:1 call is peer to peer, it never reaches the SFU')
      .max(50)
      .default(5),
    /** Joins per second over the whole run. */
    joinRate: z.number().positive().max(50).default(5),
    durationSeconds: z.number().positive().max(3_600).default(30),
    workers: z.number().int().min(1).max(64).default(1),
    publishVideo: z.boolean().default(true),
    publishAudio: z.boolean().default(true),
    /**
     * Participants per call whose audio is speech (the first to join); the others' microphones send
     * silence as Opus DTX, as most of a large call does.
     */
    speakers: z.number().int().min(0).max(50).default(2),
    /** all | none | N (the first N other publishers) | last-N (a grid of N video tiles, all audio) */
    subscribe: z
      .string()
      .regex(/^(all|none|\d+|last-\d+)$/, 'subscribe must be all, none, a number N or last-N')
      .default('all'),
    /** Simulcast layer requested by every video subscription: 0 (320x180), 1 (640x360), 2 (1280x720). */
    videoLayer: z.number().int().min(0).max(2).default(0),
    roomPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/)
      .default(`load-${Date.now().toString(36)}`),
    /** Seconds to let joins, leaves and worker exits finish after the duration. */
    graceSeconds: z.number().int().min(1).max(120).default(15),
  })
  .refine((o) => (o.secret === undefined) !== (o.tokens === undefined), {
    message: 'give exactly one of --secret or --token',
  });
export type LoadOptions = z.output<typeof LoadOptions>;
export type LoadOptionsInput = z.input<typeof LoadOptions>;

export function subscribePolicy(value: string): SubscribePolicy {
  if (value === 'all') return { mode: 'all' };
  if (value === 'none') return { mode: 'none' };
  if (value.startsWith('last-')) return { mode: 'last', count: Number(value.slice(5)) };
  return { mode: 'count', count: Number(value) };
}
