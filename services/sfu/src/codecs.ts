import type { types } from 'mediasoup';

/**
 * The codecs every room's router offers. Order matters: clients pick the first video codec they
 * share with the router, so VP8 (every browser, cheapest to simulcast) leads.
 */
export const ROUTER_MEDIA_CODECS: types.RouterRtpCodecCapability[] = [
  {
    kind: 'audio',
    mimeType: 'audio/opus',
    clockRate: 48_000,
    channels: 2,
    // In-band FEC rides out isolated losses; DTX sends almost nothing while a participant is
    // silent — most of a 50-person call is silent.
    parameters: { useinbandfec: 1, usedtx: 1 },
  },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90_000, parameters: { 'x-google-start-bitrate': 1000 } },
  // AV1 for publishers that ask for it (the SDK's `videoCodec: 'av1'`) and can encode it; it never
  // leads, so a client that doesn't choose gets VP8. mediasoup reads AV1's layers from the
  // Dependency Descriptor, which it accepts from producers but doesn't forward.
  { kind: 'video', mimeType: 'video/AV1', clockRate: 90_000, parameters: { 'x-google-start-bitrate': 1000 } },
  {
    kind: 'video',
    mimeType: 'video/VP9',
    clockRate: 90_000,
    parameters: { 'profile-id': 2, 'x-google-start-bitrate': 1000 },
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90_000,
    parameters: {
      'packetization-mode': 1,
      'profile-level-id': '42e01f',
      'level-asymmetry-allowed': 1,
      'x-google-start-bitrate': 1000,
    },
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90_000,
    parameters: {
      'packetization-mode': 1,
      'profile-level-id': '4d0032',
      'level-asymmetry-allowed': 1,
      'x-google-start-bitrate': 1000,
    },
  },
];
