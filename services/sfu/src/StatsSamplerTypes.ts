import type { JobPublisher } from '@trellis/jobs';
import type { Logger } from 'pino';
import type { SfuNode } from './SfuNode';

export interface StatsSamplerOptions {
  node: SfuNode;
  publisher: Pick<JobPublisher, 'publish'>;
  intervalMs: number;
  logger: Logger;
  /** getStats round trips to the workers in flight at once, so sampling never floods their channel. */
  parallel?: number;
}

/** mediasoup's per-stream stats, the fields the sampler reads. */
export interface RtpStreamStats {
  type: string;
  mimeType?: string;
  packetCount?: number;
  packetsLost?: number;
  /** RTCP's 8-bit fraction (0..255). */
  fractionLost?: number;
  /** RTP timestamp units. */
  jitter?: number;
  bitrate?: number;
  roundTripTime?: number;
}

export interface TransportStats {
  recvBitrate?: number;
  sendBitrate?: number;
  rtpPacketLossReceived?: number;
  rtpPacketLossSent?: number;
}
