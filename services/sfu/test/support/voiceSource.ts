import { performance } from 'node:perf_hooks';
import { installWrtcGlobals, type WrtcMediaStreamTrack } from '@trellis/testkit/media';

export interface VoiceSource {
  readonly track: WrtcMediaStreamTrack;
  readonly talking: boolean;
  /** Starts or stops talking on the same track (as a participant does, without renegotiating). */
  setTalking(talking: boolean): void;
  stop(): void;
}

const SAMPLE_RATE = 48_000;
const FRAME_MS = 10;
const SAMPLES_PER_FRAME = (SAMPLE_RATE * FRAME_MS) / 1000;
// Phrases: a ~150 ms breath near the floor, then ~850 ms of voice whose loudness wobbles. The
// period is deliberately not a multiple of the room's 300 ms observer interval, so the detector's
// samples don't keep landing on the breaths.
const PHRASE_MS = 1000;
const BREATH_MS = 150;
const WOBBLE_MS = 170;
const PEAK = 0.5;
// A faint floor, not digital silence: the detector adapts its noise floor only from packets with a
// non-zero level, and Opus DTX would stop sending true silence altogether.
const FLOOR = 0.01;

/**
 * A live mono track that a level-based speaker detector takes for speech. mediasoup's
 * ActiveSpeakerObserver (Jitsi's dominant-speaker identification) judges each speaker's audio
 * level against that speaker's own noise floor (the quietest non-silent level it has seen), so a
 * steady tone, however loud, becomes the floor and counts as silence; and it looks at the most
 * recent 20 ms, 100 ms and 1 s of levels at each sample, so short syllables are easily missed.
 * Here a voice talks in phrases broken by quiet breaths; not talking sends true silence (a quiet
 * participant's mic, which DTX turns into almost no packets).
 */
export function createVoiceSource(opts: { talking: boolean; frequencyHz?: number }): VoiceSource {
  const { frequencyHz = 220 } = opts;
  const { nonstandard } = installWrtcGlobals();
  const source = new nonstandard.RTCAudioSource();
  const track = source.createTrack();
  const samples = new Int16Array(SAMPLES_PER_FRAME);
  let talking = opts.talking;
  let sampleIndex = 0;
  let talkingSince = 0;

  const pushFrame = (): void => {
    for (let i = 0; i < SAMPLES_PER_FRAME; i++, sampleIndex++) {
      let amplitude = 0;
      if (talking) {
        // Each stretch of talking starts with a breath, so the detector learns the floor at once.
        const ms = ((sampleIndex - talkingSince) * 1000) / SAMPLE_RATE;
        const breath = ms % PHRASE_MS < BREATH_MS;
        amplitude = breath ? FLOOR : PEAK * (0.7 + 0.3 * Math.sin((2 * Math.PI * ms) / WOBBLE_MS));
      }
      const phase = (2 * Math.PI * frequencyHz * sampleIndex) / SAMPLE_RATE;
      samples[i] = Math.round(amplitude * 32_767 * Math.sin(phase));
    }
    source.onData({
      samples,
      sampleRate: SAMPLE_RATE,
      bitsPerSample: 16,
      channelCount: 1,
      numberOfFrames: SAMPLES_PER_FRAME,
    });
  };

  // Paced by the wall clock (timers drift late under load), with a cap so a stalled event loop
  // doesn't turn into a burst of seconds of audio.
  const started = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor((performance.now() - started) / FRAME_MS) - sent;
    for (let i = 0; i < Math.min(due, 10); i++) pushFrame();
    sent += Math.max(due, 0);
  }, FRAME_MS);
  timer.unref();

  return {
    track,
    get talking() {
      return talking;
    },
    setTalking(next) {
      if (next && !talking) talkingSince = sampleIndex;
      talking = next;
    },
    stop() {
      clearInterval(timer);
      if (track.readyState !== 'ended') track.stop();
    },
  };
}
