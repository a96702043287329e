// One measured configuration: calls × (publishers → subscribers) through one driver, a warm-up that
// covers a key frame, then a window in which forwarding, loss, latency and CPU are measured.
import { randomInt } from 'node:crypto';
import type { DriverRoom, SfuDriver } from './drivers';
import type { CapturedMedia } from './media';
import { Pacer, type Publisher, type Subscriber, Traffic } from './traffic';
import {
  type CpuSample,
  cpuMeter,
  type MachineCpu,
  machineCpuMeter,
  mapLimit,
  round,
  selfCpuMeter,
  sleep,
} from './util';

export interface Topology {
  calls: number;
  publishers: number;
  subscribers: number;
}

export interface Timing {
  warmupMs: number;
  windowMs: number;
  /** After the window: packets sent inside it that are still in flight. */
  graceMs: number;
}

/** Each publisher starts elsewhere in the clip, so key frames (and their bursts) do not line up. */
export const offsetFor = (index: number): number => (index * 1_234.567) % 20_000;
export const randomSsrc = (): number => randomInt(1, 0xffff_ffff);

export interface Call {
  room: DriverRoom;
  publishers: Publisher[];
  producerIds: string[];
  /** Producer id → the out-stream whose packets it carries. */
  sources: Map<string, Publisher['video']>;
}

/** A room with `publishers` replaying the clip into it (they start sending at once). */
export async function startCall(
  driver: SfuDriver,
  traffic: Traffic,
  roomId: string,
  publishers: number,
  offsetBase = 0,
): Promise<Call> {
  const room = await driver.createRoom(roomId);
  const call: Call = { room, publishers: [], producerIds: [], sources: new Map() };
  await mapLimit(
    Array.from({ length: publishers }, (_, i) => i),
    8,
    async (i) => {
      const ssrcs = { video: randomSsrc(), audio: randomSsrc() };
      const produced = await room.addPublisher(`pub-${i}`, ssrcs);
      const publisher = await traffic.addPublisher(produced.remote, ssrcs, offsetFor(offsetBase + i));
      call.publishers.push(publisher);
      call.producerIds.push(produced.producerIds.video, produced.producerIds.audio);
      call.sources.set(produced.producerIds.video, publisher.video);
      call.sources.set(produced.producerIds.audio, publisher.audio);
    },
  );
  return call;
}

/** A subscriber of every producer of `call`, counted by `traffic`. */
export async function addCountedSubscriber(
  traffic: Traffic,
  call: Call,
  peerId: string,
): Promise<Subscriber> {
  const sub = await traffic.addSubscriber();
  await call.room.addSubscriber(
    peerId,
    { ip: '127.0.0.1', port: sub.port },
    call.producerIds,
    (producerId, ssrc) => sub.expect(ssrc, call.sources.get(producerId)!, call.room.roomId),
  );
  return sub;
}

export interface WindowResult {
  window_s: number;
  consumers: number;
  forwarded_packets: number;
  packets_per_second: number;
  loss_pct: number;
  worst_consumer_loss_pct: number;
  consumers_over_1pct_loss: number;
  latency: ReturnType<Traffic['latency']['summary']>;
  worker_cpu: {
    pct_of_core: number;
    /** From /proc/<pid>/stat (10 ms ticks): the stated method. */
    us_per_forwarded_packet: number;
    /** The same from per-thread schedstat (ns): a finer check of the above. */
    us_per_forwarded_packet_schedstat: number;
    workers: number;
  };
  sfu_node_process_cpu_pct?: number;
  load_generator_cpu_pct: number;
  machine_cpu: MachineCpu;
  sent_packets_per_second: number;
  odd_packets: Traffic['odd'];
  per_call_loss_pct?: Record<string, number>;
}

export interface Side {
  driver: SfuDriver;
  traffic: Traffic;
}

/**
 * Opens one window on every side at once, waits, closes them, and sums what each side's receivers
 * counted. The load generator's CPU is this process's, shared by the sides.
 */
export async function measureWindow(
  sides: readonly Side[],
  timing: Timing,
  opts: { perCall?: boolean } = {},
): Promise<WindowResult[]> {
  const meters = await Promise.all(
    sides.map(async ({ driver }) => {
      const workers = await driver.workerPids();
      return {
        workers: workers.length,
        worker: cpuMeter(workers),
        side: driver.sidePids.length ? cpuMeter(driver.sidePids) : undefined,
      };
    }),
  );
  const machine = machineCpuMeter();
  const self = selfCpuMeter();
  for (const { traffic } of sides) traffic.openWindow();
  await sleep(timing.windowMs);
  const seconds = sides.map(({ traffic }) => traffic.closeWindow());
  const cpu = meters.map((m) => ({ workers: m.workers, worker: m.worker.stop(), side: m.side?.stop() }));
  const generator = self.stop();
  const busy = machine.stop();
  await sleep(timing.graceMs);
  return sides.map(({ traffic }, i) =>
    summarize(traffic, seconds[i]!, cpu[i]!, generator.pctOfCore, busy, opts.perCall ?? false),
  );
}

function summarize(
  traffic: Traffic,
  seconds: number,
  cpu: { workers: number; worker: CpuSample; side: CpuSample | undefined },
  generatorPct: number,
  machine: MachineCpu,
  perCall: boolean,
): WindowResult {
  let expected = 0;
  let received = 0;
  let worst = 0;
  let over = 0;
  const calls = new Map<string, { expected: number; received: number }>();
  for (const c of traffic.consumers) {
    const exp = c.source.expected;
    expected += exp;
    received += c.received;
    const loss = exp ? Math.max(0, 1 - c.received / exp) : 0;
    worst = Math.max(worst, loss);
    if (loss > 0.01) over++;
    const call = calls.get(c.call) ?? { expected: 0, received: 0 };
    call.expected += exp;
    call.received += c.received;
    calls.set(c.call, call);
  }
  const sent = traffic.publishers.reduce((n, p) => n + p.video.expected + p.audio.expected, 0);
  const pct = (e: number, r: number) => round(e ? 100 * Math.max(0, 1 - r / e) : 0, 3);
  const perPacket = (us: number) => round(received ? us / received : Number.NaN, 2);
  return {
    window_s: round(seconds, 2),
    consumers: traffic.consumers.length,
    forwarded_packets: received,
    packets_per_second: Math.round(received / seconds),
    loss_pct: pct(expected, received),
    worst_consumer_loss_pct: round(100 * worst, 3),
    consumers_over_1pct_loss: over,
    latency: traffic.latency.summary(),
    worker_cpu: {
      pct_of_core: round(cpu.worker.pctOfCore, 1),
      us_per_forwarded_packet: perPacket(cpu.worker.us),
      us_per_forwarded_packet_schedstat: perPacket(cpu.worker.preciseUs),
      workers: cpu.workers,
    },
    ...(cpu.side ? { sfu_node_process_cpu_pct: round(cpu.side.pctOfCore, 1) } : {}),
    load_generator_cpu_pct: round(generatorPct, 1),
    machine_cpu: machine,
    sent_packets_per_second: Math.round(sent / seconds),
    odd_packets: { ...traffic.odd },
    ...(perCall
      ? {
          per_call_loss_pct: Object.fromEntries(
            [...calls].map(([id, c]) => [id, pct(c.expected, c.received)]),
          ),
        }
      : {}),
  };
}

/**
 * Builds the topology on every driver, all fed by one pacer (the same packets at the same instants),
 * warms up, and measures one window in which all sides run side by side; then tears down.
 */
export async function runConfiguration(
  drivers: readonly SfuDriver[],
  media: CapturedMedia,
  topology: Topology,
  timing: Timing,
  label: string,
): Promise<Array<WindowResult & { setup_s: number }>> {
  const pacer = new Pacer();
  const sides = drivers.map((driver) => ({
    driver,
    traffic: new Traffic(media, pacer),
    calls: [] as Call[],
  }));
  try {
    const setup: number[] = [];
    for (const side of sides) {
      const started = performance.now();
      side.traffic.start();
      for (let c = 0; c < topology.calls; c++) {
        const roomId = `${label}-${side.driver.name}-call${c}`;
        side.calls.push(
          await startCall(side.driver, side.traffic, roomId, topology.publishers, c * topology.publishers),
        );
      }
      await mapLimit(
        side.calls.flatMap((call) => Array.from({ length: topology.subscribers }, (_, s) => ({ call, s }))),
        4,
        ({ call, s }) => addCountedSubscriber(side.traffic, call, `sub-${s}`),
      );
      setup.push((performance.now() - started) / 1000);
    }
    await sleep(timing.warmupMs);
    const results = await measureWindow(sides, timing, { perCall: topology.calls > 1 });
    return results.map((r, i) => ({ ...r, setup_s: round(setup[i]!, 2) }));
  } finally {
    for (const side of sides) {
      await side.traffic.close();
      await Promise.all(side.calls.map((call) => call.room.close().catch(() => {})));
    }
  }
}
