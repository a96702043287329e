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
});
