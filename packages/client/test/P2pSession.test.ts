import type { Api } from '@trellis/protocol';
import { waitFor } from '@trellis/testkit';
import { installWrtcGlobals } from '@trellis/testkit/media';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { P2pSession } from '../src/P2pSession';
import type { P2pRemoteTrack } from '../src/P2pSessionTypes';
import { Cleanup, countFrames, localMedia, sleep } from './helpers';

const MEDIA_TIMEOUT_MS = 20_000;

/** Two sessions joined by an in-memory relay; `delay` decides per signal how late it arrives. */
function pair(cleanup: Cleanup, delay: (signal: Api.P2pSignal) => number = () => 0) {
  const a = localMedia(cleanup);
  const b = localMedia(cleanup);
  const sent: Record<'a' | 'b', Api.P2pSignal[]> = { a: [], b: [] };
  /** The kinds of signal each side received, in arrival order. */
  const arrived: Record<'a' | 'b', string[]> = { a: [], b: [] };
  const sessions: { a?: P2pSession; b?: P2pSession } = {};
  const relay = (from: 'a' | 'b') => async (signal: Api.P2pSignal) => {
    sent[from].push(signal);
    const to = from === 'a' ? 'b' : 'a';
    setTimeout(() => {
      arrived[to].push(signal.kind);
      void sessions[to]?.handleSignal(signal);
    }, delay(signal));
  };
  sessions.a = cleanup.add(
    new P2pSession({
      remoteParticipantId: 'bob',
      offerer: true,
      localTracks: a.tracks,
      sendSignal: relay('a'),
    }),
    (s) => s.close(),
  );
  sessions.b = cleanup.add(
    new P2pSession({
      remoteParticipantId: 'alice',
      offerer: false,
      localTracks: b.tracks,
      sendSignal: relay('b'),
    }),
    (s) => s.close(),
  );
  return { a: sessions.a, b: sessions.b, sent, arrived };
}

function remoteTrack(tracks: P2pRemoteTrack[], kind: 'audio' | 'video'): P2pRemoteTrack | undefined {
  return tracks.find((t) => t.kind === kind);
}

describe('P2pSession (wrtc peers, in-memory relay)', { timeout: 60_000 }, () => {
  const cleanup = new Cleanup();
  beforeAll(() => {
    installWrtcGlobals();
  });
  afterEach(() => cleanup.run());

  it('connects and each side decodes the other one’s video and audio; only the offerer offers', async () => {
    const { a, b, sent } = pair(cleanup, () => 5);
    await Promise.all([a.start(), b.start()]);
    const bVideo = await waitFor(() => remoteTrack(b.remoteTracks, 'video'), { what: 'b remote video' });
    const aVideo = await waitFor(() => remoteTrack(a.remoteTracks, 'video'), { what: 'a remote video' });
    const atB = countFrames(cleanup, bVideo.track);
    const atA = countFrames(cleanup, aVideo.track);
    await waitFor(() => atB.frames >= 20 && atA.frames >= 20, {
      timeoutMs: MEDIA_TIMEOUT_MS,
      what: '20 frames each way',
    });
    expect(a.connectionState).toBe('connected');
    expect(b.connectionState).toBe('connected');
    expect(atA.width).toBe(320);
    // Audio arrives too: packetsReceived grows in the connection's stats.
    const audio = remoteTrack(b.remoteTracks, 'audio');
    expect(audio).toBeDefined();
    const packets = async () => {
      let n = 0;
      (await audio!.getStats()).forEach((e: Record<string, unknown>) => {
        if (e.type === 'inbound-rtp' && e.kind === 'audio') n += Number(e.packetsReceived ?? 0);
      });
      return n;
    };
    const before = await packets();
    await sleep(300);
    expect(await packets()).toBeGreaterThan(before);
    const descriptions = (side: Api.P2pSignal[]) =>
      side.flatMap((s) => (s.kind === 'description' ? [s.description.type] : []));
    expect(descriptions(sent.a)).toEqual(['offer']);
    expect(descriptions(sent.b)).toEqual(['answer']);
    expect(sent.a.some((s) => s.kind === 'candidate')).toBe(true);
  });

  it('queues candidates that arrive before the description', async () => {
    // Descriptions take 400 ms, candidates are immediate: every early candidate must wait in the queue.
    const { a, b, arrived } = pair(cleanup, (signal) => (signal.kind === 'description' ? 400 : 0));
    await Promise.all([a.start(), b.start()]);
    const bVideo = await waitFor(() => remoteTrack(b.remoteTracks, 'video'), { what: 'b remote video' });
    const frames = countFrames(cleanup, bVideo.track);
    await waitFor(() => frames.frames >= 10, { timeoutMs: MEDIA_TIMEOUT_MS, what: '10 frames at b' });
    expect(b.connectionState).toBe('connected');
    // The case under test did happen: b got candidates before the offer (and a before the answer).
    expect(arrived.b[0]).toBe('candidate');
    expect(arrived.a[0]).toBe('candidate');
  });

  it('ignores an offer sent to the offerer (no glare) and keeps working', async () => {
    const { a, b } = pair(cleanup);
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => a.connectionState === 'connected', {
      timeoutMs: MEDIA_TIMEOUT_MS,
      what: 'connected',
    });
    await a.handleSignal({ kind: 'description', description: { type: 'offer', sdp: 'v=0\r\n' } });
    const aVideo = remoteTrack(a.remoteTracks, 'video')!;
    const frames = countFrames(cleanup, aVideo.track);
    await waitFor(() => frames.frames >= 10, {
      timeoutMs: MEDIA_TIMEOUT_MS,
      what: 'frames after the stray offer',
    });
    expect(a.connectionState).toBe('connected');
  });

  it('close() leaves the local tracks live', async () => {
    const media = localMedia(cleanup);
    const session = new P2pSession({
      remoteParticipantId: 'x',
      offerer: true,
      localTracks: media.tracks,
      sendSignal: async () => undefined,
    });
    await session.start();
    session.close();
    expect(session.closed).toBe(true);
    expect(media.video.track.readyState).toBe('live');
  });

  it('replaceTrack switches the camera without renegotiation: the remote track shows the new source', async () => {
    const { a, b, sent } = pair(cleanup);
    await Promise.all([a.start(), b.start()]);
    const bVideo = await waitFor(() => remoteTrack(b.remoteTracks, 'video'), { what: 'b remote video' });
    const atB = countFrames(cleanup, bVideo.track);
    await waitFor(() => atB.frames >= 10, { timeoutMs: MEDIA_TIMEOUT_MS, what: 'first camera' });
    expect(atB.width).toBe(320);
    const offers = sent.a.filter((s) => s.kind === 'description').length;
    // A new "device": 640x360 instead of 320x180, on the same sender.
    const other = localMedia(cleanup, { width: 640, height: 360 });
    await a.replaceTrack('video', other.video.track as unknown as MediaStreamTrack);
    await waitFor(() => atB.width === 640, { timeoutMs: MEDIA_TIMEOUT_MS, what: 'frames of the new camera' });
    expect(remoteTrack(b.remoteTracks, 'video')?.track).toBe(bVideo.track);
    expect(sent.a.filter((s) => s.kind === 'description').length).toBe(offers);
    // The answerer can start sending a kind later too: its transceivers answered sendrecv.
    const aVideo = await waitFor(() => remoteTrack(a.remoteTracks, 'video'), { what: 'a remote video' });
    const atA = countFrames(cleanup, aVideo.track);
    await b.replaceTrack('video', null);
    await sleep(500);
    const stopped = atA.frames;
    await sleep(700);
    expect(atA.frames - stopped).toBeLessThan(3);
    await b.replaceTrack('video', other.video.track as unknown as MediaStreamTrack);
    await waitFor(() => atA.frames > stopped + 10, { timeoutMs: MEDIA_TIMEOUT_MS, what: 'b sending again' });
  });

  it('a screen share rides the negotiated second video transceiver, beside the camera', async () => {
    const { a, b, sent } = pair(cleanup);
    await Promise.all([a.start(), b.start()]);
    const camera = await waitFor(() => b.remoteTracks.find((t) => t.kind === 'video' && !t.screen), {
      what: 'b camera track',
    });
    const screenAtB = await waitFor(() => b.remoteTracks.find((t) => t.screen), { what: 'b screen track' });
    const atCamera = countFrames(cleanup, camera.track);
    const atScreen = countFrames(cleanup, screenAtB.track);
    await waitFor(() => atCamera.frames >= 10, { timeoutMs: MEDIA_TIMEOUT_MS, what: 'camera frames' });
    expect(atScreen.frames).toBe(0);
    const offers = sent.a.filter((s) => s.kind === 'description').length;
    const screen = localMedia(cleanup, { width: 640, height: 360 });
    await a.replaceScreen(screen.video.track as unknown as MediaStreamTrack);
    await waitFor(() => atScreen.frames >= 10, { timeoutMs: MEDIA_TIMEOUT_MS, what: 'screen frames' });
    expect(atScreen.width).toBe(640);
    expect(atCamera.width).toBe(320);
    expect(sent.a.filter((s) => s.kind === 'description').length).toBe(offers);
    // The answerer shares too: its screen goes on the same transceiver pair the other way.
    const screenAtA = await waitFor(() => a.remoteTracks.find((t) => t.screen), { what: 'a screen track' });
    const atA = countFrames(cleanup, screenAtA.track);
    await b.replaceScreen(screen.video.track as unknown as MediaStreamTrack);
    await waitFor(() => atA.frames >= 10, { timeoutMs: MEDIA_TIMEOUT_MS, what: 'b screen frames at a' });
    await a.replaceScreen(null);
    await sleep(500);
    const stopped = atScreen.frames;
    await sleep(700);
    expect(atScreen.frames - stopped).toBeLessThan(3);
  });
});
