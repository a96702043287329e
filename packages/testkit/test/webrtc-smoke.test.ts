// Real WebRTC through a real mediasoup worker: two mediasoup-client Devices on libwebrtc (wrtc) in
// this process, ICE + DTLS-SRTP over loopback UDP, VP8 and Opus encoded, forwarded and decoded.
// DTLS is the point: a worker that crashes on the handshake passes every PlainTransport test.
import type { types } from 'mediasoup';
import type { types as client, Device } from 'mediasoup-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countAudioData,
  countVideoFrames,
  createSyntheticAudioSource,
  createSyntheticVideoSource,
  createWrtcDevice,
  SMOKE_ROUTER_CODECS,
  startTestWorker,
} from '../src/media';
import { StopWaiting, waitFor } from '../src/waitFor';

const WIDTH = 640;
const HEIGHT = 360;
const FPS = 30;
const MIN_FRAMES = 30;
// 50 callbacks of 10 ms: half a second of decoded audio.
const MIN_AUDIO_CHUNKS = 50;
// The source's sine peaks near 9800; decoded silence or comfort noise stays far below this.
const MIN_AUDIO_PEAK = 1000;
// Generous for a loaded 2-core box; only reached when something is broken.
const MEDIA_TIMEOUT_MS = 20_000;

interface TransportPair {
  server: types.WebRtcTransport;
  local: client.Transport;
}

// Everything made is registered here and torn down in reverse order, whatever step failed.
const cleanups: Array<() => unknown> = [];
function onCleanup(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

async function createTransportPair(
  router: types.Router,
  device: Device,
  direction: 'send' | 'recv',
): Promise<TransportPair> {
  const server = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
  onCleanup(() => server.close());
  const options: client.TransportOptions = {
    id: server.id,
    iceParameters: server.iceParameters,
    iceCandidates: server.iceCandidates,
    dtlsParameters: server.dtlsParameters,
  };
  const local =
    direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
  onCleanup(() => local.close());
  local.on('connect', ({ dtlsParameters }, callback, errback) => {
    server.connect({ dtlsParameters }).then(callback, errback);
  });
  if (direction === 'send') {
    local.on('produce', ({ kind, rtpParameters }, callback, errback) => {
      // Signalling boundary: the client's and server's type unions differ slightly (header extension URIs).
      server
        .produce({ kind, rtpParameters: rtpParameters as types.RtpParameters })
        .then(({ id }) => callback({ id }), errback);
    });
  }
  return { server, local };
}

/** Server consumer created paused (as a real SFU does until the client is ready), then resumed. */
async function consume(
  recv: TransportPair,
  device: Device,
  producerId: string,
): Promise<{ server: types.Consumer; local: client.Consumer }> {
  const rtpCapabilities = device.rtpCapabilities as types.RtpCapabilities;
  const server = await recv.server.consume({ producerId, rtpCapabilities, paused: true });
  onCleanup(() => server.close());
  const local = await recv.local.consume({
    id: server.id,
    producerId,
    kind: server.kind,
    // mediasoup 3.27 knows header extensions (toffset) that mediasoup-client 3.24's type omits.
    rtpParameters: server.rtpParameters as client.RtpParameters,
  });
  onCleanup(() => local.close());
  return { server, local };
}

describe('WebRTC media through mediasoup (wrtc peers)', { timeout: 60_000 }, () => {
  let worker: types.Worker | undefined;
  let workerDeath: Error | undefined;

  /** Polls `probe`, but fails at once (not at the timeout) if the worker dies, e.g. on a DTLS handshake. */
  function waitForMedia(probe: () => boolean, what: string): Promise<unknown> {
    return waitFor(
      () => {
        if (workerDeath) throw new StopWaiting(`mediasoup worker died: ${workerDeath.message}`);
        return probe();
      },
      { timeoutMs: MEDIA_TIMEOUT_MS, what },
    );
  }

  beforeAll(async () => {
    worker = await startTestWorker();
    worker.on('died', (error) => {
      workerDeath = error;
    });
  }, 20_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Teardown continues: one failed close must not leak the worker or the other peer.
      }
    }
    worker?.close();
  }, 20_000);

  it('publishes VP8 + Opus from one Device and decodes both on another', async () => {
    const router = await worker!.createRouter({ mediaCodecs: SMOKE_ROUTER_CODECS });
    onCleanup(() => router.close());
    const rtpCapabilities = router.rtpCapabilities as client.RtpCapabilities;
    const publisher = await createWrtcDevice(rtpCapabilities);
    const subscriber = await createWrtcDevice(rtpCapabilities);
    expect(publisher.canProduce('video') && publisher.canProduce('audio')).toBe(true);

    const video = createSyntheticVideoSource({ width: WIDTH, height: HEIGHT, fps: FPS });
    onCleanup(() => video.stop());
    const audio = createSyntheticAudioSource();
    onCleanup(() => audio.stop());

    const send = await createTransportPair(router, publisher, 'send');
    const videoProducer = await send.local.produce({
      track: video.track,
      codec: publisher.rtpCapabilities.codecs?.find((codec) => codec.mimeType === 'video/VP8'),
    });
    onCleanup(() => videoProducer.close());
    const audioProducer = await send.local.produce({ track: audio.track });
    onCleanup(() => audioProducer.close());

    const recv = await createTransportPair(router, subscriber, 'recv');
    const videoConsumer = await consume(recv, subscriber, videoProducer.id);
    const audioConsumer = await consume(recv, subscriber, audioProducer.id);
    expect(videoConsumer.server.rtpParameters.codecs[0]?.mimeType).toBe('video/VP8');
    expect(audioConsumer.server.rtpParameters.codecs[0]?.mimeType).toBe('audio/opus');

    const frames = countVideoFrames(videoConsumer.local.track);
    onCleanup(() => frames.stop());
    const sound = countAudioData(audioConsumer.local.track);
    onCleanup(() => sound.stop());
    expect(videoConsumer.server.paused).toBe(true);
    const resumedAt = performance.now();
    await videoConsumer.server.resume();
    await audioConsumer.server.resume();

    await waitForMedia(
      () => send.server.dtlsState === 'connected' && recv.server.dtlsState === 'connected',
      'both WebRTC transports to reach dtlsState "connected"',
    );
    await waitForMedia(
      () => frames.framesOfSize(WIDTH, HEIGHT) >= MIN_FRAMES,
      `${MIN_FRAMES} decoded ${WIDTH}x${HEIGHT} video frames`,
    );
    await waitForMedia(
      () => sound.chunks >= MIN_AUDIO_CHUNKS && sound.peak >= MIN_AUDIO_PEAK,
      `${MIN_AUDIO_CHUNKS} chunks of decoded non-silent audio`,
    );

    const firstFrameMs = (frames.timestamps[0] ?? Number.NaN) - resumedAt;
    console.info(
      `[webrtc-smoke] video: ${frames.frames} frames (${frames.framesOfSize(WIDTH, HEIGHT)} at ${WIDTH}x${HEIGHT}), ` +
        `first ${firstFrameMs.toFixed(0)} ms after resume, longest gap ${frames.longestGapMs.toFixed(0)} ms; ` +
        `audio: ${sound.chunks} chunks, ${sound.samples} samples @ ${sound.sampleRate} Hz, peak ${sound.peak}`,
    );
    expect(send.server.dtlsState).toBe('connected');
    expect(recv.server.dtlsState).toBe('connected');
    expect(send.local.connectionState).toBe('connected');
    expect(recv.local.connectionState).toBe('connected');
    expect(frames.width).toBe(WIDTH);
    expect(frames.height).toBe(HEIGHT);
    expect(sound.sampleRate).toBeGreaterThan(0);
    expect(worker!.died).toBe(false);
  });
});
