// Join-to-first-frame: a call already on the SFU (two publishers of 640x360 VP8 and a third who
// only watches), and a new participant who connects, joins, loads a Device, makes a recv transport,
// consumes both videos and resumes them. Timed from just before its connect to the first decoded
// frame of either video; the joiner then leaves and the next trial starts.
import { round, sleep } from '../sfu-forwarding/util';
import { SignalingPeer, until } from './peer';
import { Failures, type Summary, summarize } from './stats';
import { failureKind } from './wire';

type Peer = SignalingPeer;

export const TARGET_P95_MS = 500;
const VIDEO = { width: 640, height: 360, fps: 30 };

export interface FirstFrameOptions {
  url: string;
  roomId: string;
  token: (identity: string) => Promise<string>;
  trials: number;
  maxMs: number;
  /** Per trial: no first frame within this is a failed trial. */
  trialTimeoutMs: number;
  /** Uncounted joiners before the measured ones. */
  warmup: number;
  /** Between the call's set-up and the first joiner. */
  settleMs: number;
  /** Between one joiner leaving and the next connecting. */
  pauseMs: number;
  progress: (message: string) => void;
}

export interface FirstFrameResult {
  call: {
    room_id: string;
    participants_before_join: number;
    publishers: number;
    video: string;
    mode_before_trials: string;
    setup_s: number;
    setup_mode_events: string[];
  };
  warmup_trials: number;
  pause_between_trials_ms: number;
  trials: number;
  completed: number;
  failures: ReturnType<Failures['toJSON']>;
  first_frame: Summary;
  /** Every completed trial's join-to-first-frame, in order (ms). */
  first_frame_samples_ms: number[];
  /** Until every published video had a decoded frame. */
  all_videos: Summary;
  /** Where the time goes, each step's own duration (p50 / p95 over the completed trials). */
  steps_ms: Record<string, { p50: number; p95: number }>;
  /** The call mode each joiner's join ack reported. */
  join_modes: Record<string, number>;
  target_p95_ms: number;
  pass: boolean;
  note: string;
}

/** Builds the call: 3 participants, 2 publishing; every one reports the SFU path once it sees frames. */
async function setUpCall(o: FirstFrameOptions, peers: Peer[]): Promise<{ mode: string; events: string[] }> {
  for (const identity of ['pub-a', 'pub-b', 'watcher-c']) {
    peers.push(await SignalingPeer.join(o.url, await o.token(identity), o.roomId));
  }
  const [a, b, c] = peers as [Peer, Peer, Peer];
  const third = c.joined.room;
  o.progress(`call set up with 3 participants: mode ${third.mode} (transition ${third.transition?.id})`);
  if (third.mode !== 'migrating_to_sfu' && third.mode !== 'sfu') {
    throw new Error(`a 3rd join left the call in ${third.mode}, expected migrating_to_sfu`);
  }
  for (const peer of peers) await peer.loadDevice();
  const producers = new Map<Peer, string>();
  for (const pub of [a, b]) producers.set(pub, await pub.publishVideo(VIDEO));
  // Each participant receives every other one's video before it reports the SFU path ready.
  for (const peer of peers) {
    const others = [...producers].filter(([p]) => p !== peer).map(([, id]) => id);
    const consumed = await Promise.all(others.map((id) => peer.consumeVideo(id)));
    await until(() => consumed.every((c) => c.frames.frames > 0), 20_000, `${peer.identity}'s first frames`);
  }
  const room = await a.getRoom();
  const transitionId = room.transition?.id;
  if (room.mode === 'migrating_to_sfu' && transitionId) {
    for (const peer of peers) {
      const ready = await peer.request<{ mode: string }>('pathReady', { transitionId, path: 'sfu' });
      o.progress(`${peer.identity} reported the sfu path ready: mode now ${ready.mode}`);
    }
  }
  // Their decoders stop: this process's CPU goes to the joiners (the senders keep encoding).
  for (const peer of peers) peer.stopConsuming();
  let settled = await a.getRoom();
  for (let i = 0; i < 100 && settled.mode !== 'sfu'; i++) {
    await sleep(100);
    settled = await a.getRoom();
  }
  if (settled.mode !== 'sfu') throw new Error(`the call is ${settled.mode} after every path report, not sfu`);
  const events = a.modeEvents.map((e) => `${e.previous}->${e.mode} (${e.reason})`);
  return { mode: settled.mode, events };
}

export async function runFirstFrame(o: FirstFrameOptions): Promise<FirstFrameResult> {
  const setupStarted = performance.now();
  const peers: Peer[] = [];
  const failures = new Failures();
  const firstMs: number[] = [];
  const allMs: number[] = [];
  const steps = new Map<string, number[]>();
  const joinModes = new Map<string, number>();
  let trials = 0;
  try {
    const { mode, events } = await setUpCall(o, peers);
    const setupS = round((performance.now() - setupStarted) / 1000, 1);
    o.progress(`call is ${mode} after ${setupS} s; ${o.trials} joiners, one at a time`);
    // The call runs a moment before anyone joins: the setup's own keyframes are not the joiners'.
    await sleep(o.settleMs);
    const deadline = Date.now() + o.maxMs;
    // Warm-up joiners first (not counted): the server's and this process's code paths get compiled.
    for (let w = 0; w < o.warmup && Date.now() < deadline; w++) {
      try {
        await oneTrial(o, await o.token(`warmup-${w}`));
      } catch (error) {
        failures.add(`warmup:${failureKind(error)}`, error);
      }
      await sleep(o.pauseMs);
    }
    for (; trials < o.trials && Date.now() < deadline; trials++) {
      const token = await o.token(`joiner-${trials}`);
      try {
        const t = await oneTrial(o, token);
        firstMs.push(t.first);
        allMs.push(t.all);
        for (const [step, ms] of Object.entries(t.steps)) {
          if (!steps.has(step)) steps.set(step, []);
          steps.get(step)!.push(ms);
        }
        joinModes.set(t.mode, (joinModes.get(t.mode) ?? 0) + 1);
        const detail = Object.entries(t.steps).map(([step, ms]) => `${step} ${round(ms, 1)}`);
        o.progress(`trial ${trials}: first frame ${round(t.first, 1)} ms (${detail.join(', ')})`);
      } catch (error) {
        failures.add(failureKind(error), error);
        o.progress(`trial ${trials} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      await sleep(o.pauseMs);
    }
    const first = summarize(firstMs);
    return {
      call: {
        room_id: o.roomId,
        participants_before_join: peers.length,
        publishers: 2,
        video: `VP8 ${VIDEO.width}x${VIDEO.height} ${VIDEO.fps} fps (synthetic, libwebrtc encoder)`,
        mode_before_trials: mode,
        setup_s: setupS,
        setup_mode_events: events,
      },
      warmup_trials: o.warmup,
      pause_between_trials_ms: o.pauseMs,
      trials,
      completed: firstMs.length,
      failures: failures.toJSON(),
      first_frame: first,
      first_frame_samples_ms: firstMs.map((ms) => round(ms, 1)),
      all_videos: summarize(allMs),
      steps_ms: Object.fromEntries(
        [...steps].map(([step, ms]) => {
          const s = summarize(ms);
          return [step, { p50: s.p50_ms, p95: s.p95_ms }];
        }),
      ),
      join_modes: Object.fromEntries(joinModes),
      note:
        'Joiners are spaced by pause_between_trials_ms. Measured with --trial-pause-ms 0 (keyframe ' +
        'requests ~100 ms apart): ~1.1 s to the first frame instead of ~0.1 s. The publishing libwebrtc ' +
        'ignores a keyframe request within 300 ms of the last one it honoured (kMinKeyframeSendIntervalMs) ' +
        "and mediasoup's KeyFrameRequestManager asks again only after 1 s.",
      target_p95_ms: TARGET_P95_MS,
      pass: trials > 0 && firstMs.length === trials && first.p95_ms <= TARGET_P95_MS,
    };
  } finally {
    await Promise.all(peers.map((p) => p.close()));
  }
}

async function oneTrial(
  o: FirstFrameOptions,
  token: string,
): Promise<{ first: number; all: number; mode: string; steps: Record<string, number> }> {
  const marks: { connected?: number; joined?: number; room?: number } = {};
  const t0 = performance.now();
  let peer: Peer | undefined;
  try {
    peer = await SignalingPeer.join(o.url, token, o.roomId, { marks });
    const videos = peer.joined.room.producers.filter((p) => p.kind === 'video');
    if (videos.length === 0) throw new Error(`the join's room snapshot lists no video producer`);
    await peer.loadDevice(marks);
    const loaded = performance.now();
    await peer.createTransport('recv');
    const transported = performance.now();
    const consumed = await Promise.all(videos.map((v) => peer!.consumeVideo(v.id)));
    const resumed = performance.now();
    await until(() => consumed.some((c) => c.frames.frames > 0), o.trialTimeoutMs, 'a first frame');
    const firstOf = consumed
      .filter((c) => c.frames.frames > 0)
      .sort((x, y) => x.frames.timestamps[0]! - y.frames.timestamps[0]!)[0]!;
    const firstAt = firstOf.frames.timestamps[0]!;
    await until(() => consumed.every((c) => c.frames.frames > 0), o.trialTimeoutMs, 'every video');
    const allAt = Math.max(...consumed.map((c) => c.frames.timestamps[0]!));
    const connected = marks.connected!;
    const joined = marks.joined!;
    const room = marks.room!;
    return {
      first: firstAt - t0,
      all: allAt - t0,
      mode: peer.joined.room.mode,
      steps: {
        connect: connected - t0,
        join: joined - connected,
        get_room: room - joined,
        device_load: loaded - room,
        create_transport: transported - loaded,
        consume_and_resume: resumed - transported,
        resume_ack_to_first_frame: firstAt - firstOf.resumedAt,
      },
    };
  } finally {
    await peer?.close();
  }
}
