import { waitFor } from '@trellis/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteTrackSelector } from '../src/RemoteTrackSelector';
import type { ExposedTrack, MediaPath } from '../src/RemoteTrackSelectorTypes';

/** A fake remote track whose decoded-frame counter the test drives. */
class FakeSource {
  frames = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly track: MediaStreamTrack;

  constructor(
    readonly key: string,
    readonly path: MediaPath,
    readonly participantId = 'bob',
  ) {
    this.track = { id: key, kind: 'video' } as MediaStreamTrack;
  }

  play(): this {
    this.#timer ??= setInterval(() => this.frames++, 5);
    return this;
  }

  pause(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  init() {
    return {
      key: this.key,
      participantId: this.participantId,
      kind: 'video' as const,
      path: this.path,
      track: this.track,
      getStats: async () =>
        new Map([
          ['v', { type: 'inbound-rtp', kind: 'video', framesDecoded: this.frames }],
        ]) as unknown as RTCStatsReport,
    };
  }
}

describe('RemoteTrackSelector', () => {
  const sources: FakeSource[] = [];
  const selectors: RemoteTrackSelector[] = [];
  afterEach(() => {
    for (const s of sources.splice(0)) s.pause();
    for (const s of selectors.splice(0)) s.close();
  });

  function setUp(endGraceMs = 200) {
    const selector = new RemoteTrackSelector({
      intervalMs: 10,
      steadyIntervalMs: 20,
      stallMs: 150,
      endGraceMs,
    });
    selectors.push(selector);
    const exposed: ExposedTrack[] = [];
    const ended: string[] = [];
    selector.on('exposed', (e) => exposed.push(e));
    selector.on('ended', (e) => ended.push(`${e.participantId}:${e.kind}`));
    const source = (key: string, path: MediaPath, participantId?: string) => {
      const s = new FakeSource(key, path, participantId);
      sources.push(s);
      return s;
    };
    return { selector, exposed, ended, source };
  }

  it('exposes the first track at once, then switches only to a preferred track that delivers', async () => {
    const { selector, exposed, source } = setUp();
    const p2p = source('p2p-1', 'p2p');
    selector.add(p2p.init());
    expect(exposed.map((e) => e.track.id)).toEqual(['p2p-1']);
    p2p.play();
    await waitFor(() => selector.isFlowing('bob', 'video', 'p2p'), { what: 'p2p flowing' });

    selector.setPreferredPath('sfu');
    const sfu = source('sfu-1', 'sfu');
    selector.add(sfu.init());
    await new Promise((resolve) => setTimeout(resolve, 80));
    // The SFU track exists but delivers nothing yet: the P2P one stays on screen.
    expect(exposed.map((e) => e.track.id)).toEqual(['p2p-1']);
    sfu.play();
    await waitFor(() => exposed.length === 2, { what: 'switch to sfu' });
    expect(exposed[1]).toMatchObject({ path: 'sfu', participantId: 'bob', kind: 'video' });
    expect(selector.stats().bob?.video).toMatchObject({ path: 'sfu', flowing: true, stale: false });
    expect(selector.takeSwitchGap()).toBe(0);
    expect(selector.takeSwitchGap()).toBeUndefined();

    // Back: P2P preferred again and delivering, so it wins again.
    selector.setPreferredPath('p2p');
    expect(exposed.at(-1)?.track.id).toBe('p2p-1');
  });

  it('keeps a closed track on screen until its replacement delivers (no ended in between)', async () => {
    const { selector, exposed, ended, source } = setUp();
    selector.setPreferredPath('sfu');
    const old = source('sfu-old', 'sfu').play();
    selector.add(old.init());
    await waitFor(() => selector.isFlowing('bob', 'video', 'sfu'), { what: 'flowing' });
    const replacement = source('sfu-new', 'sfu');
    selector.add(replacement.init());
    selector.remove('sfu-old');
    expect(selector.stats().bob?.video).toMatchObject({ trackId: 'sfu-old', stale: true, flowing: false });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ended).toEqual([]);
    replacement.play();
    await waitFor(() => exposed.at(-1)?.track.id === 'sfu-new', { what: 'replacement exposed' });
    expect(ended).toEqual([]);
  });

  it('ends a slot after the grace when nothing replaces it, and at once when the participant leaves', async () => {
    const { selector, ended, source } = setUp(100);
    selector.add(source('t1', 'p2p').init());
    selector.add(source('t2', 'p2p', 'carol').init());
    selector.remove('t1');
    expect(ended).toEqual([]);
    await waitFor(() => ended.length === 1, { timeoutMs: 1_000, what: 'ended after grace' });
    expect(ended).toEqual(['bob:video']);
    selector.removeParticipant('carol');
    expect(ended).toEqual(['bob:video', 'carol:video']);
    expect(selector.stats()).toEqual({});
  });

  it('removePath drops every track of a path; clear ends everything', () => {
    const { selector, ended, exposed, source } = setUp();
    selector.add(source('p', 'p2p').init());
    selector.add(source('s', 'sfu', 'carol').init());
    selector.removePath('sfu');
    expect(exposed.map((e) => e.track.id)).toEqual(['p', 's']);
    selector.clear();
    expect(ended.sort()).toEqual(['bob:video', 'carol:video']);
    expect(selector.exposed('bob', 'video')).toBeUndefined();
  });
});
