// RTCDataChannels through mediasoup's own SCTP stack (3.2x dropped usrsctp): a libwebrtc peer's
// DataProducer, forwarded by the worker to another peer's DataConsumer, over DTLS on loopback UDP,
// and across a pipe between two routers in different workers (how a call spanning SFU nodes
// carries data). Every message is counted: the reliable kind must arrive complete and in order.
import type { types } from 'mediasoup';
import type { types as client, Device } from 'mediasoup-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWrtcDevice, SMOKE_ROUTER_CODECS, startTestWorker } from '../src/media';
import { StopWaiting, waitFor } from '../src/waitFor';

const RELIABLE_MESSAGES = 300;
// Larger than one SCTP DATA chunk at the DTLS MTU: the message is fragmented and reassembled.
const BIG_MESSAGE_BYTES = 60_000;
const TIMEOUT_MS = 20_000;

const cleanups: Array<() => unknown> = [];
const onCleanup = (fn: () => unknown) => cleanups.push(fn);

interface DataPeer {
  device: Device;
  server: types.WebRtcTransport;
  local: client.Transport;
}

async function dataTransport(
  router: types.Router,
  device: Device,
  direction: 'send' | 'recv',
): Promise<DataPeer> {
  const server = await router.createWebRtcTransport({
    listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
    enableSctp: true,
  });
  onCleanup(() => server.close());
  const options: client.TransportOptions = {
    id: server.id,
    iceParameters: server.iceParameters,
    iceCandidates: server.iceCandidates,
    dtlsParameters: server.dtlsParameters,
    sctpParameters: server.sctpParameters as client.SctpParameters,
  };
  const local =
    direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
  onCleanup(() => local.close());
  local.on('connect', ({ dtlsParameters }, callback, errback) => {
    server.connect({ dtlsParameters }).then(callback, errback);
  });
  local.on('producedata', ({ sctpStreamParameters, label, protocol }, callback, errback) => {
    server
      .produceData({
        sctpStreamParameters: sctpStreamParameters as types.SctpStreamParameters,
        label,
        protocol,
      })
      .then(({ id }) => callback({ id }), errback);
  });
  return { device, server, local };
}

async function consumeData(
  recv: DataPeer,
  dataProducerId: string,
): Promise<{ server: types.DataConsumer; local: client.DataConsumer }> {
  const server = await recv.server.consumeData({ dataProducerId });
  onCleanup(() => server.close());
  const local = await recv.local.consumeData({
    id: server.id,
    dataProducerId,
    sctpStreamParameters: server.sctpStreamParameters as client.SctpStreamParameters,
    label: server.label,
    protocol: server.protocol,
  });
  onCleanup(() => local.close());
  return { server, local };
}

/** Collects what a DataConsumer receives, as text. */
function collect(consumer: client.DataConsumer): string[] {
  const got: string[] = [];
  consumer.on('message', (data: unknown) => {
    got.push(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer).toString('utf8'));
  });
  return got;
}

async function opened(producer: client.DataProducer): Promise<void> {
  if (producer.readyState === 'open') return;
  await new Promise<void>((resolve, reject) => {
    producer.once('open', () => resolve());
    producer.once('error', reject);
  });
}

describe('DataChannels through mediasoup SCTP (wrtc peers)', { timeout: 60_000 }, () => {
  const workers: types.Worker[] = [];
  let workerDeath: Error | undefined;

  const waitForData = (probe: () => boolean, what: string) =>
    waitFor(
      () => {
        if (workerDeath) throw new StopWaiting(`mediasoup worker died: ${workerDeath.message}`);
        return probe();
      },
      { timeoutMs: TIMEOUT_MS, what },
    );

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const worker = await startTestWorker();
      worker.on('died', (error) => {
        workerDeath = error;
      });
      workers.push(worker);
    }
  }, 20_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Teardown continues whatever one close did.
      }
    }
    for (const worker of workers) worker.close();
  }, 20_000);

  it('forwards reliable and unreliable messages from a DataProducer to DataConsumers, also across a pipe', async () => {
    const routerA = await workers[0]!.createRouter({ mediaCodecs: SMOKE_ROUTER_CODECS });
    const routerB = await workers[1]!.createRouter({ mediaCodecs: SMOKE_ROUTER_CODECS });
    onCleanup(() => routerA.close());
    onCleanup(() => routerB.close());
    const caps = routerA.rtpCapabilities as client.RtpCapabilities;

    const send = await dataTransport(routerA, await createWrtcDevice(caps), 'send');
    const local = await dataTransport(routerA, await createWrtcDevice(caps), 'recv');
    const remote = await dataTransport(routerB, await createWrtcDevice(caps), 'recv');

    const chat = await send.local.produceData({ ordered: true, label: 'chat', protocol: 'trellis-chat' });
    const cursor = await send.local.produceData({ ordered: false, maxRetransmits: 0, label: 'cursor' });
    onCleanup(() => chat.close());
    onCleanup(() => cursor.close());

    // The remote viewer's router gets the data producers through a pipe (SCTP over the pipe transport).
    await routerA.pipeToRouter({ dataProducerId: chat.id, router: routerB });
    await routerA.pipeToRouter({ dataProducerId: cursor.id, router: routerB });

    const localChat = await consumeData(local, chat.id);
    const remoteChat = await consumeData(remote, chat.id);
    const localCursor = await consumeData(local, cursor.id);
    expect(localChat.server.sctpStreamParameters?.ordered).toBe(true);
    expect(localChat.local.label).toBe('chat');
    expect(remoteChat.local.protocol).toBe('trellis-chat');

    const localGot = collect(localChat.local);
    const remoteGot = collect(remoteChat.local);
    const cursorGot = collect(localCursor.local);
    await Promise.all([opened(chat), opened(cursor)]);
    await waitForData(
      () => localChat.local.readyState === 'open' && remoteChat.local.readyState === 'open',
      'the consumers’ data channels to open',
    );

    const big = 'x'.repeat(BIG_MESSAGE_BYTES);
    const sent: string[] = [];
    for (let i = 0; i < RELIABLE_MESSAGES; i++) {
      const message = i === RELIABLE_MESSAGES / 2 ? big : `message ${i}`;
      sent.push(message);
      chat.send(message);
    }
    for (let i = 0; i < 50; i++) cursor.send(`cursor ${i}`);

    await waitForData(
      () => localGot.length >= RELIABLE_MESSAGES && remoteGot.length >= RELIABLE_MESSAGES,
      `${RELIABLE_MESSAGES} reliable messages at both consumers`,
    );
    await waitForData(() => cursorGot.length > 0, 'unreliable messages');

    expect(localGot).toEqual(sent);
    expect(remoteGot).toEqual(sent);
    // Loopback loses nothing; unordered/unreliable may reorder, never duplicate.
    expect(new Set(cursorGot).size).toBe(cursorGot.length);
    const stats = (await localChat.server.getStats())[0];
    expect(stats?.messagesSent).toBe(RELIABLE_MESSAGES);
    expect(send.server.sctpState).toBe('connected');
    console.info(
      `[webrtc-datachannel] ${localGot.length} reliable messages in order at each consumer (one of ${BIG_MESSAGE_BYTES} B), ` +
        `${cursorGot.length}/50 unreliable; sctpState ${send.server.sctpState}`,
    );
    expect(workers.every((w) => !w.died)).toBe(true);
  });
});
