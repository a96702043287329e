// A worker process of `trellis load`: runs its share of participants and reports to the coordinator
// over IPC. Spawned by LoadRun; never run by hand.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LoadParticipant } from './LoadParticipant';
import { loadMediaClip } from './media/MediaClip';
import { type FromWorker, type Progress, ToWorker } from './workerMessages';

/** After publishing stops, how long in-flight packets (and their retransmissions) get to arrive. */
const DRAIN_MS = 1_500;
/** Without a `leave` from the coordinator this long after reporting, leave anyway. */
const LEAVE_FALLBACK_MS = 30_000;

// Event-loop delay: how late this process ran its timers and socket callbacks (frame arrival times
// are taken on this loop, so a starved worker sees freezes the SFU did not cause).
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const cpuAtStart = process.cpuUsage();
// Stalls of this loop (epoch ms): a frame gap that coincides with one is the generator's, not the
// cluster's (bench:chaos reports both).
const STALL_MS = 100;
const stalls: Array<[number, number]> = [];
let lastTick = Date.now();
const stallWatch = setInterval(() => {
  const now = Date.now();
  if (now - lastTick > STALL_MS && stalls.length < 500) stalls.push([lastTick, now]);
  lastTick = now;
}, 20);

const send = (message: FromWorker) => {
  if (process.connected) process.send?.(message);
};
const clip = loadMediaClip();
const participants: LoadParticipant[] = [];
const joinTimers: Array<ReturnType<typeof setTimeout>> = [];
let failed = 0;
let quiescing: Promise<void> | undefined;
let leaving: Promise<void> | undefined;
let endTimer: ReturnType<typeof setTimeout> | undefined;

function progress(): Progress {
  const p: Progress = { joined: 0, failed, packets: 0, bytes: 0, expected: 0, lost: 0, freezes: 0 };
  for (const participant of participants) {
    if (participant.joined) p.joined += 1;
    for (const s of participant.result().subscriptions) {
      p.packets += s.packets;
      p.bytes += s.bytes;
      p.expected += s.expected;
      p.lost += s.lost;
      p.freezes += s.freezes;
    }
  }
  return p;
}

function quiesce(): Promise<void> {
  quiescing ??= (async () => {
    for (const t of joinTimers) clearTimeout(t);
    if (endTimer) clearTimeout(endTimer);
    for (const p of participants) p.quiesce();
    await new Promise((r) => setTimeout(r, DRAIN_MS));
    clearInterval(ticker);
    clearInterval(stallWatch);
    loopDelay.disable();
    const cpu = process.cpuUsage(cpuAtStart);
    send({
      type: 'results',
      results: participants.map((p) => p.result()),
      health: {
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
        eventLoopDelayMaxMs: Math.round(loopDelay.max / 1e6),
        stalls,
      },
    });
    setTimeout(() => void leave(), LEAVE_FALLBACK_MS).unref();
  })();
  return quiescing;
}

function leave(): Promise<void> {
  leaving ??= (async () => {
    await quiesce();
    await Promise.all(participants.map((p) => p.leave()));
    send({ type: 'left' });
    // Let the IPC message flush, then go: nothing else should keep this process.
    setTimeout(() => process.exit(0), 200).unref();
    if (process.connected) process.disconnect();
  })();
  return leaving;
}

const ticker = setInterval(() => send({ type: 'progress', progress: progress() }), 1_000);

process.on('message', (raw: unknown) => {
  const parsed = ToWorker.safeParse(raw);
  if (!parsed.success) {
    send({ type: 'fatal', message: `bad message from coordinator: ${parsed.error.message}` });
    return;
  }
  const message = parsed.data;
  if (message.type === 'quiesce') return void quiesce();
  if (message.type === 'leave') return void leave();
  for (const { at, spec } of message.joins) {
    joinTimers.push(
      setTimeout(
        () => {
          const participant = new LoadParticipant(spec, clip);
          participants.push(participant);
          participant.join().catch((error: unknown) => {
            failed += 1;
            participant.noteJoinFailure(error);
          });
        },
        Math.max(0, at - Date.now()),
      ),
    );
  }
  endTimer = setTimeout(() => void quiesce(), Math.max(0, message.endAt - Date.now()));
});
// The coordinator is gone (killed, Ctrl-C): clean up our participants rather than linger.
process.on('disconnect', () => void leave());
process.on('SIGINT', () => void leave());
process.on('SIGTERM', () => void leave());
send({ type: 'ready' });
