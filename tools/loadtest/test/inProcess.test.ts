import { DEV_JWT_SECRET } from '@trellis/config';
import { mintToken } from '@trellis/signaling/mintToken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type InProcessSignaling,
  type Stack,
  startSignaling,
  startStack,
} from '../../../services/signaling/test/support/stack';
import { LoadOptions } from '../src/LoadOptions';
import { LoadParticipant } from '../src/LoadParticipant';
import { planParticipants } from '../src/LoadRun';
import { loadMediaClip } from '../src/media/MediaClip';

/**
 * The participants of `trellis load` without the worker processes around them (load.test.ts runs
 * those): ready-made tokens (`--token`), a grid of one tile (`--subscribe last-1`), and the
 * refusals an operator meets first.
 */
describe('load participants in this process, with given tokens and a one-tile grid', () => {
  let stack: Stack;
  let signaling: InProcessSignaling;

  beforeAll(async () => {
    stack = await startStack({ sfuNodes: 1 });
    signaling = await startSignaling(stack.redis.url);
  }, 60_000);

  afterAll(async () => {
    await signaling?.close();
    await stack?.close();
  });

  const tokenFor = (room: string, identity: string) =>
    mintToken({
      secret: DEV_JWT_SECRET,
      issuer: 'trellis',
      audience: 'trellis',
      identity,
      grant: { room },
      ttlSeconds: 600,
    });

  it('refuses a call of two given tokens: a 1:1 call never reaches the SFU', async () => {
    const tokens = await Promise.all(['a', 'b'].map((id) => tokenFor('pair', id)));
    const options = LoadOptions.parse({ url: signaling.url, tokens });
    await expect(planParticipants(options)).rejects.toThrow(/needs 3 or more/);
  });

  it('three participants: everyone gets everyone’s audio, only the newest publisher’s video plays', async () => {
    const room = `grid-${Date.now().toString(36)}`;
    const tokens = await Promise.all(['p0', 'p1', 'p2'].map((id) => tokenFor(room, id)));
    const specs = await planParticipants(
      LoadOptions.parse({ url: signaling.url, tokens, subscribe: 'last-1', videoLayer: 0 }),
    );
    expect(specs.map((s) => [s.roomId, s.identity, s.speaking])).toEqual([
      [room, 'p0', true],
      [room, 'p1', true],
      [room, 'p2', false],
    ]);
    const clip = loadMediaClip();
    const participants = specs.map((spec) => new LoadParticipant(spec, clip));
    try {
      for (const p of participants) await p.join();
      // Enough for the migration to the SFU and a few seconds of media on it.
      await new Promise((r) => setTimeout(r, 8_000));
      for (const p of participants) p.quiesce();
      await new Promise((r) => setTimeout(r, 1_000));
      for (const result of participants.map((p) => p.result())) {
        const who = result.identity;
        expect(result.joined, who).toBe(true);
        expect(result.errors, who).toEqual({});
        expect(result.modes.at(-1), who).toBe('sfu');
        const onSfu = result.subscriptions.filter((s) => s.consumerId);
        const audio = onSfu.filter((s) => s.kind === 'audio');
        const video = onSfu.filter((s) => s.kind === 'video');
        // Audio from both others, whatever the grid.
        expect(new Set(audio.filter((s) => s.packets > 0).map((s) => s.publisherId)).size, who).toBe(2);
        // One tile: exactly one of the two videos is resumed and decoding, the other paused.
        const playing = video.filter((s) => !s.paused);
        expect(playing.length, who).toBe(1);
        expect(playing[0]?.frames, who).toBeGreaterThan(30);
        expect(video.filter((s) => s.paused).length, who).toBe(1);
        expect(result.sent.videoPackets, who).toBeGreaterThan(0);
      }
    } finally {
      await Promise.all(participants.map((p) => p.leave()));
    }
  }, 60_000);
});
