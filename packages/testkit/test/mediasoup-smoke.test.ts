// Real RTP through a real mediasoup worker: UDP in on one PlainTransport, out of a consumer on another.
import type { types } from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRtpReceiver,
  openUdpSocket,
  type RtpReceiver,
  SMOKE_ROUTER_CODECS,
  sendRtpStream,
  startTestWorker,
  vp8Payload,
} from '../src/media';
import { waitFor } from '../src/waitFor';

// Deliberately not what the router assigns, so the test sees the consumer rewrite them.
const SENT_PAYLOAD_TYPE = 96;
const SENT_SSRC = 0x1234_5678;
const PACKETS = 300;
const PAYLOAD = vp8Payload({ size: 300 });

describe('mediasoup worker with PlainTransports', { timeout: 60_000 }, () => {
  let worker: types.Worker | undefined;
  let receiver: RtpReceiver | undefined;

  beforeAll(async () => {
    worker = await startTestWorker();
  });

  afterAll(async () => {
    await receiver?.close();
    worker?.close();
  });

  it('creates a router with Opus, VP8 and H264', async () => {
    const router = await worker!.createRouter({ mediaCodecs: SMOKE_ROUTER_CODECS });
    const mimeTypes = router.rtpCapabilities.codecs?.map((codec) => codec.mimeType) ?? [];
    expect(mimeTypes).toEqual(expect.arrayContaining(['audio/opus', 'video/VP8', 'video/H264']));
    router.close();
  });

  it('forwards real RTP from a comedia ingest to a consumer on a second transport', async () => {
    const router = await worker!.createRouter({ mediaCodecs: SMOKE_ROUTER_CODECS });
    const listenInfo: types.TransportListenInfo = { protocol: 'udp', ip: '127.0.0.1' };
    const ingest = await router.createPlainTransport({ listenInfo, comedia: true, rtcpMux: true });
    const egress = await router.createPlainTransport({ listenInfo, comedia: false, rtcpMux: true });

    const producer = await ingest.produce({
      kind: 'video',
      rtpParameters: {
        codecs: [{ mimeType: 'video/VP8', payloadType: SENT_PAYLOAD_TYPE, clockRate: 90_000 }],
        encodings: [{ ssrc: SENT_SSRC }],
      },
    });
    receiver = await createRtpReceiver();
    await egress.connect({ ip: receiver.host, port: receiver.port });
    const consumer = await egress.consume({
      producerId: producer.id,
      rtpCapabilities: router.rtpCapabilities,
    });
    const expectedPayloadType = consumer.rtpParameters.codecs[0]?.payloadType;
    const expectedSsrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    expect(expectedPayloadType).not.toBe(SENT_PAYLOAD_TYPE);
    expect(expectedSsrc).not.toBe(SENT_SSRC);

    // One socket for the whole stream: comedia latches onto the first packet's source address.
    const senderSocket = await openUdpSocket();
    try {
      const { sent } = await sendRtpStream({
        socket: senderSocket,
        host: ingest.tuple.localAddress,
        port: ingest.tuple.localPort,
        count: PACKETS,
        intervalMs: 5,
        payloadType: SENT_PAYLOAD_TYPE,
        ssrc: SENT_SSRC,
        payload: PAYLOAD,
      });
      expect(ingest.tuple.remotePort).toBe(senderSocket.address().port);

      // The consumer's transport also sends its own bandwidth probation packets (another SSRC and
      // PT, padding only), so the forwarded stream is picked out by the SSRC the consumer announced.
      const rx = receiver;
      const forwarded = () => rx.headers.filter((header) => header.ssrc === expectedSsrc);
      const atLeast = Math.ceil(sent * 0.95);
      await waitFor(() => forwarded().length >= atLeast, {
        timeoutMs: 10_000,
        what: `${atLeast} RTP packets`,
      });
      const [producerStats] = await producer.getStats();
      console.info(
        `[mediasoup-smoke] sent ${sent}, producer counted ${producerStats?.packetCount}, ` +
          `forwarded ${forwarded().length} (+${rx.rtpPackets - forwarded().length} probation)`,
      );

      expect(producerStats?.packetCount).toBeGreaterThanOrEqual(atLeast);
      expect(new Set(forwarded().map((header) => header.payloadType))).toEqual(
        new Set([expectedPayloadType]),
      );
      expect(new Set(forwarded().map((header) => header.payloadSize))).toEqual(new Set([PAYLOAD.length]));
      expect(rx.headers.filter((header) => header.ssrc === SENT_SSRC)).toEqual([]);
      const sequenceNumbers = new Set(forwarded().map((header) => header.sequenceNumber));
      expect(sequenceNumbers.size).toBe(forwarded().length);
    } finally {
      senderSocket.close();
      router.close();
    }
  });
});
