import { waitFor } from '@trellis/testkit';
import { installWrtcGlobals, SMOKE_ROUTER_CODECS, startTestWorker } from '@trellis/testkit/media';
import { Chrome111 } from 'mediasoup-client/handlers/Chrome111';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { consoleLogger } from '../src/Logger';
import { TrellisCall } from '../src/TrellisCall';
import type { PathReadyEvent } from '../src/TrellisCallTypes';
import { FakeSignaling, type FakeSignalingOptions } from './fakeSignaling';
import { Cleanup, localMedia, RenderedVideo } from './helpers';
import { MediasoupRoom, type Worker } from './mediasoupAdapter';

const MEDIA_TIMEOUT_MS = 25_000;
/** A make-before-break switch must not freeze the picture; generous for a loaded 2-core box. */
const MAX_SWITCH_GAP_MS = 700;

interface Participant {
  id: string;
  call: TrellisCall;
  /** The video of each other participant as a renderer shows it. */
  views: Map<string, RenderedVideo>;
  ready: PathReadyEvent[];
  errors: Error[];
}

describe('TrellisCall: P2P ↔ SFU with real media (fake signaling, real mediasoup)', {
  timeout: 120_000,
}, () => {
  let worker: Worker;
  const cleanup = new Cleanup();

  beforeAll(async () => {
    installWrtcGlobals();
    worker = await startTestWorker();
  }, 20_000);
  afterAll(() => worker?.close());
  afterEach(() => cleanup.run());

  async function room(options: FakeSignalingOptions = {}): Promise<FakeSignaling> {
    const router = cleanup.add(await worker.createRouter({ mediaCodecs: SMOKE_ROUTER_CODECS }), (r) =>
      r.close(),
    );
    return cleanup.add(new FakeSignaling(new MediasoupRoom(router), options), (s) => s.close());
  }

  function participant(server: FakeSignaling, id: string, others: string[]): Participant {
    const media = localMedia(cleanup);
    const call = cleanup.add(
      new TrellisCall({
        url: 'fake://signaling',
        token: 'unused',
        roomId: 'room-1',
        localTracks: media.tracks,
        signaling: server.channel(id),
        handlerFactory: Chrome111.createFactory({}),
        logger: consoleLogger('error', `[${id}]`),
      }),
      (c) => c.close(),
    );
    const views = new Map(others.map((o) => [o, new RenderedVideo(cleanup, o)]));
    const p: Participant = { id, call, views, ready: [], errors: [] };
    call.on('remote-track', (event) => views.get(event.participantId)?.attach(event));
    call.on('remote-track-ended', ({ participantId, kind }) => {
      const view = views.get(participantId);
      if (view && kind === 'video') view.ended = true;
    });
    call.on('path-ready', (event) => p.ready.push(event));
    call.on('error', (error) => p.errors.push(error));
    return p;
  }

  const view = (p: Participant, of: string) => p.views.get(of) as RenderedVideo;

  /** Every participant shows every other one's video on `path`, with fresh frames. */
  async function allSee(ps: Participant[], path: 'p2p' | 'sfu', what: string): Promise<void> {
    const since = performance.now();
    await waitFor(
      () =>
        ps.every((p) => [...p.views.values()].every((v) => v.path === path && v.framesSince(since) >= 10)),
      { timeoutMs: MEDIA_TIMEOUT_MS, what },
    );
    for (const p of ps) {
      for (const [of, v] of p.views) {
        expect(p.call.stats().remotes[of]?.video?.path, `${p.id} shows ${of} on ${path}`).toBe(path);
        expect(v.ended).toBe(false);
      }
    }
  }

  it('two talk P2P; a third moves everyone to the SFU without a freeze; back to P2P when it leaves', async () => {
    const server = await room({ hysteresisMs: 500 });
    const alice = participant(server, 'alice', ['bob', 'carol']);
    const bob = participant(server, 'bob', ['alice', 'carol']);
    alice.views.delete('carol');
    bob.views.delete('carol');
    await alice.call.join();
    expect(alice.call.mode).toBe('idle');
    await bob.call.join();
    await waitFor(() => alice.call.mode === 'p2p' && bob.call.mode === 'p2p', { what: 'p2p' });
    await allSee([alice, bob], 'p2p', 'P2P video both ways');
    expect(alice.call.stats().p2p?.offerer).toBe(true);
    expect(bob.call.stats().p2p?.offerer).toBe(false);
    expect(alice.call.stats().sfu).toBeUndefined();

    // A third joins: migrating_to_sfu while P2P keeps running, then sfu once everyone reported.
    const switchStarted = performance.now();
    const carol = participant(server, 'carol', ['alice', 'bob']);
    alice.views.set('carol', new RenderedVideo(cleanup, 'carol'));
    bob.views.set('carol', new RenderedVideo(cleanup, 'carol'));
    await carol.call.join();
    await waitFor(() => server.mode === 'sfu', { timeoutMs: MEDIA_TIMEOUT_MS, what: 'sfu completed' });
    await allSee([alice, bob, carol], 'sfu', 'everyone on the SFU');
    expect(server.modes.map((m) => m.mode)).toEqual(['p2p', 'migrating_to_sfu', 'sfu']);
    for (const p of [alice, bob, carol]) {
      expect(p.ready.map((r) => r.path)).toEqual(['sfu']);
      expect(p.call.stats().p2p).toBeUndefined();
      expect(p.call.stats().sfu?.consumers).toBe(4);
    }
    const gapAtSwitch = Math.max(
      view(alice, 'bob').longestGapSince(switchStarted),
      view(bob, 'alice').longestGapSince(switchStarted),
    );
    console.info(
      `[trellis-call] P2P→SFU: longest gap ${gapAtSwitch.toFixed(0)} ms, paths ${view(alice, 'bob').paths.join('→')}`,
    );
    expect(view(alice, 'bob').paths).toEqual(['p2p', 'sfu']);
    expect(gapAtSwitch).toBeLessThan(MAX_SWITCH_GAP_MS);

    // Carol leaves: after the hysteresis, migrating_to_p2p builds a fresh P2P connection, then p2p.
    const backStarted = performance.now();
    await carol.call.leave();
    await waitFor(() => server.mode === 'p2p', { timeoutMs: MEDIA_TIMEOUT_MS, what: 'back to p2p' });
    await allSee(
      [alice, bob].map((p) => ({ ...p, views: new Map([...p.views].filter(([of]) => of !== 'carol')) })),
      'p2p',
      'P2P again',
    );
    expect(server.modes.map((m) => m.mode).slice(3)).toEqual(['migrating_to_p2p', 'p2p']);
    expect(alice.call.stats().sfu).toBeUndefined();
    expect(view(alice, 'carol').ended).toBe(true);
    const gapBack = Math.max(
      view(alice, 'bob').longestGapSince(backStarted),
      view(bob, 'alice').longestGapSince(backStarted),
    );
    console.info(
      `[trellis-call] SFU→P2P: longest gap ${gapBack.toFixed(0)} ms, paths ${view(alice, 'bob').paths.join('→')}`,
    );
    expect(view(alice, 'bob').paths).toEqual(['p2p', 'sfu', 'p2p']);
    expect(gapBack).toBeLessThan(MAX_SWITCH_GAP_MS);
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  });

  it('a timed-out migration rolls back to P2P (media never stops) and the retry succeeds', async () => {
    const server = await room({ migrationTimeoutMs: 3_000, retryMs: 300 });
    const alice = participant(server, 'alice', ['bob']);
    const bob = participant(server, 'bob', ['alice']);
    await alice.call.join();
    await bob.call.join();
    await allSee([alice, bob], 'p2p', 'P2P video both ways');
    alice.views.set('carol', new RenderedVideo(cleanup, 'carol'));

    // Carol's reports are lost: the first attempt can only time out.
    server.ignoreReportsFrom.add('carol');
    let atRollback: ReturnType<TrellisCall['stats']> | undefined;
    alice.call.on('mode-changed', (event) => {
      if (event.reason !== 'timed-out') return;
      atRollback = alice.call.stats();
      server.ignoreReportsFrom.clear();
    });
    const started = performance.now();
    const carol = participant(server, 'carol', ['alice', 'bob']);
    await carol.call.join();
    await waitFor(() => atRollback, { timeoutMs: MEDIA_TIMEOUT_MS, what: 'the rollback' });
    expect(atRollback?.mode).toBe('p2p');
    // The half-built SFU path is gone, the P2P connection never went away.
    expect(atRollback?.sfu).toBeUndefined();
    expect(atRollback?.p2p?.connectionState).toBe('connected');
    expect(atRollback?.remotes.bob?.video?.path).toBe('p2p');

    await waitFor(() => server.mode === 'sfu', { timeoutMs: MEDIA_TIMEOUT_MS, what: 'the retry completes' });
    expect(server.modes.map((m) => `${m.mode}:${m.reason}`)).toEqual([
      'p2p:joined',
      'migrating_to_sfu:joined',
      'p2p:timed-out',
      'migrating_to_sfu:retry',
      'sfu:completed',
    ]);
    await allSee([alice, bob], 'sfu', 'everyone on the SFU after the retry');
    // Alice kept seeing Bob throughout: rollback, retry and switch.
    expect(view(alice, 'bob').longestGapSince(started)).toBeLessThan(MAX_SWITCH_GAP_MS);
    expect(alice.ready.map((r) => r.path)).toEqual(['sfu', 'sfu']);
  });

  it('rehome: a participant whose SFU node is lost rebuilds its path and media comes back', async () => {
    const server = await room();
    const ids = ['alice', 'bob', 'carol'];
    const ps = ids.map((id) =>
      participant(
        server,
        id,
        ids.filter((o) => o !== id),
      ),
    );
    for (const p of ps) await p.call.join();
    await waitFor(() => server.mode === 'sfu', { timeoutMs: MEDIA_TIMEOUT_MS, what: 'sfu' });
    await allSee(ps, 'sfu', 'everyone on the SFU');
    const [alice, bob] = ps as [Participant, Participant];
    const before = server.media.requests.filter(
      (r) => r.participantId === 'alice' && r.name === 'createTransport',
    ).length;

    const pathsBefore = view(bob, 'alice').paths.length;
    server.rehome('alice');
    const since = performance.now();
    await waitFor(
      () =>
        view(bob, 'alice').paths.length === pathsBefore + 1 &&
        view(bob, 'alice').framesSince(since) >= 10 &&
        view(alice, 'bob').framesSince(since) >= 10,
      { timeoutMs: MEDIA_TIMEOUT_MS, what: 'media after the rehome' },
    );
    const after = server.media.requests.filter(
      (r) => r.participantId === 'alice' && r.name === 'createTransport',
    ).length;
    expect(after - before).toBe(2);
    expect(alice.call.stats().sfu?.producers).toBe(2);
    // Bob kept showing Alice's last frame and switched to her new producer: no `ended` in between.
    expect(view(bob, 'alice').ended).toBe(false);
    // Alice's view of Bob moved to the consumer on her new transports.
    expect(view(alice, 'bob').paths).toEqual(['p2p', 'sfu', 'sfu']);
  });

  it('resumes after a signaling drop without touching working media', async () => {
    const server = await room();
    const ids = ['alice', 'bob', 'carol'];
    const ps = ids.map((id) =>
      participant(
        server,
        id,
        ids.filter((o) => o !== id),
      ),
    );
    for (const p of ps) await p.call.join();
    await waitFor(() => server.mode === 'sfu', { timeoutMs: MEDIA_TIMEOUT_MS, what: 'sfu' });
    await allSee(ps, 'sfu', 'everyone on the SFU');
    const [alice] = ps as [Participant];
    const requestsBefore = server.media.requests.length;
    const pathsBefore = [...view(alice, 'bob').paths];
    const reconnected: boolean[] = [];
    alice.call.on('reconnected', ({ resumed }) => reconnected.push(resumed));
    const channel = alice.call.signaling as ReturnType<FakeSignaling['channel']>;
    const since = performance.now();
    channel.drop(300);
    await waitFor(() => reconnected.length === 1, { what: 'reconnected' });
    expect(reconnected).toEqual([true]);
    await waitFor(() => view(alice, 'bob').framesSince(since) >= 20, {
      timeoutMs: MEDIA_TIMEOUT_MS,
      what: 'frames',
    });
    // No SFU request at all: transports, producers and consumers were kept.
    expect(server.media.requests.length).toBe(requestsBefore);
    expect(view(alice, 'bob').paths).toEqual(pathsBefore);
    expect(alice.call.state).toBe('joined');
  });
});
