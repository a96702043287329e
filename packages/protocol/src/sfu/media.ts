import { z } from 'zod';

/**
 * Shapes of mediasoup's parameters as they cross the bus. The structure is checked here (so a
 * client gets VALIDATION_FAILED naming the field); the fine print (codec parameters, header
 * extension URIs) is left to mediasoup, whose errors come back typed (UNSUPPORTED_MEDIA, CONFLICT,
 * MEDIA_ERROR). Unknown keys pass
 * through untouched: mediasoup and mediasoup-client add fields between versions.
 */

/** Ids used in Redis keys and stream names: no braces (Cluster hash tags), no spaces. */
export const EntityId = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected 1-128 of A-Z a-z 0-9 . _ : -');
export const RoomId = EntityId;
export const PeerId = EntityId;
/** mediasoup's own ids (UUIDs). */
export const MediaId = z.string().min(1).max(64);

export const MediaKind = z.enum(['audio', 'video']);
export type MediaKind = z.infer<typeof MediaKind>;

export const AppData = z.record(z.string(), z.unknown());

const RtcpFeedback = z.looseObject({ type: z.string(), parameter: z.string().optional() });

const RtpCodecCapability = z.looseObject({
  kind: MediaKind,
  mimeType: z.string().regex(/^(audio|video)\/.+/),
  preferredPayloadType: z.number().int().min(0).max(127).optional(),
  clockRate: z.number().int().positive(),
  channels: z.number().int().positive().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  rtcpFeedback: z.array(RtcpFeedback).optional(),
});

export const RtpCapabilities = z.looseObject({
  codecs: z.array(RtpCodecCapability).optional(),
  headerExtensions: z.array(z.looseObject({ uri: z.string(), preferredId: z.number().int() })).optional(),
});
export type RtpCapabilities = z.infer<typeof RtpCapabilities>;

export const RtpEncoding = z.looseObject({
  ssrc: z.number().int().nonnegative().optional(),
  rid: z.string().optional(),
  scalabilityMode: z.string().optional(),
  maxBitrate: z.number().positive().optional(),
  dtx: z.boolean().optional(),
});

export const RtpParameters = z.looseObject({
  mid: z.string().optional(),
  codecs: z
    .array(
      z.looseObject({
        mimeType: z.string(),
        payloadType: z.number().int().min(0).max(127),
        clockRate: z.number().int().positive(),
        channels: z.number().int().positive().optional(),
        parameters: z.record(z.string(), z.unknown()).optional(),
        rtcpFeedback: z.array(RtcpFeedback).optional(),
      }),
    )
    .min(1),
  headerExtensions: z.array(z.looseObject({ uri: z.string(), id: z.number().int() })).optional(),
  encodings: z.array(RtpEncoding).optional(),
  rtcp: z.looseObject({ cname: z.string().optional(), reducedSize: z.boolean().optional() }).optional(),
});
export type RtpParameters = z.infer<typeof RtpParameters>;

export const DtlsParameters = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(z.object({ algorithm: z.string().min(1), value: z.string().min(1) }))
    .min(1)
    .max(8),
});
export type DtlsParameters = z.infer<typeof DtlsParameters>;

export const IceParameters = z.looseObject({
  usernameFragment: z.string(),
  password: z.string(),
  iceLite: z.boolean().optional(),
});

export const IceCandidate = z.looseObject({
  foundation: z.string(),
  priority: z.number(),
  address: z.string(),
  port: z.number().int().min(1).max(65535),
  type: z.string(),
  protocol: z.enum(['udp', 'tcp']),
  tcpType: z.string().optional(),
});

export const SctpParameters = z.looseObject({
  port: z.number().int(),
  OS: z.number().int(),
  MIS: z.number().int(),
  maxMessageSize: z.number().int(),
});

export const ConsumerLayers = z.object({
  spatialLayer: z.number().int().min(0).max(15),
  temporalLayer: z.number().int().min(0).max(15).optional(),
});
export type ConsumerLayers = z.infer<typeof ConsumerLayers>;
