import { waitFor } from '@trellis/testkit';
import { installWrtcGlobals } from '@trellis/testkit/media';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaFlowWatcher, readCounter } from '../src/MediaFlowWatcher';
import { P2pSession } from '../src/P2pSession';
import { receiverStats, sharedStats } from '../src/statsSources';
import { Cleanup, localMedia } from './helpers';

/** An RTCStatsReport stand-in: readCounter only iterates it. */
function report(...entries: Array<Record<string, unknown>>): RTCStatsReport {
  return new Map(entries.map((e, i) => [String(i), e])) as unknown as RTCStatsReport;
}

describe('readCounter', () => {
  it('counts decoded frames for video and received packets for audio', () => {
    const r = report(
      { type: 'inbound-rtp', kind: 'video', framesDecoded: 42, packetsReceived: 100, trackIdentifier: 'v1' },
      { type: 'inbound-rtp', kind: 'audio', packetsReceived: 7, trackIdentifier: 'a1' },
      { type: 'outbound-rtp', kind: 'video', framesEncoded: 99 },
    );
    expect(readCounter(r, 'video')).toBe(42);
    expect(readCounter(r, 'audio')).toBe(7);
  });

  it('picks the track’s own stream out of a connection-wide report', () => {
    const r = report(
      { type: 'inbound-rtp', kind: 'video', framesDecoded: 10, trackIdentifier: 'mine' },
      { type: 'inbound-rtp', kind: 'video', framesDecoded: 500, trackIdentifier: 'other' },
    );
    expect(readCounter(r, 'video', 'mine')).toBe(10);
    // A stream not listed yet must not borrow another's progress.
    expect(readCounter(r, 'video', 'absent')).toBeUndefined();
  });

  it('falls back to mediaType and to packets when frames are not reported', () => {
    const r = report({ type: 'inbound-rtp', mediaType: 'video', packetsReceived: 5 });
    expect(readCounter(r, 'video', 'any')).toBe(5);
    expect(readCounter(report(), 'audio')).toBeUndefined();
  });
});

describe('MediaFlowWatcher', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('declares flow on the first increase, a stall when progress stops, and flow again', async () => {
    let frames = 0;
    let growing = true;
    const watcher = cleanup.add(
      new MediaFlowWatcher({
        kind: 'video',
        getStats: async () => {
          if (growing) frames += 3;
          return report({ type: 'inbound-rtp', kind: 'video', framesDecoded: frames });
        },
        intervalMs: 10,
        steadyIntervalMs: 20,
        stallMs: 100,
      }),
      (w) => w.close(),
    );
    const events: string[] = [];
    watcher.on('flowing', () => events.push('flowing'));
    watcher.on('stalled', () => events.push('stalled'));
    await watcher.waitUntilFlowing(1_000);
    expect(watcher.flowing).toBe(true);
    expect(watcher.firstProgressAt).toBeDefined();
    growing = false;
    await waitFor(() => !watcher.flowing, { timeoutMs: 1_000, what: 'stall' });
    growing = true;
    await watcher.waitUntilFlowing(1_000);
    expect(events).toEqual(['flowing', 'stalled', 'flowing']);
  });

  it('a counter that is non-zero but constant is not flow; close rejects a waiter', async () => {
    const watcher = new MediaFlowWatcher({
      kind: 'audio',
      getStats: async () => report({ type: 'inbound-rtp', kind: 'audio', packetsReceived: 50 }),
      intervalMs: 10,
    });
    const waiting = watcher.waitUntilFlowing(5_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(watcher.flowing).toBe(false);
    expect(watcher.counter).toBe(50);
    watcher.close();
    await expect(waiting).rejects.toThrow(/closed/);
    await expect(
      new MediaFlowWatcher({
        kind: 'audio',
        getStats: async () => report(),
        intervalMs: 10,
      }).waitUntilFlowing(50),
    ).rejects.toThrow(/no audio media/);
  });

  it('survives a failing stats source (no progress, no throw)', async () => {
    const watcher = cleanup.add(
      new MediaFlowWatcher({
        kind: 'video',
        getStats: () => Promise.reject(new Error('closed')),
        intervalMs: 10,
      }),
      (w) => w.close(),
    );
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(watcher.flowing).toBe(false);
    expect(watcher.counter).toBeUndefined();
  });

  it('detects real video flow on a wrtc receiver and its stop when the sender stops', {
    timeout: 30_000,
  }, async () => {
    installWrtcGlobals();
    const a = localMedia(cleanup);
    const sessions: { a?: P2pSession; b?: P2pSession } = {};
    sessions.a = cleanup.add(
      new P2pSession({
        remoteParticipantId: 'b',
        offerer: true,
        localTracks: a.tracks,
        sendSignal: async (s) => void sessions.b?.handleSignal(s),
      }),
      (s) => s.close(),
    );
    sessions.b = cleanup.add(
      new P2pSession({
        remoteParticipantId: 'a',
        offerer: false,
        sendSignal: async (s) => void sessions.a?.handleSignal(s),
      }),
      (s) => s.close(),
    );
    await sessions.a.start();
    const remote = await waitFor(() => sessions.b?.remoteTracks.find((t) => t.kind === 'video'), {
      what: 'remote video',
    });
    const watcher = cleanup.add(
      new MediaFlowWatcher({
        kind: 'video',
        getStats: remote.getStats,
        trackId: remote.track.id,
        stallMs: 600,
      }),
      (w) => w.close(),
    );
    await watcher.waitUntilFlowing(20_000);
    const stalled = watcher.waitFor('stalled');
    a.video.stop();
    await stalled;
    expect(watcher.flowing).toBe(false);
  });
});

describe('stats sources', () => {
  it('receiverStats falls back for good once the receiver refuses', async () => {
    let receiverCalls = 0;
    let fallbackCalls = 0;
    const source = receiverStats(
      async () => {
        receiverCalls++;
        throw new Error('Not yet implemented');
      },
      async () => {
        fallbackCalls++;
        return report();
      },
    );
    await source();
    await source();
    expect([receiverCalls, fallbackCalls]).toEqual([1, 2]);
  });

  it('sharedStats serves one report to callers within its ttl, and forgets failures', async () => {
    let calls = 0;
    let fail = true;
    const source = sharedStats(async () => {
      calls++;
      if (fail) throw new Error('boom');
      return report();
    }, 1_000);
    await expect(source()).rejects.toThrow('boom');
    fail = false;
    await source();
    await source();
    expect(calls).toBe(2);
  });
});
