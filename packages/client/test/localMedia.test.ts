import { installWrtcGlobals } from '@trellis/testkit/media';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalMedia } from '../src/LocalMedia';
import { ReceivePolicy } from '../src/ReceivePolicy';
import { RemoteStreams } from '../src/RemoteStreams';
import { Cleanup, localMedia } from './helpers';

describe('LocalMedia, RemoteStreams, ReceivePolicy', () => {
  const cleanup = new Cleanup();
  beforeAll(() => {
    installWrtcGlobals();
    return () => cleanup.run();
  });

  it('LocalMedia: mute disables the kind, a replacement inherits the state, wrong kinds are refused', () => {
    const first = localMedia(cleanup);
    const second = localMedia(cleanup);
    const local = new LocalMedia(first.tracks);
    local.setMuted('video', true);
    expect(first.tracks.find((t) => t.kind === 'video')?.enabled).toBe(false);
    expect(first.tracks.find((t) => t.kind === 'audio')?.enabled).toBe(true);
    const camera = second.tracks.find((t) => t.kind === 'video') as MediaStreamTrack;
    local.replace('video', camera);
    expect(camera.enabled).toBe(false);
    expect(local.tracks.filter((t) => t.kind === 'video')).toEqual([camera]);
    expect(() => local.replace('audio', camera)).toThrow(/not audio/);
    local.replace('video', null);
    expect(local.tracks.map((t) => t.kind)).toEqual(['audio']);
    expect(local.muted).toEqual({ audio: false, video: true });
  });

  it('RemoteStreams: one stream per participant, its track of a kind swapped in place', () => {
    const streams = new RemoteStreams();
    const p2p = localMedia(cleanup).tracks;
    const sfu = localMedia(cleanup).tracks;
    const video = (tracks: MediaStreamTrack[]) => tracks.find((t) => t.kind === 'video') as MediaStreamTrack;
    const stream = streams.expose({
      participantId: 'bob',
      kind: 'video',
      track: video(p2p),
      path: 'p2p',
      screen: false,
    });
    expect(stream).toBeDefined();
    expect(stream?.getVideoTracks()).toEqual([video(p2p)]);
    const same = streams.expose({
      participantId: 'bob',
      kind: 'video',
      track: video(sfu),
      path: 'sfu',
      screen: false,
    });
    expect(same).toBe(stream);
    expect(stream?.getVideoTracks()).toEqual([video(sfu)]);
    // A screen share has a stream of its own beside the camera's.
    const screen = streams.expose({
      participantId: 'bob',
      kind: 'video',
      track: video(p2p),
      path: 'p2p',
      screen: true,
    });
    expect(screen).not.toBe(stream);
    expect(streams.get('bob', true)).toBe(screen);
    expect(stream?.getVideoTracks()).toEqual([video(sfu)]);
    streams.end('bob', 'video');
    expect(stream?.getTracks()).toEqual([]);
    expect(screen?.getVideoTracks()).toEqual([video(p2p)]);
    expect(streams.get('bob')).toBe(stream);
    streams.remove('bob');
    expect(streams.get('bob')).not.toBe(stream);
  });

  it('ReceivePolicy: off-page video paused only when steady, layers by tile width, the speaker first', () => {
    const policy = new ReceivePolicy();
    // Before the application says what it shows: everything, top layer.
    expect(policy.preferences({ participantId: 'a', kind: 'video' }, true)).toMatchObject({
      paused: false,
      spatialLayer: 2,
    });
    policy.setViews({
      a: { visible: true, width: 300 },
      b: { visible: true, width: 600 },
      c: { visible: true },
    });
    expect(policy.preferences({ participantId: 'a', kind: 'video' }, true).spatialLayer).toBe(0);
    expect(policy.preferences({ participantId: 'b', kind: 'video' }, true).spatialLayer).toBe(1);
    expect(policy.preferences({ participantId: 'c', kind: 'video' }, true).spatialLayer).toBe(2);
    // d is not on the page: paused, except during a migration (the new path must deliver from all).
    expect(policy.preferences({ participantId: 'd', kind: 'video' }, true).paused).toBe(true);
    expect(policy.preferences({ participantId: 'd', kind: 'video' }, false).paused).toBe(false);
    // Audio is always received.
    expect(policy.preferences({ participantId: 'd', kind: 'audio' }, true).paused).toBe(false);
    // The active speaker's video is received even off-page, with the highest priority.
    expect(policy.setActiveSpeaker('d')).toBe(true);
    expect(policy.setActiveSpeaker('d')).toBe(false);
    expect(policy.preferences({ participantId: 'd', kind: 'video' }, true)).toMatchObject({
      paused: false,
      priority: 255,
    });
  });
});
