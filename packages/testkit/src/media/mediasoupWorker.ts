import { existsSync } from 'node:fs';
import { createWorker, type types, workerBin } from 'mediasoup';

/** Opus, VP8 and H264: the codecs every media smoke test routes. */
export const SMOKE_ROUTER_CODECS: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48_000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90_000 },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90_000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];

/** A mediasoup worker for a test, with a clear message when the cached binary is missing. */
export async function startTestWorker(): Promise<types.Worker> {
  if (!existsSync(workerBin)) {
    throw new Error(
      `mediasoup-worker not found at ${workerBin}: set MEDIASOUP_WORKER_BIN (scripts/mediasoup-worker.sh prints it)`,
    );
  }
  return createWorker({ logLevel: 'warn' });
}
