// Active speaker through a real sfu process: three wrtc participants publish Opus; one talks (a
// speech-like signal, see support/voiceSource.ts) while two are silent, and the room's
// ActiveSpeaker events must name the talker, then follow the talking when it moves to another
// participant (same producers: the sources start and stop talking, as people do).
import { performance } from 'node:perf_hooks';
import { ActiveSpeaker } from '@trellis/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SfuHarness, startSfuHarness, uid } from './support/harness';

// mediasoup's dominant-speaker algorithm weighs speech activity over windows up to ~1 s; seconds
// are plenty, and only reached when something is broken.
const SPEAKER_TIMEOUT_MS = 15_000;

describe('sfu: active speaker', () => {
  let h: SfuHarness;

  beforeAll(async () => {
    h = await startSfuHarness('active-speaker');
  }, 45_000);

  afterAll(async () => {
    await h?.close();
  }, 30_000);

  it('ActiveSpeaker events follow the participant who is talking', async () => {
    const roomId = uid('room');
    const [alice, bob, carol] = await Promise.all(
      ['alice', 'bob', 'carol'].map((n) => h.join(roomId, uid(n))),
    );
    // The silent ones publish first: mediasoup names a lone producer dominant whatever its level,
    // so the talker has to win on activity, not on being first.
    const bobVoice = await bob!.publishVoice({ talking: false });
    await carol!.publishVoice({ talking: false });
    const aliceVoice = await alice!.publishVoice({ talking: true });
    const published = performance.now();
    const inRoom = (e: { roomId: string }) => e.roomId === roomId;
    const named = (peer: { peerId: string }) => (e: { roomId: string; peerId: string }) =>
      inRoom(e) && e.peerId === peer.peerId;

    const aliceNamed = await h.events.next(ActiveSpeaker, named(alice!), {
      timeoutMs: SPEAKER_TIMEOUT_MS,
      what: 'ActiveSpeaker naming alice (the one talking)',
    });
    const aliceAfterMs = performance.now() - published;
    expect(aliceNamed).toMatchObject({ nodeId: h.nodeId, producerId: aliceVoice.producerId });

    /** `speaker` starts talking as `quiet` stops; resolves with ms until the events name `speaker`. */
    const handOver = async (
      quiet: typeof aliceVoice,
      speaker: { peerId: string },
      talking: typeof aliceVoice,
    ) => {
      const earlier = h.events.all(ActiveSpeaker, named(speaker)).length;
      const started = performance.now();
      quiet.source.setTalking(false);
      talking.source.setTalking(true);
      const events = await h.events.waitForCount(ActiveSpeaker, named(speaker), earlier + 1, {
        timeoutMs: SPEAKER_TIMEOUT_MS,
        what: `ActiveSpeaker naming ${speaker.peerId} once they talk`,
      });
      expect(events.at(-1)).toMatchObject({ producerId: talking.producerId });
      return performance.now() - started;
    };
    const bobAfterMs = await handOver(aliceVoice, bob!, bobVoice);
    const aliceAgainMs = await handOver(bobVoice, alice!, aliceVoice);

    const sequence = h.events.all(ActiveSpeaker, inRoom).map((e) => e.peerId);
    console.info(
      `[active-speaker] alice named ${aliceAfterMs.toFixed(0)} ms after publishing, bob ` +
        `${bobAfterMs.toFixed(0)} ms after he took over, alice ${aliceAgainMs.toFixed(0)} ms after she took back; sequence: ${sequence.map((p) => p.split('-')[0]).join(' → ')}`,
    );
    // Carol never said a word: once anyone talked, she was never named.
    expect(sequence.slice(sequence.indexOf(alice!.peerId))).not.toContain(carol!.peerId);
  }, 45_000);
});
