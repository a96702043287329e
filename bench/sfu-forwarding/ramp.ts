// Capacity: one call on a one-worker node gains subscribers step by step until the loss measured at
// the receivers passes the limit (or a consumer cap or time limit is reached).
//
// Only a few "probe" subscribers are read and measured; the rest ("sinks") get the same consumers but
// their transports send to a loopback port nobody listens on, where the kernel drops the packets.
// The worker does the same work for both (it cannot tell), and the load generator, which shares this
// 2-core machine, does not spend a core reading tens of thousands of packets a second: the limit found
// is the SFU's, not the generator's. Loss at the SFU (its input socket overflowing when the worker
// falls behind) hits every consumer of a producer alike, so the probes see it.
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import type { SfuDriver } from './drivers';
import type { CapturedMedia } from './media';
import { addCountedSubscriber, measureWindow, startCall, type Timing, type WindowResult } from './scenario';
import { Traffic } from './traffic';
import { mapLimit, progress, round, sleep } from './util';

export interface RampOptions extends Timing {
  publishers: number;
  probes: number;
  /** Stop adding consumers here. */
  cap: number;
  maxMs: number;
  lossLimitPct: number;
}

export interface RampStep {
  consumers: number;
  loss_pct: number;
  worker_cpu_pct: number;
  /** Estimated from the probes' per-consumer rate times the consumer count. */
  forwarded_packets_per_second: number;
  worker_us_per_forwarded_packet: number;
  sfu_node_process_cpu_pct: number | undefined;
  load_generator_cpu_pct: number;
  machine_busy_pct: number;
  probe_latency_p50_ms: number;
  probe_latency_p95_ms: number;
}

export interface RampResult {
  publishers: number;
  probe_subscribers: number;
  consumers_per_subscriber: number;
  /** Most consumers with loss under the limit, on the node's only worker. */
  consumers_per_worker_below_limit: number;
  /** Where loss passed the limit (confirmed by a second window), or null if it never did. */
  consumers_at_limit: number | null;
  stopped_by: 'loss' | 'cap' | 'time';
  steps: RampStep[];
}

async function unusedPort(): Promise<number> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export async function runRamp(driver: SfuDriver, media: CapturedMedia, o: RampOptions): Promise<RampResult> {
  const deadline = performance.now() + o.maxMs;
  const traffic = new Traffic(media);
  traffic.start();
  const call = await startCall(driver, traffic, `ramp-${Date.now()}`, o.publishers);
  const perSubscriber = call.producerIds.length;
  const steps: RampStep[] = [];
  try {
    for (let i = 0; i < o.probes; i++) await addCountedSubscriber(traffic, call, `probe-${i}`);
    const sink = { ip: '127.0.0.1', port: await unusedPort() };
    let subscribers = o.probes;
    let best = 0;
    let atLimit: number | null = null;
    let stoppedBy: RampResult['stopped_by'] = 'cap';
    const measure = async (): Promise<RampStep> => {
      await sleep(o.warmupMs);
      const step = toStep((await measureWindow([{ driver, traffic }], o))[0]!, subscribers * perSubscriber);
      progress(
        `ramp: ${step.consumers} consumers, loss ${step.loss_pct} %, worker ${step.worker_cpu_pct} % CPU, ` +
          `generator ${step.load_generator_cpu_pct} %, machine ${step.machine_busy_pct} % busy, ` +
          `~${step.forwarded_packets_per_second} packets/s out`,
      );
      steps.push(step);
      return step;
    };
    let step = await measure();
    for (;;) {
      if (step.loss_pct > o.lossLimitPct) {
        // One bad window may be a hiccup of this shared machine: confirm before calling it the limit.
        step = await measure();
        if (step.loss_pct > o.lossLimitPct) {
          atLimit = step.consumers;
          stoppedBy = 'loss';
          break;
        }
      }
      best = Math.max(best, step.consumers);
      if (step.consumers >= o.cap) break;
      if (performance.now() > deadline) {
        stoppedBy = 'time';
        break;
      }
      // Big steps while the worker has room, finer ones as it fills.
      const target = step.worker_cpu_pct < 50 ? 200 : 100;
      const add = Math.max(
        1,
        Math.min(Math.ceil(target / perSubscriber), Math.floor((o.cap - step.consumers) / perSubscriber)),
      );
      const first = subscribers;
      await mapLimit(
        Array.from({ length: add }, (_, i) => first + i),
        4,
        (n) => call.room.addSubscriber(`sink-${n}`, sink, call.producerIds),
      );
      subscribers += add;
      step = await measure();
    }
    return {
      publishers: o.publishers,
      probe_subscribers: o.probes,
      consumers_per_subscriber: perSubscriber,
      consumers_per_worker_below_limit: best,
      consumers_at_limit: atLimit,
      stopped_by: stoppedBy,
      steps,
    };
  } finally {
    await traffic.close();
    await call.room.close().catch(() => {});
  }
}

function toStep(w: WindowResult, consumers: number): RampStep {
  const perConsumer = w.packets_per_second / Math.max(1, w.consumers);
  const forwarded = perConsumer * consumers;
  const workerUs = (w.worker_cpu.pct_of_core / 100) * 1e6;
  return {
    consumers,
    loss_pct: w.loss_pct,
    worker_cpu_pct: w.worker_cpu.pct_of_core,
    forwarded_packets_per_second: Math.round(forwarded),
    worker_us_per_forwarded_packet: round(forwarded ? workerUs / forwarded : Number.NaN, 2),
    sfu_node_process_cpu_pct: w.sfu_node_process_cpu_pct,
    load_generator_cpu_pct: w.load_generator_cpu_pct,
    machine_busy_pct: w.machine_cpu.busy_pct,
    probe_latency_p50_ms: w.latency.p50_ms,
    probe_latency_p95_ms: w.latency.p95_ms,
  };
}
